// Package reply parses the numbered replies of FTP (RFC 959 §4.2) and SMTP
// (RFC 5321 §4.2), which share one format: a three-digit code, and for a
// multi-line reply "code-" lines ended by a "code " line.
package reply

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol/wire"
)

// MaxLines bounds a multi-line reply; real FEAT, EHLO and HELP answers have
// a few dozen lines.
const MaxLines = 512

// Reply is one reply: a three-digit code and its text.
type Reply struct {
	Code  int      // 0 when the first line has no three-digit code
	Lines []string // lines without CR LF, codes included
}

// Text is the reply's lines joined by "\n", codes included: the form the
// evidence fields and rules use ("220 (vsFTPd 3.0.3)").
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// End returns the length of the first complete reply in b, or -1 when more
// bytes are needed. A multi-line reply ("220-" ... "220 ") ends at the line
// starting with the same code and a space; a first line without a code ends
// at its line end (the caller then sees Code 0).
func End(b []byte) int {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return -1
	}
	first := b[:nl]
	if len(first) < 4 || !digits3(first) || first[3] != '-' {
		return nl + 1
	}
	code := first[:3]
	off := nl + 1
	for n := 1; n < MaxLines; n++ {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return -1
		}
		line := bytes.TrimRight(b[off:off+i], "\r")
		off += i + 1
		if bytes.HasPrefix(line, code) && (len(line) == 3 || line[3] == ' ') {
			return off
		}
	}
	return off // too many lines: take what we have as the reply
}

// Parse splits one complete reply (as delimited by End).
func Parse(b []byte) Reply {
	var r Reply
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimRight(s, "\r\n")
	for _, l := range strings.Split(s, "\n") {
		if len(r.Lines) == MaxLines {
			break
		}
		r.Lines = append(r.Lines, strings.TrimRight(l, "\r"))
	}
	if len(b) >= 3 && digits3(b) && (len(b) == 3 || b[3] == ' ' || b[3] == '-' || b[3] == '\r' || b[3] == '\n') {
		r.Code, _ = strconv.Atoi(string(b[:3]))
	}
	return r
}

// Coded reports whether b opens like a reply: three digits, then a space, a
// hyphen or the line end. Modules claim greetings with it.
func Coded(b []byte) bool {
	return len(b) >= 4 && digits3(b) && (b[3] == ' ' || b[3] == '-' || b[3] == '\r')
}

// FirstLine returns b up to its first line feed (all of b without one), the
// part of a greeting that names the server.
func FirstLine(b []byte) []byte {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	return line
}

func digits3(b []byte) bool {
	return len(b) >= 3 && isDigit(b[0]) && isDigit(b[1]) && isDigit(b[2])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Read returns the session's next complete reply, waiting at most timeout,
// and its raw bytes (what arrived, when it fails).
func Read(s *wire.Session, timeout time.Duration) (Reply, []byte, error) {
	raw, err := s.Read(timeout, End)
	if err != nil {
		return Reply{}, raw, err
	}
	return Parse(raw), raw, nil
}

// Cmd sends one command line and reads its reply, recording the exchange.
func Cmd(s *wire.Session, probe, line string, timeout time.Duration) (Reply, error) {
	raw, err := s.Cmd(probe, line, timeout, End)
	if err != nil {
		return Reply{}, err
	}
	return Parse(raw), nil
}
