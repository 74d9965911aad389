package smtp

import (
	"bytes"
	"strconv"
	"strings"
)

// maxReplyLines bounds a multi-line reply; real EHLO and HELP answers have a
// few dozen lines.
const maxReplyLines = 512

// Reply is one SMTP reply (RFC 5321 §4.2): a three-digit code and its text.
type Reply struct {
	Code  int      // 0 when the first line has no three-digit code
	Lines []string // lines without CR LF, codes included
}

// Text is the reply's lines joined by "\n", codes included: the form the
// evidence fields and rules use ("250-lab.local\n250-PIPELINING...").
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// ReplyEnd returns the length of the first complete reply in b, or -1 when
// more bytes are needed. A multi-line reply ("250-" ... "250 ") ends at the
// line starting with the same code and a space; a first line without a code
// ends at its line end (the caller then sees Code 0).
func ReplyEnd(b []byte) int {
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
	for n := 1; n < maxReplyLines; n++ {
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

// ParseReply splits one complete reply (as delimited by ReplyEnd).
func ParseReply(b []byte) Reply {
	var r Reply
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = strings.TrimRight(s, "\r\n")
	for _, l := range strings.Split(s, "\n") {
		if len(r.Lines) == maxReplyLines {
			break
		}
		r.Lines = append(r.Lines, strings.TrimRight(l, "\r"))
	}
	if len(b) >= 3 && digits3(b) && (len(b) == 3 || b[3] == ' ' || b[3] == '-' || b[3] == '\r' || b[3] == '\n') {
		r.Code, _ = strconv.Atoi(string(b[:3]))
	}
	return r
}

func digits3(b []byte) bool {
	return len(b) >= 3 && isDigit(b[0]) && isDigit(b[1]) && isDigit(b[2])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
