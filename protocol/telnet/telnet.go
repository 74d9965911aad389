// Package telnet speaks just enough Telnet (RFC 854/855) to get past option
// negotiation and read the login banner. Telnet daemons differ most in the
// options they ask for first, before any text: inetutils telnetd offers
// authentication and encryption and asks for the terminal type, speed, X
// display and environment; BusyBox asks for echo and window size; network
// devices print a fixed banner ("User Access Verification"). The module
// refuses every option except echo and suppress-go-ahead (which the server
// performs, and which some devices wait for), because a refusal is the answer
// every daemon must handle and it makes them print the banner and prompt at
// once, without terminal subnegotiation.
//
// Fields (all strings):
//
//	telnet.options       the server's first negotiation, in order, as
//	                     "VERB code" joined by "," ("WILL 37,DO 24,SB 24"),
//	                     up to the first text or our first reply
//	telnet.negotiation   every command the server sent in the whole dialogue,
//	                     same format (capped at 64 entries)
//	telnet.banner        printable text the server sent (control bytes
//	                     removed, lines trimmed, CRLF folded to "\n", capped)
//	telnet.login_prompt  the last line when it is a prompt ("vm login:",
//	                     "Username:", "Password:")
package telnet

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Telnet command bytes (RFC 854).
const (
	cmdSE   = 240
	cmdSB   = 250
	cmdWILL = 251
	cmdWONT = 252
	cmdDO   = 253
	cmdDONT = 254
	cmdIAC  = 255
)

// Options we accept: the server echoes and suppresses go-ahead. Accepting
// them is what every interactive client does; some devices only print their
// prompt once echo is settled.
const (
	optEcho = 1
	optSGA  = 3
)

const (
	maxRounds   = 6    // negotiation round trips before we give up on a prompt
	maxCommands = 64   // commands kept in telnet.negotiation
	maxBanner   = 2048 // bytes of text kept in telnet.banner
	idle        = 400 * time.Millisecond
)

// Module is the Telnet module.
type Module struct{}

// New returns the Telnet module.
func New() protocol.Module { return Module{} }

// Info describes the module.
func (Module) Info() protocol.Info {
	return protocol.Info{
		Name:        "telnet",
		Service:     "telnet",
		Ports:       []int{23, 2323},
		TLSPorts:    []int{992},
		ServerFirst: true,
		Priority:    50,
	}
}

// Claim accepts a banner that opens with a Telnet negotiation command, or a
// short text banner ending in a login prompt.
func (Module) Claim(banner []byte) bool {
	if len(banner) >= 3 && banner[0] == cmdIAC && banner[1] >= cmdWILL && banner[1] <= cmdDONT {
		return true
	}
	if len(banner) >= 3 && banner[0] == cmdIAC && banner[1] == cmdSB {
		return true
	}
	if len(banner) > 1024 || otherProtocol(banner) {
		return false
	}
	_, text := Parse(banner)
	return isPrompt(lastLine(text))
}

// otherProtocol reports banners of the common server-first protocols whose
// text may also end in a colon.
func otherProtocol(b []byte) bool {
	for _, p := range []string{"SSH-", "220", "+OK", "* OK", "HTTP/", "RFB ", "@RSYNCD:", "-ERR"} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

// Command is one negotiation command from the server.
type Command struct {
	Verb   byte // cmdWILL, cmdWONT, cmdDO, cmdDONT or cmdSB
	Option byte
}

func (c Command) String() string {
	v := map[byte]string{cmdWILL: "WILL", cmdWONT: "WONT", cmdDO: "DO", cmdDONT: "DONT", cmdSB: "SB"}[c.Verb]
	return v + " " + strconv.Itoa(int(c.Option))
}

// Parse splits a stream of server bytes into negotiation commands and text.
// It is pure and total: a command cut off at the end of b is dropped, IAC IAC
// is a literal 255, two-byte commands (NOP, GA...) are skipped, and a
// subnegotiation is skipped up to IAC SE (or the end).
func Parse(b []byte) (cmds []Command, text []byte) {
	for i := 0; i < len(b); {
		if b[i] != cmdIAC {
			text = append(text, b[i])
			i++
			continue
		}
		if i+1 >= len(b) {
			break
		}
		switch v := b[i+1]; {
		case v == cmdIAC:
			text = append(text, cmdIAC)
			i += 2
		case v >= cmdWILL && v <= cmdDONT:
			if i+2 >= len(b) {
				return cmds, text
			}
			cmds = append(cmds, Command{Verb: v, Option: b[i+2]})
			i += 3
		case v == cmdSB:
			if i+2 < len(b) {
				cmds = append(cmds, Command{Verb: cmdSB, Option: b[i+2]})
			}
			end := bytes.Index(b[i+2:], []byte{cmdIAC, cmdSE})
			if end < 0 {
				return cmds, text
			}
			i += 2 + end + 2
		default:
			i += 2
		}
	}
	return cmds, text
}

// reply builds our answers to cmds: DO for WILL ECHO/SGA, DONT for any other
// WILL, WONT for every DO; WONT/DONT need no answer (we are already off).
// answered counts replies per command so a server that repeats itself cannot
// make us loop.
func reply(cmds []Command, answered map[Command]int) []byte {
	var out []byte
	for _, c := range cmds {
		var verb byte
		switch c.Verb {
		case cmdWILL:
			verb = cmdDONT
			if c.Option == optEcho || c.Option == optSGA {
				verb = cmdDO
			}
		case cmdDO:
			verb = cmdWONT
		default:
			continue
		}
		if answered[c] >= 2 {
			continue
		}
		answered[c]++
		out = append(out, cmdIAC, verb, c.Option)
	}
	return out
}

// Run negotiates, then reads the banner and login prompt.
func (Module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	max := env.MaxRead
	if max <= 0 {
		max = wire.DefaultMax
	}
	got := append([]byte(nil), banner...)
	if len(got) == 0 {
		b, err := wire.ReadQuiet(ctx, conn, env.Timeout, idle, max)
		if len(b) == 0 {
			return nil, fmt.Errorf("telnet: no greeting: %w", err)
		}
		got = b
	}
	res.Record("NULL", nil, got)
	if !looksTelnet(got) {
		return nil, fmt.Errorf("telnet: greeting %q: %w", wire.Clip(got, 32), protocol.ErrNotThisProtocol)
	}
	first := Initial(got)
	all := got
	answered := map[Command]int{}
	pending := got
	for round := 0; round < maxRounds && len(all) < max; round++ {
		cmds, _ := Parse(pending)
		out := reply(cmds, answered)
		if len(out) > 0 {
			if err := wire.Write(ctx, conn, env.Timeout, out); err != nil {
				break
			}
		}
		if _, text := Parse(all); isPrompt(lastLine(text)) {
			if len(out) > 0 {
				res.Record("telnet-negotiation", out, nil)
			}
			break // the server now waits for a user name
		}
		b := readQuiet(ctx, conn, env.Timeout, max-len(all), all)
		res.Record("telnet-negotiation", out, b)
		if len(b) == 0 {
			break // silence or close: keep what we have
		}
		all = append(all, b...)
		pending = b
	}
	if _, text := Parse(all); len(bytes.TrimSpace(text)) == 0 && len(all) < max {
		// Negotiation settled and nothing was printed: some devices wait for
		// a key press before their banner. One empty line is the least
		// intrusive nudge (no user name is sent).
		nudge := []byte("\r\n")
		if err := wire.Write(ctx, conn, env.Timeout, nudge); err == nil {
			b := readQuiet(ctx, conn, env.Timeout, max-len(all), all)
			res.Record("GenericLines", nudge, b)
			if cmds, _ := Parse(b); len(cmds) > 0 {
				if out := reply(cmds, answered); len(out) > 0 {
					_ = wire.Write(ctx, conn, env.Timeout, out)
				}
			}
			all = append(all, b...)
		}
	}
	cmds, text := Parse(all)
	res.Set("telnet.options", joinCommands(first))
	res.Set("telnet.negotiation", joinCommands(cmds))
	clean := Clean(text)
	res.Set("telnet.banner", clean)
	if p := lastLine(text); isPrompt(p) {
		res.Set("telnet.login_prompt", p)
	}
	switch {
	case len(cmds) > 0:
		res.Service, res.Confidence = "telnet", 95
	case res.Fields["telnet.login_prompt"] != "":
		res.Service, res.Confidence = "telnet", 60
	}
	return res, nil
}

// readQuiet reads what the server sends next: it waits up to timeout for the
// first byte, then returns once the server has been quiet for idle, has
// closed, or the text so far (prev plus the new bytes) ends in a prompt that
// needs no reply.
func readQuiet(ctx context.Context, conn net.Conn, timeout time.Duration, max int, prev []byte) []byte {
	b, _ := wire.ReadQuietUntil(ctx, conn, timeout, idle, max, func(buf []byte) bool {
		_, text := Parse(append(append([]byte(nil), prev...), buf...))
		return isPrompt(lastLine(text))
	})
	return b
}

// looksTelnet reports whether the first bytes are negotiation or readable
// text; binary garbage and other protocols' greetings are not Telnet.
func looksTelnet(b []byte) bool {
	if len(b) > 0 && b[0] == cmdIAC {
		cmds, _ := Parse(b)
		return len(cmds) > 0
	}
	if otherProtocol(b) {
		return false
	}
	_, text := Parse(b)
	if len(text) == 0 {
		return false
	}
	bad := 0
	for _, c := range text {
		if c < 0x20 && c != '\r' && c != '\n' && c != '\t' && c != 0 && c != 7 && c != 8 && c != 0x1b {
			bad++
		}
	}
	return bad*10 < len(text)
}

// Initial returns the commands of the initial negotiation: those before the
// first printable text of the greeting (CR, LF and NUL do not count as text).
func Initial(greeting []byte) []Command {
	end := len(greeting)
	for i := 0; i < len(greeting); {
		c := greeting[i]
		if c == cmdIAC {
			if i+1 < len(greeting) && greeting[i+1] == cmdIAC {
				end = i
				break
			}
			i += 2
			if i-1 < len(greeting) && greeting[i-1] >= cmdWILL && greeting[i-1] <= cmdDONT {
				i++
			} else if i-1 < len(greeting) && greeting[i-1] == cmdSB {
				k := bytes.Index(greeting[i:], []byte{cmdIAC, cmdSE})
				if k < 0 {
					break
				}
				i += k + 2
			}
			continue
		}
		if c == '\r' || c == '\n' || c == 0 {
			i++
			continue
		}
		end = i
		break
	}
	cmds, _ := Parse(greeting[:end])
	return cmds
}

func joinCommands(cmds []Command) string {
	if len(cmds) > maxCommands {
		cmds = cmds[:maxCommands]
	}
	s := make([]string, len(cmds))
	for i, c := range cmds {
		s[i] = c.String()
	}
	return strings.Join(s, ",")
}

// Clean turns terminal text into a printable banner: CR and NUL dropped,
// escape sequences removed, other control bytes dropped, lines trimmed,
// runs of blank lines folded and the whole capped at maxBanner bytes.
func Clean(text []byte) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == 0x1b: // skip an ANSI escape: ESC [ ... final byte
			if i+1 < len(text) && text[i+1] == '[' {
				i += 2
				for i < len(text) && (text[i] < 0x40 || text[i] > 0x7e) {
					i++
				}
			}
		case c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f):
			b.WriteByte(c)
		}
	}
	lines := strings.Split(b.String(), "\n")
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	s := strings.TrimSpace(strings.Join(out, "\n"))
	if len(s) > maxBanner {
		s = s[:maxBanner]
	}
	return s
}

// lastLine returns the last non-empty cleaned line of text.
func lastLine(text []byte) string {
	s := Clean(text)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// isPrompt reports whether a line asks for a user name or password.
func isPrompt(line string) bool {
	if line == "" || len(line) > 120 {
		return false
	}
	l := strings.ToLower(line)
	for _, w := range []string{"login:", "username:", "user name:", "user:", "password:", "login as:", "account:", "user id:"} {
		if strings.HasSuffix(l, w) {
			return true
		}
	}
	return false
}
