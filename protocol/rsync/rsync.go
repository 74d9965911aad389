// Package rsync talks to rsync daemons (rsyncd, port 873). The daemon
// greets with "@RSYNCD: <protocol>[ <digests>]"; we answer with our own
// greeting and ask for the module list ("#list"), which public daemons show
// to anyone. The protocol number gives the rsync release series (30: 3.0.x,
// 31: 3.1.0 to 3.2.x, 32: 3.3+), and the digest list appears from 3.2.0.
//
// Fields (all strings):
//
//	rsync.protocol  the server's protocol version ("31.0", "32.0")
//	rsync.digests   the checksum digests it offers ("sha512 sha256 sha1 md5 md4")
//	rsync.motd      message-of-the-day lines, joined with "\n" (capped)
//	rsync.modules   listed module names, joined with "," (capped at 64)
//	rsync.error     an "@ERROR" line's text, if the daemon refused
package rsync

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Module is the rsync daemon module.
type Module struct{}

// New returns the rsync module.
func New() protocol.Module { return Module{} }

// Info describes the module.
func (Module) Info() protocol.Info {
	return protocol.Info{Name: "rsync", Service: "rsync", Ports: []int{873}, ServerFirst: true, Priority: 50}
}

const greetingPrefix = "@RSYNCD: "

// Claim accepts the rsync daemon greeting.
func (Module) Claim(banner []byte) bool {
	return bytes.HasPrefix(banner, []byte(greetingPrefix))
}

// request is our greeting and the list request. We announce protocol 31
// (rsync 3.1+), which every daemon since 2.6 accepts by falling back to the
// lower of the two.
var request = []byte("@RSYNCD: 31.0\n#list\n")

const (
	maxModules = 64
	maxMOTD    = 2048
)

var greetingRE = regexp.MustCompile(`^@RSYNCD: (\d{1,3}(?:\.\d{1,3})?)((?: [\w-]{1,32}){0,16})\r?$`)

// Listing is what a daemon said.
type Listing struct {
	Protocol, Digests string
	MOTD              []string
	Modules           []string
	Error             string
	Exit              bool // "@RSYNCD: EXIT" seen: the listing is complete
}

// Parse reads a daemon's output: greeting line, then message-of-the-day
// lines, module lines ("name<pad>\tcomment") and the final "@RSYNCD: EXIT"
// or "@ERROR: ...". ok is false when the first line is not a greeting.
func Parse(b []byte) (Listing, bool) {
	var l Listing
	lines := strings.Split(string(b), "\n")
	// The last element is an unterminated (possibly cut) line: ignore it.
	lines = lines[:len(lines)-1]
	if len(lines) == 0 {
		return l, false
	}
	m := greetingRE.FindStringSubmatch(lines[0])
	if m == nil {
		return l, false
	}
	l.Protocol, l.Digests = m[1], strings.TrimSpace(m[2])
	motdLen := 0
	for _, line := range lines[1:] {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case line == "@RSYNCD: EXIT":
			l.Exit = true
			return l, true
		case strings.HasPrefix(line, "@ERROR"):
			l.Error = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "@ERROR"), ":"))
			return l, true
		case strings.HasPrefix(line, "@RSYNCD: "):
			// AUTHREQD and friends: not part of a listing
		case isModuleLine(line):
			if len(l.Modules) < maxModules {
				l.Modules = append(l.Modules, strings.TrimSpace(line[:strings.IndexByte(line, '\t')]))
			}
		default:
			if motdLen < maxMOTD {
				l.MOTD = append(l.MOTD, line)
				motdLen += len(line) + 1
			}
		}
	}
	return l, true
}

// isModuleLine recognises rsyncd's "%-15s\t%s" listing format.
func isModuleLine(line string) bool {
	i := strings.IndexByte(line, '\t')
	if i <= 0 {
		return false
	}
	name := strings.TrimRight(line[:i], " ")
	return name != "" && !strings.ContainsRune(name, ' ')
}

// Run completes the exchange and parses the listing.
func (Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	got := append([]byte(nil), banner...)
	if len(got) == 0 {
		b, err := wire.ReadLine(ctx, conn, env.Timeout, 256)
		if len(b) == 0 {
			return nil, fmt.Errorf("rsync: no greeting: %w", err)
		}
		got = b
	}
	res := &protocol.Result{}
	res.Record("NULL", nil, got)
	if !bytes.HasPrefix(got, []byte(greetingPrefix)) || bytes.IndexByte(got, '\n') < 0 && len(got) > 64 {
		return nil, fmt.Errorf("rsync: greeting %q: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	if err := wire.Write(ctx, conn, env.Timeout, request); err != nil {
		return nil, fmt.Errorf("rsync: send: %w", err)
	}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	more, _ := wire.ReadUntil(ctx, conn, env.Timeout, max, listingDone)
	res.Record("rsync-list", request, more)
	l, ok := Parse(append(got, more...))
	if !ok {
		return nil, fmt.Errorf("rsync: greeting %q: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	res.Set("rsync.protocol", l.Protocol)
	res.Set("rsync.digests", l.Digests)
	res.Set("rsync.motd", strings.TrimSpace(strings.Join(l.MOTD, "\n")))
	res.Set("rsync.modules", strings.Join(l.Modules, ","))
	res.Set("rsync.error", l.Error)
	res.Service, res.Confidence = "rsync", 95
	if !l.Exit && l.Error == "" && len(l.Modules) == 0 {
		res.Confidence = 80 // greeting only
	}
	return res, nil
}

// listingDone reports that the listing ended.
func listingDone(b []byte) bool {
	return bytes.Contains(b, []byte("@RSYNCD: EXIT\n")) || bytes.Contains(b, []byte("@ERROR")) && bytes.HasSuffix(b, []byte("\n"))
}
