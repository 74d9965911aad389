package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// WebhookPayload is the JSON body of a webhook delivery.
type WebhookPayload struct {
	Source   string  `json:"source"` // "portrait"
	Version  string  `json:"version"`
	Delivery string  `json:"delivery"`
	Sent     string  `json:"sent"`
	Summary  string  `json:"summary"`
	Events   []Event `json:"events"`
}

// Sign is the X-Portrait-Signature value of a body: "sha256=" and the hex
// HMAC-SHA256 of the exact bytes, keyed with the channel's secret.
// Receivers recompute it and compare in constant time.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature made by Sign.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

var httpClient = &http.Client{
	// No redirects: a webhook that moved is a configuration error, and a
	// redirect would resend the signed body elsewhere.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func sendWebhook(ctx context.Context, ch Channel, delivery string, evs []Event) error {
	body, err := json.Marshal(WebhookPayload{Source: "portrait", Version: fingerprint.Version, Delivery: delivery,
		Sent: time.Now().UTC().Format(time.RFC3339), Summary: Summary(evs), Events: evs})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "portrait/"+fingerprint.Version)
	h.Set("X-Portrait-Delivery", delivery)
	h.Set("X-Portrait-Event-Count", strconv.Itoa(len(evs)))
	if ch.Secret != "" {
		h.Set("X-Portrait-Signature", Sign(ch.Secret, body))
	}
	for k, v := range ch.Headers {
		h.Set(k, v)
	}
	return post(ctx, ch.URL, h, body)
}

// slackPayload is what Slack-compatible incoming webhooks (Slack,
// Mattermost, Rocket.Chat, Discord's /slack endpoint) accept.
type slackPayload struct {
	Text string `json:"text"`
}

// slackMaxLines keeps a message readable; the rest is counted.
const slackMaxLines = 40

func sendSlack(ctx context.Context, ch Channel, delivery string, evs []Event) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*portrait*: %s", Summary(evs))
	if evs[0].Scan != "" {
		fmt.Fprintf(&b, " (scan `%s`)", evs[0].Scan)
	}
	for i, e := range evs {
		if i == slackMaxLines {
			fmt.Fprintf(&b, "\n… and %d more", len(evs)-i)
			break
		}
		b.WriteString("\n• " + slackEscape(e.Line()))
	}
	body, err := json.Marshal(slackPayload{Text: b.String()})
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "portrait/"+fingerprint.Version)
	for k, v := range ch.Headers {
		h.Set(k, v)
	}
	return post(ctx, ch.URL, h, body)
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// post sends one request: 2xx is delivered; 408, 429 and 5xx and network
// errors are retryable; other statuses are final.
func post(ctx context.Context, url string, h http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := httpClient.Do(req)
	if err != nil {
		return &retryable{err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s: HTTP %d %s", url, resp.StatusCode, strings.TrimSpace(string(msg)))
	if resp.StatusCode == 408 || resp.StatusCode == 429 || resp.StatusCode >= 500 {
		r := &retryable{err: err}
		if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
			r.after = time.Duration(s) * time.Second
		}
		return r
	}
	return err
}

// sendEmail delivers one message over SMTP: STARTTLS (required unless
// configured otherwise) or implicit TLS, AUTH PLAIN when a username is
// set. 4xx replies and network errors are retryable.
func sendEmail(ctx context.Context, ch Channel, delivery string, evs []Event) error {
	cfg := ch.SMTP
	mode := cfg.StartTLS
	if mode == "" {
		mode = "required"
	}
	port := cfg.Port
	if port == 0 {
		switch {
		case cfg.TLS:
			port = 465
		case mode == "off":
			port = 25
		default:
			port = 587
		}
	}
	tcfg := &tls.Config{ServerName: cfg.Host, InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("smtp ca_file %s: no certificate", cfg.CAFile)
		}
		tcfg.RootCAs = pool
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &retryable{err: err}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if cfg.TLS {
		tc := tls.Client(conn, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return &retryable{err: err}
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return smtpErr(err)
	}
	defer c.Close()
	helo := cfg.Helo
	if helo == "" {
		helo = "localhost"
		if h, err := os.Hostname(); err == nil && h != "" {
			helo = h
		}
	}
	if err := c.Hello(helo); err != nil {
		return smtpErr(err)
	}
	if !cfg.TLS && mode != "off" {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tcfg); err != nil {
				return smtpErr(err)
			}
		} else if mode == "required" {
			return fmt.Errorf("smtp %s does not offer STARTTLS (set starttls: opportunistic to send in clear)", addr)
		}
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("smtp %s offers no AUTH", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return smtpErr(err)
		}
	}
	if err := c.Mail(ch.From); err != nil {
		return smtpErr(err)
	}
	for _, to := range ch.To {
		if err := c.Rcpt(to); err != nil {
			return smtpErr(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr(err)
	}
	if _, err := w.Write(emailMessage(ch, delivery, evs)); err != nil {
		return smtpErr(err)
	}
	if err := w.Close(); err != nil {
		return smtpErr(err)
	}
	// Accepted once DATA is answered 250: a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 400 && te.Code < 500 {
			return &retryable{err: err}
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) {
		return &retryable{err: err}
	}
	return err
}

// emailMessage is an RFC 5322 message in UTF-8 plain text.
func emailMessage(ch Channel, delivery string, evs []Event) []byte {
	var b bytes.Buffer
	subject := "[portrait] " + Summary(evs)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", ch.From)
	hdr("To", strings.Join(ch.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", time.Now().Format(time.RFC1123Z))
	dom := "portrait.local"
	if i := strings.LastIndexByte(ch.From, '@'); i >= 0 {
		dom = strings.Trim(ch.From[i+1:], "<> ")
	}
	hdr("Message-ID", "<"+delivery+"@"+dom+">")
	hdr("X-Portrait-Delivery", delivery)
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "%s\r\n", Summary(evs))
	if evs[0].Scan != "" {
		fmt.Fprintf(&b, "Scan: %s", evs[0].Scan)
		if evs[0].Previous != "" {
			fmt.Fprintf(&b, " (compared with %s)", evs[0].Previous)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	for _, e := range evs {
		line := e.Line()
		if e.Before != "" || e.After != "" {
			line += fmt.Sprintf("\r\n    before: %s\r\n    after:  %s", dashIfEmpty(e.Before), dashIfEmpty(e.After))
		}
		// A line starting with "." would be read as the end of DATA by
		// broken servers; net/smtp dot-stuffs, but keep lines sane anyway.
		b.WriteString(strings.ReplaceAll(line, "\n.", "\n .") + "\r\n")
	}
	return b.Bytes()
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
