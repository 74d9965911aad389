// Package ftp identifies FTP servers from their greeting and from how they
// answer a few harmless commands before login: many servers hide their name
// in the banner (ProFTPD's ServerIdent, custom greetings) but still word
// their SYST, FEAT, HELP and USER replies in their own way, which the rules
// in fingerprint/rules/ftp.yaml match.
//
// Dialogue: greeting, SYST, FEAT, HELP, STAT, SITE HELP, USER anonymous /
// PASS (the standard anonymous-login test nmap's ftp-anon also makes), STAT
// again when the login succeeded, AUTH TLS when Env.StartTLS is set and the
// server offers it, QUIT.
//
// Fields (strings; replies keep their codes, lines joined by "\n"):
//
//	ftp.banner          the greeting reply ("220 (vsFTPd 3.0.3)")
//	ftp.syst            reply to SYST ("215 UNIX Type: L8")
//	ftp.feat            FEAT features, comma separated ("EPRT,EPSV,MDTM,PASV,REST STREAM,SIZE,TVFS")
//	ftp.feat.reply      reply to FEAT when it is not a feature list ("500 'FEAT': command not understood")
//	ftp.help            reply to HELP
//	ftp.stat            reply to STAT before login ("530 Please login with USER and PASS")
//	ftp.site_help       reply to SITE HELP before login
//	ftp.user            reply to USER anonymous ("331 Please specify the password.")
//	ftp.pass            reply to PASS, when it came in time
//	ftp.anonymous       "true" when anonymous login succeeded, else "false"
//	ftp.anonymous.stat  reply to STAT after a successful anonymous login (vsftpd names its version)
//	ftp.auth_tls        "true" when FEAT offers AUTH TLS, "false" when FEAT lists features without it
//	ftp.starttls        "true" after a successful AUTH TLS upgrade, "refused" when the server declined
//	                    AUTH TLS, "failed" when the TLS handshake failed
//	ftp.starttls.reply  reply to AUTH TLS
//	ftp.starttls.error  why the TLS handshake failed
//	tls.*               the TLS fields returned by Env.StartTLS after AUTH TLS (also after a failed handshake)
package ftp

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/internal/reply"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// anonPassword is the fixed password of the anonymous-login test, an address
// in a reserved domain (RFC 2606).
const anonPassword = "portrait@example.invalid"

// passWait bounds the wait for the reply to PASS. Servers answer a good
// anonymous login at once and delay a bad one (vsftpd 3 s, Pure-FTPd 5 s)
// against password guessing, so a reply that has not come by then means
// "refused" and waiting longer would only slow the scan.
var passWait = 1500 * time.Millisecond

type module struct{}

// New returns the FTP module.
func New() protocol.Module { return module{} }

func (module) Info() protocol.Info {
	return protocol.Info{
		Name:        "ftp",
		Service:     "ftp",
		Ports:       []int{21, 2121, 3021, 8021},
		TLSPorts:    []int{990},
		ServerFirst: true,
		Priority:    80,
	}
}

// Claim accepts a greeting with an FTP opening code (220 ready, 120 ready
// soon, 421 busy) unless it names a mail server; a bare "220 host ready" is
// claimed by both this module and smtp, and Run tells them apart.
func (module) Claim(banner []byte) bool {
	if !reply.Coded(banner) {
		return false
	}
	switch string(banner[:3]) {
	case "220", "120", "421":
	default:
		return false
	}
	return !smtpBanner(reply.FirstLine(banner))
}

// session is one control connection, read reply by reply.
type session struct{ *wire.Session }

// read returns the next complete reply, waiting at most timeout.
func (s *session) read(timeout time.Duration) (reply.Reply, []byte, error) {
	return reply.Read(s.Session, timeout)
}

// cmd sends one command line and reads its reply, recording the exchange.
func (s *session) cmd(probe, line string, timeout time.Duration) (reply.Reply, error) {
	return reply.Cmd(s.Session, probe, line, timeout)
}

func (s *session) quit() {
	_ = wire.Write(s.Ctx, s.Conn, s.Env.Timeout, []byte("QUIT\r\n"))
}

func (module) Run(ctx context.Context, conn net.Conn, banner []byte, env protocol.Env) (*protocol.Result, error) {
	res := &protocol.Result{}
	s := &session{wire.NewSession(ctx, conn, env, banner, res)}

	// The greeting.
	greet, raw, err := s.read(env.Timeout)
	if greet.Code == 0 {
		return nil, fmt.Errorf("ftp: greeting %q: %w", wire.Clip(raw, 64), wire.NotThisProtocol(err))
	}
	res.Record("NULL", nil, raw)
	res.Set("ftp.banner", greet.Text())
	if smtpBanner([]byte(greet.Text())) {
		return nil, fmt.Errorf("ftp: greeting names a mail server: %w", protocol.ErrNotThisProtocol)
	}
	if greet.Code == 120 {
		// "Service ready in nnn minutes": the 220 follows.
		if g2, raw2, err := s.read(env.Timeout); err == nil && g2.Code != 0 {
			res.Record("NULL", nil, raw2)
			res.Set("ftp.banner", greet.Text()+"\n"+g2.Text())
			greet = g2
		}
	}
	if greet.Code != 220 {
		// Busy or refusing (421, 530): nothing more will be said.
		if ftp, _ := greetingWords([]byte(greet.Text())); ftp {
			res.Service, res.Confidence = "ftp", 60
		}
		return res, nil
	}
	res.Service, res.Confidence = "ftp", 50
	confirmed := false

	// Pre-login commands.
	syst, err := s.cmd("ftp-syst", "SYST", env.Timeout)
	if err != nil {
		return res, nil
	}
	if SMTPLike(syst) {
		return nil, fmt.Errorf("ftp: SYST answered like SMTP (%q): %w", syst.Text(), protocol.ErrNotThisProtocol)
	}
	if syst.Code == 0 {
		return nil, fmt.Errorf("ftp: SYST answered without a reply code: %w", protocol.ErrNotThisProtocol)
	}
	res.Set("ftp.syst", syst.Text())
	confirmed = confirmed || syst.Code == 215 || loginRequired(syst)

	feat, err := s.cmd("ftp-feat", "FEAT", env.Timeout)
	if err != nil {
		return finish(res, confirmed), nil
	}
	if SMTPLike(feat) {
		return nil, fmt.Errorf("ftp: FEAT answered like SMTP: %w", protocol.ErrNotThisProtocol)
	}
	feats := Features(feat)
	if feats != nil {
		res.Set("ftp.feat", strings.Join(feats, ","))
		res.Set("ftp.auth_tls", fmt.Sprint(hasAuthTLS(feats)))
		confirmed = true
	} else {
		res.Set("ftp.feat.reply", feat.Text())
	}

	help, err := s.cmd("Help", "HELP", env.Timeout)
	if err != nil {
		return finish(res, confirmed), nil
	}
	if SMTPLike(help) {
		return nil, fmt.Errorf("ftp: HELP answered like SMTP: %w", protocol.ErrNotThisProtocol)
	}
	res.Set("ftp.help", help.Text())

	// Commands most servers refuse before login, each in its own words
	// (ProFTPD answers SITE HELP, vsftpd and Pure-FTPd word their refusals
	// differently).
	if st, err := s.cmd("ftp-stat", "STAT", env.Timeout); err == nil {
		res.Set("ftp.stat", st.Text())
	} else {
		return finish(res, confirmed), nil
	}
	if sh, err := s.cmd("ftp-site-help", "SITE HELP", env.Timeout); err == nil {
		res.Set("ftp.site_help", sh.Text())
	} else {
		return finish(res, confirmed), nil
	}

	// Anonymous login.
	loggedIn, answered := anonymous(s, res)
	if loggedIn || answered {
		confirmed = true
	}
	if loggedIn {
		if st, err := s.cmd("ftp-stat-anonymous", "STAT", env.Timeout); err == nil {
			res.Set("ftp.anonymous.stat", st.Text())
		}
	}

	// AUTH TLS, on this connection while it is still before login, else on
	// a fresh one.
	if env.StartTLS != nil && !env.TLS && (feats == nil || hasAuthTLS(feats)) {
		switch {
		case !loggedIn && answered:
			if authTLS(s, res) {
				return finish(res, confirmed), nil
			}
		case env.Dial != nil:
			authTLSFresh(s, res)
		}
	}
	s.quit()
	return finish(res, confirmed), nil
}

// anonymous makes the anonymous-login test. answered is false when the
// server did not reply to PASS in time (the session state is then unknown).
func anonymous(s *session, res *protocol.Result) (loggedIn, answered bool) {
	user, err := s.cmd("ftp-user", "USER anonymous", s.Env.Timeout)
	if err != nil {
		return false, false
	}
	res.Set("ftp.user", user.Text())
	switch {
	case user.Code == 230:
		res.Set("ftp.anonymous", "true")
		return true, true
	case user.Code == 331 || user.Code == 332:
	default:
		res.Set("ftp.anonymous", "false")
		return false, true
	}
	wait := passWait
	if s.Env.Timeout > 0 && s.Env.Timeout < wait {
		wait = s.Env.Timeout
	}
	pass, err := s.cmd("ftp-pass", "PASS "+anonPassword, wait)
	if err != nil {
		res.Set("ftp.anonymous", "false")
		return false, false
	}
	res.Set("ftp.pass", pass.Text())
	ok := pass.Code == 230
	res.Set("ftp.anonymous", fmt.Sprint(ok))
	return ok, true
}

// authTLS sends AUTH TLS and upgrades the connection when the server agrees.
// It reports whether the upgrade happened (QUIT was then sent inside TLS).
func authTLS(s *session, res *protocol.Result) bool {
	r, err := s.cmd("ftp-auth-tls", "AUTH TLS", s.Env.Timeout)
	if err != nil {
		return false
	}
	res.Set("ftp.starttls.reply", r.Text())
	if r.Code != 234 {
		res.Set("ftp.starttls", "refused")
		return false
	}
	s.UpgradeTLS("ftp", []byte("QUIT\r\n"))
	return true
}

// authTLSFresh makes the AUTH TLS test on a new connection, used when the
// first one is logged in or in doubt.
func authTLSFresh(s *session, res *protocol.Result) {
	c, err := s.Env.Dial(s.Ctx)
	if err != nil {
		return
	}
	defer c.Close()
	s2 := &session{&wire.Session{Ctx: s.Ctx, Conn: c, Env: s.Env, Max: s.Max, Res: res}}
	if g, _, err := s2.read(s.Env.Timeout); err != nil || g.Code != 220 {
		return
	}
	if !authTLS(s2, res) {
		s2.quit()
	}
}

// loginRequired recognises the "log in first" answers FTP servers give to
// commands before login (vsftpd "530 Please login with USER and PASS.").
func loginRequired(r reply.Reply) bool {
	t := strings.ToLower(r.Text())
	return r.Code == 530 && (strings.Contains(t, "login") || strings.Contains(t, "logged in") || strings.Contains(t, "user"))
}

func finish(res *protocol.Result, confirmed bool) *protocol.Result {
	if confirmed {
		res.Service, res.Confidence = "ftp", 95
	} else {
		res.Service, res.Confidence = "ftp", 70
	}
	return res
}
