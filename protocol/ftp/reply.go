package ftp

import (
	"regexp"
	"strings"

	"github.com/portrait-scanner/portrait/protocol/internal/reply"
)

// Features lists the feature lines of a FEAT reply (RFC 2389: "211-" first
// line, one feature per indented line, "211 End"), trimmed.
func Features(r reply.Reply) []string {
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
func SMTPLike(r reply.Reply) bool {
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
