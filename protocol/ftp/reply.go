package ftp

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// maxReplyLines bounds a multi-line reply; real FEAT and HELP answers have a
// few dozen lines.
const maxReplyLines = 512

// Reply is one FTP reply (RFC 959 §4.2): a three-digit code and its text.
type Reply struct {
	Code  int      // 0 when the first line has no three-digit code
	Lines []string // lines without CR LF, codes included
}

// Text is the reply's lines joined by "\n", codes included: the form the
// evidence fields and rules use ("220 (vsFTPd 3.0.3)").
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// ReplyEnd returns the length of the first complete reply in b, or -1 when
// more bytes are needed. A multi-line reply ("220-" ... "220 ") ends at the
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

// Features lists the feature lines of a FEAT reply (RFC 2389: "211-" first
// line, one feature per indented line, "211 End"), trimmed.
func Features(r Reply) []string {
	if r.Code != 211 || len(r.Lines) < 2 {
		return nil
	}
	var out []string
	for _, l := range r.Lines[1 : len(r.Lines)-1] {
		l = strings.TrimSpace(strings.TrimPrefix(l, "211-"))
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// hasAuthTLS reports whether the features offer AUTH TLS (RFC 4217).
func hasAuthTLS(feats []string) bool {
	for _, f := range feats {
		u := strings.ToUpper(f)
		if strings.HasPrefix(u, "AUTH") && (strings.Contains(u, "TLS") || strings.Contains(u, "SSL")) {
			return true
		}
	}
	return false
}

// enhancedCode matches an RFC 3463 enhanced status code after the reply
// code: SMTP servers use them, FTP servers never do.
var enhancedCode = regexp.MustCompile(`^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}\b`)

// smtpWords are what an SMTP server's HELP or error text says and an FTP
// server's does not.
var smtpWords = regexp.MustCompile(`(?i)\b(?:EHLO|HELO|RCPT|ESMTP|SMTP|sendmail|qmail)\b`)

// SMTPLike reports whether a reply to an FTP command came from a mail server
// (Postfix: "500 5.5.2 Error: command not recognized", Exim's HELP listing
// HELO EHLO MAIL RCPT).
func SMTPLike(r Reply) bool {
	for _, l := range r.Lines {
		if enhancedCode.MatchString(l) || smtpWords.MatchString(l) {
			return true
		}
	}
	return false
}

// Greeting words that name the protocol or a product of it. They are looked
// for after hostToken has removed host names and version numbers, so that
// "220 ftp.example.com ESMTP Postfix" reads as mail and "220
// mail.example.com FTP server ready" as FTP.
var (
	ftpWords  = regexp.MustCompile(`(?i)ftp|filezilla|serv-u|\bwu-|glftpd`)
	mailWords = regexp.MustCompile(`(?i)\b(?:E?SMTP|postfix|exim|sendmail|qmail|mail service|mail server|mailserver|MTA)\b`)
	hostToken = regexp.MustCompile(`[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+`)
)

// greetingWords reports whether a greeting speaks of FTP and of mail.
func greetingWords(b []byte) (ftp, mail bool) {
	s := hostToken.ReplaceAll(b, nil)
	return ftpWords.Match(s), mailWords.Match(s)
}

// smtpBanner reports a greeting that names a mail server and not FTP.
func smtpBanner(b []byte) bool {
	ftp, mail := greetingWords(b)
	return mail && !ftp
}
