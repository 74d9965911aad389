package emulate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FormatVersion is the version of the personality file format written by
// this package. Load accepts files of this version only: a reader that
// guessed at a newer file's meaning would emulate the wrong server.
const FormatVersion = 1

// Protocols are the protocols a personality may describe.
var Protocols = []string{"smtp", "ftp", "pop3", "imap", "ssh", "http"}

// Personality is one recorded server: how it greets, how it answers each
// class of command in each session state, and the look of its TLS
// certificate. docs/personality.md describes the file format field by field.
type Personality struct {
	Format   int      `yaml:"format"`
	Protocol string   `yaml:"protocol"`
	Name     string   `yaml:"name"`
	Recorded Recorded `yaml:"recorded"`
	// Vars are the values the placeholders had on the original server
	// (hostname...); the emulator uses them unless told otherwise.
	Vars map[string]string `yaml:"vars,omitempty"`
	// EOL is the line end of the replies: "crlf" (default) or "lf".
	EOL      string   `yaml:"eol,omitempty"`
	Limits   Limits   `yaml:"limits,omitempty"`
	TLS      *TLSLook `yaml:"tls,omitempty"`
	Greeting *Reply   `yaml:"greeting,omitempty"`
	// SSH holds the identification and KEXINIT of an SSH server.
	SSH *SSHLook `yaml:"ssh,omitempty"`
	// Bodies are HTTP bodies shared by several replies (body_ref).
	Bodies map[string]string `yaml:"bodies,omitempty"`
	// Replies are the answers keyed by (state, command class, argument class).
	Replies []Entry `yaml:"replies"`
}

// Recorded says where and when a personality was recorded.
type Recorded struct {
	From string    `yaml:"from"`
	At   time.Time `yaml:"at"`
	By   string    `yaml:"by,omitempty"`
	// Identity is what portrait said about the original, for the reader.
	Identity string   `yaml:"identity,omitempty"`
	Notes    []string `yaml:"notes,omitempty"`
}

// Limits are the bounds the original server showed.
type Limits struct {
	// MaxErrors is the number of failed commands after which the server
	// hung up (0: it never did within the recorder's test).
	MaxErrors int `yaml:"max_errors,omitempty"`
	// ErrorClose is what it said when it hung up for that reason.
	ErrorClose *Reply `yaml:"error_close,omitempty"`
	// ErrorCloseWaits: the server sent ErrorClose in place of the answer
	// to the next refused command, not at once after the last error.
	ErrorCloseWaits bool `yaml:"error_close_waits,omitempty"`
	// SlowAfter and SlowDelay: after SlowAfter refused commands the server
	// delayed each further refusal by SlowDelay (Postfix's error sleep).
	SlowAfter int      `yaml:"slow_after,omitempty"`
	SlowDelay Duration `yaml:"slow_delay,omitempty"`
	// MaxLine is the line length above which a command is classified as
	// "overlong" (default 4096).
	MaxLine int `yaml:"max_line,omitempty"`
}

// TLSLook describes the certificate the original server presented after
// STARTTLS (or on connect). The emulator generates a self-signed look-alike
// at start: same names, dates, serial and key type, its own key.
type TLSLook struct {
	Subject   string    `yaml:"subject"`
	Issuer    string    `yaml:"issuer,omitempty"`
	DNSNames  []string  `yaml:"dns_names,omitempty"`
	Serial    string    `yaml:"serial,omitempty"` // hex
	NotBefore time.Time `yaml:"not_before"`
	NotAfter  time.Time `yaml:"not_after"`
	Key       string    `yaml:"key"` // RSA-2048, RSA-3072, ECDSA-P256...
	// Relative: the original made its certificate shortly before the
	// recording; the emulator shifts the validity by the time since
	// recorded.at, so it stays as fresh as the original's.
	Relative bool `yaml:"relative,omitempty"`
}

// SSHLook is what an SSH client sees before the key exchange.
type SSHLook struct {
	// Ident is the identification line without CR LF.
	Ident string `yaml:"ident"`
	// Prebanner are text lines sent before the identification (RFC 4253 4.2).
	Prebanner []string `yaml:"prebanner,omitempty"`
	// KexInitFirst: the server sent its KEXINIT right after its
	// identification, before the client's.
	KexInitFirst bool `yaml:"kexinit_first,omitempty"`
	// KexInit holds the name-lists of the server's SSH_MSG_KEXINIT in wire
	// order; the 16-byte cookie is random in every session.
	KexInit KexInit `yaml:"kexinit"`
}

// KexInit is an SSH_MSG_KEXINIT without its cookie.
type KexInit struct {
	Kex             []string `yaml:"kex"`
	HostKey         []string `yaml:"host_key"`
	CiphersC2S      []string `yaml:"ciphers_c2s"`
	CiphersS2C      []string `yaml:"ciphers_s2c"`
	MACsC2S         []string `yaml:"macs_c2s"`
	MACsS2C         []string `yaml:"macs_s2c"`
	CompressionC2S  []string `yaml:"compression_c2s"`
	CompressionS2C  []string `yaml:"compression_s2c"`
	LanguagesC2S    []string `yaml:"languages_c2s,omitempty"`
	LanguagesS2C    []string `yaml:"languages_s2c,omitempty"`
	FirstKexFollows bool     `yaml:"first_kex_follows,omitempty"`
	Reserved        uint32   `yaml:"reserved,omitempty"`
}

// Entry is one answer of the personality: in State, a command of class
// Command with an argument of class Arg draws Reply.
type Entry struct {
	State   string `yaml:"state"`
	Command string `yaml:"command"`
	Arg     string `yaml:"arg,omitempty"`
	// Sent is the request the recorder sent, escaped, for the reader.
	Sent  string `yaml:"sent,omitempty"`
	Reply `yaml:",inline"`
}

// Reply is what the server sent back, with placeholders (see Expand).
type Reply struct {
	// Lines of a line-protocol reply, each without its line end.
	Lines []string `yaml:"lines,omitempty"`
	// Raw is a reply that is not a sequence of whole lines, as text with
	// placeholders; Go-style escapes are not interpreted (YAML's are).
	Raw string `yaml:"raw,omitempty"`
	// RawB64 is a reply that is not UTF-8 text (base64, no placeholders).
	RawB64 string `yaml:"raw_b64,omitempty"`
	// HTTP responses: status line, header lines in wire order, body.
	Status  string   `yaml:"status,omitempty"`
	Headers []string `yaml:"headers,omitempty"`
	Body    string   `yaml:"body,omitempty"`
	// BodyB64 holds a body that is not UTF-8 text (base64, no placeholders).
	BodyB64 string `yaml:"body_b64,omitempty"`
	// BodyRef names a body of the personality's bodies map.
	BodyRef string `yaml:"body_ref,omitempty"`
	// Silent: the server sent nothing back.
	Silent bool `yaml:"silent,omitempty"`
	// Close: the server hung up after the reply.
	Close bool `yaml:"close,omitempty"`
	// Delay before the reply (the server's own slowness, e.g. after a
	// failed login); rounded to 100 ms, omitted under 250 ms.
	Delay Duration `yaml:"delay,omitempty"`
	// Then is the session state after the reply (default: unchanged).
	Then string `yaml:"then,omitempty"`
	// Synthetic marks a reply the recorder could not observe and wrote
	// from the protocol's standard (e.g. SMTP end of data: the recorder
	// never delivers mail).
	Synthetic bool `yaml:"synthetic,omitempty"`
	// Error marks a reply that counts toward Limits.MaxErrors.
	Error bool `yaml:"error,omitempty"`
}

// Duration is a time.Duration written as "1.5s" in YAML.
type Duration time.Duration

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: %w", n.Line, n.Value, err)
	}
	if v < 0 || v > time.Minute {
		return fmt.Errorf("line %d: duration %q out of range (0-1m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// IsZero lets omitempty drop zero delays.
func (d Duration) IsZero() bool { return d == 0 }

// Load reads and validates a personality file.
func Load(path string) (*Personality, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("personality: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("personality %s: %w", path, err)
	}
	return p, nil
}

// maxFile caps a personality file: recorded answers are small, and a file
// the emulator keeps in memory for every session must stay so.
const maxFile = 8 << 20

// Parse decodes and validates a personality.
func Parse(b []byte) (*Personality, error) {
	if len(b) > maxFile {
		return nil, fmt.Errorf("file larger than %d bytes", maxFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Personality
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate checks what the emulator relies on.
func (p *Personality) Validate() error {
	var errs []error
	if p.Format != FormatVersion {
		errs = append(errs, fmt.Errorf("format %d: this portrait reads format %d", p.Format, FormatVersion))
	}
	known := false
	for _, k := range Protocols {
		known = known || p.Protocol == k
	}
	if !known {
		errs = append(errs, fmt.Errorf("protocol %q: want one of %s", p.Protocol, strings.Join(Protocols, ", ")))
	}
	switch p.EOL {
	case "", "crlf", "lf":
	default:
		errs = append(errs, fmt.Errorf("eol %q: want crlf or lf", p.EOL))
	}
	if p.Protocol == "ssh" && (p.SSH == nil || !strings.HasPrefix(p.SSH.Ident, "SSH-")) {
		errs = append(errs, errors.New("ssh: an identification line starting with SSH- is required"))
	}
	if p.Protocol != "ssh" && p.Protocol != "http" && p.Greeting == nil {
		errs = append(errs, errors.New("greeting is required"))
	}
	check := func(where string, r *Reply) {
		if r == nil {
			return
		}
		for _, s := range append(append([]string{r.Raw, r.Status, r.Body}, r.Lines...), r.Headers...) {
			if err := CheckTemplate(s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				return
			}
		}
	}
	for name, b := range p.Bodies {
		if err := CheckTemplate(b); err != nil {
			errs = append(errs, fmt.Errorf("bodies.%s: %w", name, err))
		}
	}
	check("greeting", p.Greeting)
	check("limits.error_close", p.Limits.ErrorClose)
	for i := range p.Replies {
		e := &p.Replies[i]
		if e.State == "" || e.Command == "" {
			errs = append(errs, fmt.Errorf("replies[%d]: state and command are required", i))
		}
		check(fmt.Sprintf("replies[%d] (%s %s %s)", i, e.State, e.Command, e.Arg), &e.Reply)
		if e.BodyRef != "" {
			if _, ok := p.Bodies[e.BodyRef]; !ok {
				errs = append(errs, fmt.Errorf("replies[%d]: body_ref %q is not in bodies", i, e.BodyRef))
			}
		}
	}
	if p.TLS != nil && p.TLS.Key != "" {
		if _, err := keySpec(p.TLS.Key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Marshal writes p as YAML with a header comment.
func (p *Personality) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# portrait personality (format %d): %s server recorded from %s.\n", FormatVersion, p.Protocol, p.Recorded.From)
	buf.WriteString("# Format: docs/personality.md. Serve it: portrait emulate --personality FILE --listen 127.0.0.1:PORT\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// eol returns the line end bytes.
func (p *Personality) eol() string {
	if p.EOL == "lf" {
		return "\n"
	}
	return "\r\n"
}
