package prototest

// Transcripts: recorded server dialogues, the one format every module
// package keeps in its testdata/.
//
// # File format
//
// A transcript is a JSON file testdata/<name>.json:
//
//	{
//	 "note": "lab 127.0.0.1:21 vsftpd 3.0.3 (Debian 12)",
//	 "encoding": "latin1",
//	 "tls": false,
//	 "conns": [
//	  [
//	   {"got": "220 (vsFTPd 3.0.3)\r\n"},
//	   {"sent": "FEAT\r\n", "got": "211-Features:\r\n ...", "starttls": false},
//	   {"sent": "QUIT\r\n", "got": "221 Goodbye.\r\n", "close": true}
//	  ]
//	 ],
//	 "fields": {"ftp.banner": "220 (vsFTPd 3.0.3)"}
//	}
//
//   - note says where the recording came from: "real: ..." or "lab ..." for a
//     live server, "synthetic: ..." for one written by hand from a spec.
//   - encoding says how "sent" and "got" hold bytes: "hex" (the default when
//     absent, for binary protocols) or "latin1" (each byte one rune, so text
//     protocols stay readable; lossless for any byte).
//   - tls is true when every connection runs inside TLS from its first byte
//     (imaps, pop3s): the bytes are the plaintext inside the tunnel.
//   - conns holds one list of steps per connection, in dial order. A step is
//     what the client sent (empty for a server greeting) and what the server
//     answered before the client wrote again; close marks that the server
//     then hung up, starttls that both sides then started TLS (the recording
//     stops there: what follows is encrypted).
//   - fields are the evidence fields the module produced while recording
//     (informative; tests state their own expectations).
//
// Recording: Record runs a module against a live server on 127.0.0.1 through
// a tap on every connection and writes the file; it only runs with
// PORTRAIT_RECORD=1 (go test -run Record ./protocol/<name>/). Replay:
// ServeTranscript plays the file from a loopback fake server, RunTranscript
// and RunRecorded run a module against it the way the engine does.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/protocol"
	"github.com/portrait-scanner/portrait/protocol/wire"
)

// Byte encodings of a transcript file's "sent" and "got" strings.
const (
	EncodingHex    = "hex"
	EncodingLatin1 = "latin1"
)

// Transcript is one recorded run. Step strings hold raw bytes whatever the
// file's encoding.
type Transcript struct {
	Note     string
	Encoding string // EncodingHex ("" means hex) or EncodingLatin1, for the file
	TLS      bool
	Conns    [][]Step
	Fields   map[string]string
}

// Step is one client write (empty for a greeting) and the server bytes that
// followed it.
type Step struct {
	Sent     string
	Got      string
	Close    bool // the server hung up after Got
	StartTLS bool // the server started TLS after Got
}

type fileTranscript struct {
	Note     string            `json:"note"`
	Encoding string            `json:"encoding,omitempty"`
	TLS      bool              `json:"tls,omitempty"`
	Conns    [][]fileStep      `json:"conns"`
	Fields   map[string]string `json:"fields,omitempty"`
}

type fileStep struct {
	Sent     string `json:"sent,omitempty"`
	Got      string `json:"got,omitempty"`
	Close    bool   `json:"close,omitempty"`
	StartTLS bool   `json:"starttls,omitempty"`
}

// MarshalJSON writes the file format, encoding bytes as tr.Encoding says.
func (tr *Transcript) MarshalJSON() ([]byte, error) {
	enc, err := encoder(tr.Encoding)
	if err != nil {
		return nil, err
	}
	f := fileTranscript{Note: tr.Note, Encoding: tr.Encoding, TLS: tr.TLS, Fields: tr.Fields, Conns: [][]fileStep{}}
	if f.Encoding == EncodingHex {
		f.Encoding = ""
	}
	for _, c := range tr.Conns {
		steps := []fileStep{}
		for _, s := range c {
			steps = append(steps, fileStep{Sent: enc(s.Sent), Got: enc(s.Got), Close: s.Close, StartTLS: s.StartTLS})
		}
		f.Conns = append(f.Conns, steps)
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads the file format.
func (tr *Transcript) UnmarshalJSON(b []byte) error {
	var f fileTranscript
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	dec, err := decoder(f.Encoding)
	if err != nil {
		return err
	}
	*tr = Transcript{Note: f.Note, Encoding: f.Encoding, TLS: f.TLS, Fields: f.Fields}
	for i, c := range f.Conns {
		var steps []Step
		for j, s := range c {
			sent, err := dec(s.Sent)
			if err != nil {
				return fmt.Errorf("conn %d step %d sent: %w", i, j, err)
			}
			got, err := dec(s.Got)
			if err != nil {
				return fmt.Errorf("conn %d step %d got: %w", i, j, err)
			}
			steps = append(steps, Step{Sent: sent, Got: got, Close: s.Close, StartTLS: s.StartTLS})
		}
		tr.Conns = append(tr.Conns, steps)
	}
	return nil
}

func encoder(encoding string) (func(string) string, error) {
	switch encoding {
	case "", EncodingHex:
		return func(s string) string { return hex.EncodeToString([]byte(s)) }, nil
	case EncodingLatin1:
		return func(s string) string { return wire.Latin1([]byte(s)) }, nil
	}
	return nil, fmt.Errorf("unknown transcript encoding %q", encoding)
}

func decoder(encoding string) (func(string) (string, error), error) {
	switch encoding {
	case "", EncodingHex:
		return func(s string) (string, error) {
			b, err := hex.DecodeString(s)
			return string(b), err
		}, nil
	case EncodingLatin1:
		return func(s string) (string, error) {
			b := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xff {
					return "", fmt.Errorf("rune %U is not Latin-1", r)
				}
				b = append(b, byte(r))
			}
			return string(b), nil
		}, nil
	}
	return nil, fmt.Errorf("unknown transcript encoding %q", encoding)
}

// transcriptPath is testdata/<name>, with ".json" added when name has no
// extension.
func transcriptPath(name string) string {
	if filepath.Ext(name) != ".json" {
		name += ".json"
	}
	return filepath.Join("testdata", name)
}

// LoadTranscript reads testdata/<name>.json (name may carry the ".json").
func LoadTranscript(t testing.TB, name string) *Transcript {
	t.Helper()
	b, err := os.ReadFile(transcriptPath(name))
	if err != nil {
		t.Fatal(err)
	}
	tr := new(Transcript)
	if err := json.Unmarshal(b, tr); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr
}

// Save writes tr as an indented file at path.
func (tr *Transcript) Save(path string) error {
	b, err := json.MarshalIndent(tr, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Answers returns every non-empty server answer of a transcript, in order,
// for fuzz seeds.
func (tr *Transcript) Answers() [][]byte {
	var out [][]byte
	for _, c := range tr.Conns {
		for _, s := range c {
			if s.Got != "" {
				out = append(out, []byte(s.Got))
			}
		}
	}
	return out
}

// Options tune how a transcript is replayed.
type Options struct {
	// Exact fails the test when the client's bytes differ from the recorded
	// ones (for deterministic dialogues; random tokens need the default).
	Exact bool
	// Loose answers each client write with the next recorded answer, however
	// much or little the client sent.
	Loose bool
	// StartTLS gives the module a STARTTLS helper that really handshakes
	// with the fake server (which starts TLS after a starttls step).
	StartTLS bool
	// Claim fails the test when a server-first module does not claim the
	// recorded banner (Run only logs it).
	Claim bool
	// Port, when set, is the Env.Port the module sees instead of the
	// loopback listener's port (modules that behave by port).
	Port int
}

// ServeTranscript replays tr from a loopback server and returns its address:
// the n-th accepted connection plays the n-th recorded one. Before each
// answer it waits for the client's request: as many bytes as were recorded,
// or what arrived once the client paused (random tokens may change a
// request's length; with Options.Exact it waits on while the bytes match).
// It never reads past the recorded length, so a TLS ClientHello after a
// STARTTLS command stays unread.
func ServeTranscript(t testing.TB, tr *Transcript, opt Options) string {
	var next atomic.Int32
	return Serve(t, func(c net.Conn) {
		i := int(next.Add(1)) - 1
		if i >= len(tr.Conns) {
			return
		}
		if tr.TLS {
			tc := tls.Server(c, serverTLS(t))
			if err := tc.Handshake(); err != nil {
				t.Errorf("replay tls: %v", err)
				return
			}
			c = tc
		}
		buf := make([]byte, 65536)
		for j, s := range tr.Conns[i] {
			if s.Sent != "" {
				var req []byte
				var err error
				if opt.Loose {
					var n int
					n, err = c.Read(buf)
					req = buf[:n]
				} else {
					req, err = readRequest(c, s.Sent, opt.Exact)
				}
				if err != nil {
					return
				}
				if opt.Exact && string(req) != s.Sent {
					t.Errorf("conn %d step %d: client sent %q, recorded %q", i, j, req, s.Sent)
					return
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if s.Got != "" {
				if _, err := c.Write([]byte(s.Got)); err != nil {
					return
				}
			}
			if s.StartTLS && !opt.Loose {
				tc := tls.Server(c, serverTLS(t))
				if err := tc.Handshake(); err != nil {
					t.Errorf("replay starttls: %v", err)
					return
				}
				c = tc
			}
			if s.Close {
				return
			}
		}
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

// readRequest reads the client's request, at most len(want) bytes. Unless
// exact, it settles for fewer once the client pauses for 300ms after sending
// some. When exact it returns at the first byte that differs from want, and
// waits through pauses while what came is a prefix of want: the recording
// may hold two writes with the client's own timeout between them (a command
// the server never answered, then the next one).
func readRequest(c net.Conn, want string, exact bool) ([]byte, error) {
	buf := make([]byte, len(want))
	have := 0
	start := time.Now()
	for have < len(buf) {
		if have > 0 {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		}
		k, err := c.Read(buf[have:])
		have += k
		if exact && string(buf[:have]) != want[:have] {
			return buf[:have], nil
		}
		if err != nil {
			if isTimeout(err) && have > 0 {
				if exact && time.Since(start) < 10*time.Second {
					continue
				}
				break
			}
			return buf[:have], err
		}
	}
	return buf[:have], nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RunTranscript replays tr on loopback and runs m against it the way the
// engine does (passive banner first, inside TLS when tr.TLS).
func RunTranscript(t testing.TB, m protocol.Module, tr *Transcript, opt Options) (*protocol.Result, error) {
	t.Helper()
	return run(t, m, ServeTranscript(t, tr, opt), tr.TLS, opt)
}

// RunRecorded runs m against the replayed testdata/<name>.json.
func RunRecorded(t testing.TB, m protocol.Module, name string) (*protocol.Result, error) {
	t.Helper()
	return RunTranscript(t, m, LoadTranscript(t, name), Options{})
}

// clientTLS is the STARTTLS helper given to modules in replays and
// recordings: it trusts any certificate and reports the version reached.
func clientTLS(ctx context.Context, c net.Conn) (*tls.Conn, map[string]string, error) {
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "lab.local"})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, nil, err
	}
	return tc, map[string]string{"tls.version": tls.VersionName(tc.ConnectionState().Version)}, nil
}

var (
	certOnce sync.Once
	certCfg  *tls.Config
	certErr  error
)

// serverTLS is a throwaway self-signed certificate for replayed TLS servers.
func serverTLS(t testing.TB) *tls.Config {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab.local"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			DNSNames: []string{"lab.local"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		certCfg = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	})
	if certErr != nil {
		t.Fatalf("test certificate: %v", certErr)
	}
	return certCfg
}

// SkipUnlessRecord skips a test that talks to live servers unless
// PORTRAIT_RECORD is set.
func SkipUnlessRecord(t testing.TB) {
	t.Helper()
	if os.Getenv("PORTRAIT_RECORD") == "" {
		t.Skip("set PORTRAIT_RECORD=1 to record from a live server on 127.0.0.1")
	}
}

// Recording says what Record records and where it writes it.
type Recording struct {
	Name     string        // the file is testdata/<Name>.json
	Port     int           // the live server's port on 127.0.0.1
	Note     string        // the transcript's note
	Hostname string        // Env.Hostname
	TLS      bool          // every connection runs inside TLS
	StartTLS bool          // the module gets a STARTTLS helper
	Text     bool          // keep the bytes as Latin-1 text rather than hex
	Timeout  time.Duration // Env.Timeout; 3s when zero
}

// Record runs m against a live server on 127.0.0.1 through a tap that keeps
// every byte of every connection, and writes the transcript. It is skipped
// unless PORTRAIT_RECORD is set; it fails the test when the module fails.
func Record(t *testing.T, m protocol.Module, r Recording) *protocol.Result {
	t.Helper()
	SkipUnlessRecord(t)
	var mu sync.Mutex
	var taps []*tap
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port))
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if r.TLS {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, fmt.Errorf("tls: %w", err)
			}
			c = tc
		}
		tp := &tap{Conn: c, mu: &mu}
		mu.Lock()
		taps = append(taps, tp)
		mu.Unlock()
		return tp, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	env := protocol.Env{Host: "127.0.0.1", Hostname: r.Hostname, Port: r.Port, TLS: r.TLS,
		Timeout: timeout, MaxRead: 64 << 10, Dial: dial}
	if r.StartTLS {
		env.StartTLS = func(ctx context.Context, c net.Conn) (*tls.Conn, map[string]string, error) {
			tp, ok := c.(*tap)
			if !ok {
				return clientTLS(ctx, c)
			}
			mu.Lock()
			tp.off = true
			if k := len(tp.steps) - 1; k >= 0 {
				tp.steps[k].StartTLS = true
			}
			mu.Unlock()
			return clientTLS(ctx, tp.Conn)
		}
	}
	var banner []byte
	if m.Info().ServerFirst {
		banner = ReadBanner(conn)
	}
	res, err := m.Run(ctx, conn, banner, env)
	if err != nil {
		t.Fatalf("run against %s: %v", addr, err)
	}
	conn.Close()
	mu.Lock()
	tr := &Transcript{Note: r.Note, TLS: r.TLS, Fields: res.Fields}
	if r.Text {
		tr.Encoding = EncodingLatin1
	}
	for _, tp := range taps {
		tr.Conns = append(tr.Conns, tp.steps)
	}
	err = tr.Save(transcriptPath(r.Name))
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %v", addr, res.Fields)
	return res
}

// tap records what passes through a connection: consecutive writes make one
// step's Sent, reads until the next write its Got.
type tap struct {
	net.Conn
	mu    *sync.Mutex
	steps []Step
	off   bool // stopped at a STARTTLS upgrade
}

func (c *tap) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return n, err
	}
	if k := len(c.steps) - 1; k >= 0 && c.steps[k].Got == "" && !c.steps[k].Close && c.steps[k].Sent != "" {
		c.steps[k].Sent += string(b[:n])
	} else {
		c.steps = append(c.steps, Step{Sent: string(b[:n])})
	}
	return n, err
}

func (c *tap) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off {
		return n, err
	}
	if len(c.steps) == 0 {
		c.steps = append(c.steps, Step{})
	}
	c.steps[len(c.steps)-1].Got += string(b[:n])
	if err != nil && !isTimeout(err) {
		c.steps[len(c.steps)-1].Close = true
	}
	return n, err
}

// RecordResponses runs m against the live server on 127.0.0.1:port and
// writes each exchange's response to testdata/<dir>/<probe>.bin, for
// packages whose tests serve raw answers. Skipped unless PORTRAIT_RECORD is
// set.
func RecordResponses(t *testing.T, m protocol.Module, dir string, port int) *protocol.Result {
	t.Helper()
	SkipUnlessRecord(t)
	res, err := Run(t, m, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	path := filepath.Join("testdata", dir)
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, ex := range res.Exchanges {
		if err := os.WriteFile(filepath.Join(path, ex.Probe+".bin"), ex.Response, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: service=%s conf=%d fields=%q", dir, res.Service, res.Confidence, res.Fields)
	return res
}

// Testdata reads the file testdata/<parts...>.
func Testdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SeedAnswers adds every step's answer of every transcript in testdata/ to
// the fuzz corpus, empty ones included (a silent server is an input too).
func SeedAnswers(f *testing.F) {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		for _, c := range LoadTranscript(f, filepath.Base(file)).Conns {
			for _, s := range c {
				f.Add([]byte(s.Got))
			}
		}
	}
}
