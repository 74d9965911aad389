// Package smtp identifies mail servers from their greeting, their EHLO
// answer and their HELP text. Greetings are often rewritten by
// administrators, but each MTA words its EHLO reply (Exim's "Hello name
// [addr]", Sendmail's "pleased to meet you"), orders its extensions and
// answers unknown or optional commands in its own way (Postfix's
// "5.5.2 Error: command not recognized" to HELP), which the rules in
// fingerprint/rules/smtp.yaml match.
//
// Dialogue: greeting, EHLO (HELO when EHLO is refused), HELP, STARTTLS when
// Env.StartTLS is set and the server offers it, QUIT.
//
// Fields (strings; replies keep their codes, lines joined by "\n"):
//
//	smtp.banner          the greeting ("220 lab.local ESMTP Postfix (Debian/GNU)")
//	smtp.hostname        the domain the greeting starts with ("lab.local")
//	smtp.ehlo            reply to EHLO
//	smtp.extensions      EHLO keywords, upper case, comma separated ("PIPELINING,SIZE,VRFY,...")
//	smtp.helo            reply to HELO, sent only when EHLO was refused
//	smtp.help            reply to HELP
//	smtp.starttls        "true" after a successful STARTTLS upgrade, "offered" when EHLO lists
//	                     STARTTLS but no upgrade was attempted, "refused" when the server declined
//	                     the command, "failed" when the TLS handshake failed
//	smtp.starttls.reply  reply to STARTTLS
//	smtp.starttls.error  why the TLS handshake failed
//	tls.*                the TLS fields returned by Env.StartTLS (also after a failed handshake)
package smtp

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/internal/reply"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// clientDomain is the EHLO argument: a name in a reserved TLD (RFC 2606).
const clientDomain = "portrait.invalid"

type module struct{}

// New returns the SMTP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "smtp",
		Service:     "smtp",
		Ports:       []int{25, 587, 2525, 24, 26},
		TLSPorts:    []int{465},
		ServerFirst: true,
		Priority:    80,
	}
}

// Greeting words that name the protocol or a product of it. They are looked
// for after hostToken has removed host names and version numbers, so that
// "220 ftp.example.com ESMTP Postfix" reads as mail and "220
// mail.example.com FTP server ready" as FTP.
var (
	ftpWords  = regexp.MustCompile(`(?i)ftp|filezilla|serv-u|\bwu-|glftpd`)
	mailWords = regexp.MustCompile(`(?i)\b(?:E?SMTP|postfix|exim|sendmail|qmail|mail|MTA|MAIL Service|Exchange|ready to serve)\b`)
	hostToken = regexp.MustCompile(`[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+`)
)

// greetingWords reports whether a greeting speaks of FTP and of mail.
func greetingWords(b []byte) (ftp, mail bool) {
	s := hostToken.ReplaceAll(b, nil)
	return ftpWords.Match(s), mailWords.Match(s)
}

// Claim accepts "220" greetings that do not name FTP (a bare "220 host
// ready" is claimed by both this module and ftp; Run tells them apart) and
// the refusing greetings "554"/"421" when they speak of mail.
func (module) Claim(banner []byte) bool {
	if !reply.Coded(banner) {
		return false
	}
	ftp, mail := greetingWords(reply.FirstLine(banner))
	switch string(banner[:3]) {
	case "220":
		return mail || !ftp
	case "554", "421":
		return mail && !ftp
	}
	return false
}

// session is one connection, read reply by reply within Env.Timeout.
type session struct{ *wire.Session }

// read returns the next complete reply.
func (s *session) read() (reply.Reply, []byte, error) {
	return reply.Read(s.Session, s.Env.Timeout)
}

// cmd sends one command line and reads its reply, recording the exchange.
func (s *session) cmd(probe, line string) (reply.Reply, error) {
	return reply.Cmd(s.Session, probe, line, s.Env.Timeout)
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	s := &session{wire.NewSession(ctx, conn, env, banner, res)}

	greet, raw, err := s.read()
	if greet.Code == 0 {
		return nil, fmt.Errorf("smtp: greeting %q: %w", wire.Clip(raw, 64), wire.NotThisProtocol(err))
	}
	ftpish, mailish := greetingWords([]byte(greet.Text()))
	if ftpish && !mailish {
		return nil, fmt.Errorf("smtp: greeting names FTP: %w", protocol.ErrNotThisProtocol)
	}
	res.Record("NULL", nil, raw)
	res.Set("smtp.banner", greet.Text())
	res.Set("smtp.hostname", greetingDomain(greet))
	if greet.Code != 220 {
		// 554 "no service here", 421 busy: the server will say no more.
		if mailish {
			res.Service, res.Confidence = "smtp", 60
		}
		return res, nil
	}

	ehlo, err := s.cmd("smtp-ehlo", "EHLO "+clientDomain)
	if err != nil {
		return weak(res, mailish, "EHLO", err)
	}
	if FTPLike(ehlo) {
		return nil, fmt.Errorf("smtp: EHLO answered like FTP (%q): %w", ehlo.Text(), protocol.ErrNotThisProtocol)
	}
	res.Set("smtp.ehlo", ehlo.Text())
	exts := Extensions(ehlo)
	switch {
	case ehlo.Code == 250:
		res.Set("smtp.extensions", strings.Join(exts, ","))
		res.Service, res.Confidence = "smtp", 95
	default:
		helo, err := s.cmd("smtp-helo", "HELO "+clientDomain)
		if err != nil {
			return weak(res, mailish, "HELO", err)
		}
		if FTPLike(helo) {
			return nil, fmt.Errorf("smtp: HELO answered like FTP: %w", protocol.ErrNotThisProtocol)
		}
		res.Set("smtp.helo", helo.Text())
		switch {
		case helo.Code == 250:
			res.Service, res.Confidence = "smtp", 90
		case helo.Code >= 400 && helo.Code < 600 && (mailish || enhancedCode.MatchString(helo.Lines[0])):
			res.Service, res.Confidence = "smtp", 70
		default:
			res.Service, res.Confidence = "smtp", 50
		}
	}

	help, err := s.cmd("Help", "HELP")
	if err != nil {
		return res, nil
	}
	res.Set("smtp.help", help.Text())

	if hasExt(exts, "STARTTLS") && !env.TLS {
		if env.StartTLS == nil {
			res.Set("smtp.starttls", "offered")
		} else if startTLS(s, res) {
			return res, nil
		}
	}
	_ = wire.Write(ctx, conn, env.Timeout, []byte("QUIT\r\n"))
	return res, nil
}

// startTLS upgrades the session. It reports whether the plaintext session
// was consumed (QUIT then went inside TLS, or the handshake broke it).
func startTLS(s *session, res *protocol.Result) bool {
	r, err := s.cmd("smtp-starttls", "STARTTLS")
	if err != nil {
		return false
	}
	res.Set("smtp.starttls.reply", r.Text())
	if r.Code != 220 {
		res.Set("smtp.starttls", "refused")
		return false
	}
	s.UpgradeTLS("smtp", []byte("QUIT\r\n"))
	return true
}

// weak ends a dialogue cut short after the greeting: a mail-like greeting is
// still weak evidence of SMTP; a bare one is not (ProFTPD, for one, hangs
// up on EHLO).
func weak(res *protocol.Result, mailish bool, cmd string, err error) (*protocol.Result, error) {
	if !mailish {
		return nil, fmt.Errorf("smtp: no reply to %s: %w (%w)", cmd, protocol.ErrNotThisProtocol, err)
	}
	res.Service, res.Confidence = "smtp", 60
	return res, nil
}

// Extensions returns the EHLO keywords (RFC 5321 §4.1.1.1: the lines after
// the first, each "keyword [params]"), upper case.
func Extensions(r reply.Reply) []string {
	if r.Code != 250 || len(r.Lines) < 2 {
		return nil
	}
	var out []string
	for _, l := range r.Lines[1:] {
		if len(l) < 4 {
			continue
		}
		kw, _, _ := strings.Cut(strings.TrimSpace(l[4:]), " ")
		if kw != "" && len(out) < 128 {
			out = append(out, strings.ToUpper(kw))
		}
	}
	return out
}

func hasExt(exts []string, kw string) bool {
	for _, e := range exts {
		if e == kw {
			return true
		}
	}
	return false
}

// greetingDomain returns the first word of the greeting, which RFC 5321
// §4.3.1 makes the server's domain, when it looks like one.
func greetingDomain(r reply.Reply) string {
	if len(r.Lines[0]) < 5 {
		return ""
	}
	w, _, _ := strings.Cut(strings.TrimSpace(r.Lines[0][4:]), " ")
	if domainLike.MatchString(w) {
		return w
	}
	return ""
}

var domainLike = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})\.?)+$|^\[[0-9A-Fa-f:.]+\]$`)

// enhancedCode matches an RFC 3463 enhanced status code after the reply code.
var enhancedCode = regexp.MustCompile(`^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}\b`)

// ftpReply marks what FTP servers answer to EHLO/HELO before login.
var ftpReply = regexp.MustCompile(`(?i)USER and PASS|not logged in|aren't logged in|log ?in first|login with USER|command not understood|not understood|FTP`)

// FTPLike reports whether a reply to EHLO came from an FTP server (vsftpd
// "530 Please login with USER and PASS.", ProFTPD "500 EHLO not understood").
func FTPLike(r reply.Reply) bool {
	if len(r.Lines) == 0 || r.Code == 250 || enhancedCode.MatchString(r.Lines[0]) {
		return false
	}
	return ftpReply.MatchString(r.Text())
}
