package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// enabled tells whether the integration tests should run at all. Tests read
// the variable again (see needBinary) so that go test's result cache keys on it.
var enabled = os.Getenv("PORTRAIT_INTEGRATION") == "1"

// binary is the portrait executable built once by TestMain; buildErr is why it
// could not be built (each test then fails with it, rather than TestMain
// aborting the whole package with no per-test report).
var (
	binary   string
	buildErr error
	repoRoot string
)

func TestMain(m *testing.M) {
	if !enabled {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "portrait-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	repoRoot, buildErr = findRepoRoot()
	if buildErr == nil {
		binary = filepath.Join(dir, "portrait")
		buildErr = build(repoRoot, binary)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// findRepoRoot walks up from the test's directory to the go.mod.
func findRepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("go.mod not found above the test directory")
		}
		d = parent
	}
}

func build(root, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/portrait")
	cmd.Dir = root
	msg, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/portrait: %w\n%s", err, msg)
	}
	return nil
}

// needBinary skips without PORTRAIT_INTEGRATION=1 and fails when the binary
// could not be built.
//
// It also defeats go test's result cache, which would otherwise replay an old
// pass although the scanner or the servers changed: the cache only tracks the
// environment variables and files a test reads while it runs, so the variable
// is read here (not only at init) and the freshly built binary, in a new
// temporary directory every run, is stat'ed.
func needBinary(t *testing.T) {
	t.Helper()
	if os.Getenv("PORTRAIT_INTEGRATION") != "1" || !enabled {
		t.Skip("set PORTRAIT_INTEGRATION=1 (bash .ci/run does) to run the integration tests")
	}
	if buildErr != nil {
		t.Fatalf("cannot build portrait: %v", buildErr)
	}
	if _, err := os.Stat(binary); err != nil {
		t.Fatalf("built binary: %v", err)
	}
}

// scanResult is one run of the binary.
type scanResult struct {
	Stdout, Stderr []byte
	Exit           int
	Elapsed        time.Duration
	TimedOut       bool
}

// runPortrait runs the binary with args, killing it after limit (a hang must
// fail the test, never the whole go test run).
func runPortrait(t *testing.T, limit time.Duration, args ...string) scanResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := scanResult{Stdout: out.Bytes(), Stderr: errb.Bytes(), Elapsed: time.Since(start)}
	r.TimedOut = ctx.Err() != nil
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Exit = ee.ExitCode()
	default:
		t.Fatalf("running %s %s: %v", binary, strings.Join(args, " "), err)
	}
	if bytes.Contains(r.Stderr, []byte("panic:")) || bytes.Contains(r.Stderr, []byte("goroutine ")) {
		t.Errorf("portrait %s panicked:\n%s", strings.Join(args, " "), tail(r.Stderr, 4000))
	}
	return r
}

// record is one JSONL line of `portrait scan -o jsonl`. Only the keys the tests
// assert on are typed; the rest (stack, evidence) stay raw.
type record struct {
	Type       string          `json:"type"`
	Host       string          `json:"host"`
	Port       int             `json:"port"`
	Transport  string          `json:"transport"`
	State      string          `json:"state"`
	Service    string          `json:"service"`
	TLS        bool            `json:"tls"`
	Product    string          `json:"product"`
	Version    string          `json:"version"`
	Confidence float64         `json:"confidence"`
	CPE        json.RawMessage `json:"cpe"`
	DurationMS float64         `json:"duration_ms"`
	raw        string
}

// parseJSONL parses the whole output; every non-blank line must be a JSON
// object (a broken line is a contract violation, reported as an error).
func parseJSONL(out []byte) ([]record, error) {
	var recs []record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return recs, fmt.Errorf("line %d is not a JSON object: %w: %.200s", n, err, line)
		}
		r.raw = string(line)
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// services returns the service records (type "service") of TCP port p.
func services(recs []record, port int) []record {
	var s []record
	for _, r := range recs {
		if r.Type == "service" && r.Port == port && (r.Transport == "" || r.Transport == "tcp") {
			s = append(s, r)
		}
	}
	return s
}

// reportedOpen: a service record for the port (or a port record) whose state,
// when given, is open.
func reportedOpen(recs []record, port int) bool {
	for _, r := range recs {
		if r.Port != port || (r.Transport != "" && r.Transport != "tcp") {
			continue
		}
		if r.Type != "service" && r.Type != "port" {
			continue
		}
		if r.State == "" || r.State == "open" || r.State == "open|filtered" {
			return true
		}
	}
	return false
}

var wordRE = regexp.MustCompile(`[a-z0-9]+`)

// productHas: every word of want occurs among the words of got
// (case-insensitive), the lab's score.py rule.
func productHas(got, want string) bool {
	have := map[string]bool{}
	for _, w := range wordRE.FindAllString(strings.ToLower(got), -1) {
		have[w] = true
	}
	ws := wordRE.FindAllString(strings.ToLower(want), -1)
	if len(ws) == 0 {
		return false
	}
	for _, w := range ws {
		if !have[w] {
			return false
		}
	}
	return true
}

// versionHas: v occurs in got as a whole token: not preceded by a letter,
// digit or dot, not followed by a digit ("9.2p1" in "9.2p1 Debian 2+deb12u10",
// but "1.2" not in "11.2" nor in "1.22").
func versionHas(got, v string) bool {
	if v == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(got[i:], v)
		if j < 0 {
			return false
		}
		j += i
		before := byte(' ')
		if j > 0 {
			before = got[j-1]
		}
		after := byte(' ')
		if e := j + len(v); e < len(got) {
			after = got[e]
		}
		if !isAlnum(before) && before != '.' && !isDigit(after) {
			return true
		}
		i = j + 1
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func portList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

// brief is a record for a failure message: every key but the bulky evidence,
// then the start of the evidence.
func (r record) brief() string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(r.raw), &m) != nil {
		return r.raw
	}
	ev := m["evidence"]
	delete(m, "evidence")
	b, _ := json.Marshal(m)
	s := string(b)
	if len(ev) > 0 {
		if len(ev) > 400 {
			ev = append(ev[:400:400], "..."...)
		}
		s += "\n        evidence: " + string(ev)
	}
	return s
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
