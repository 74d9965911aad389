package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/store"
)

// The resume acceptance test: a real scan of the lab (127.0.0.1) is
// killed with SIGKILL twice, in the middle, and `portrait scan --resume`
// finishes it; the archive then holds every record of an uninterrupted
// scan, none twice. It runs the portrait binary (built here) and needs the
// lab servers: PORTRAIT_INTEGRATION=1 (bash .ci/run sets it).

func buildPortrait(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portrait")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/portrait")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// labPorts lists the test servers' TCP ports that answer now, from
// testenv/run/servers.json (testenv/up.sh writes it), else the shared
// lab's truth.json. Only these are scanned: other listeners on the machine
// (other tests' servers) come and go between two scans.
func labPorts(t *testing.T) string {
	t.Helper()
	var ports []string
	root := filepath.Join("..", "..")
	var sj struct {
		Servers []struct {
			Port      int    `json:"port"`
			Transport string `json:"transport"`
			Listening bool   `json:"listening"`
		} `json:"servers"`
	}
	if b, err := os.ReadFile(filepath.Join(root, "testenv", "run", "servers.json")); err == nil && json.Unmarshal(b, &sj) == nil {
		for _, s := range sj.Servers {
			if s.Transport == "tcp" && s.Listening {
				ports = append(ports, strconv.Itoa(s.Port))
			}
		}
	}
	if len(ports) == 0 {
		var truth struct {
			TCP string `json:"tcp_ports"`
		}
		for _, p := range []string{filepath.Join(root, "..", "shared", "lab", "truth.json"), "/work/shared/lab/truth.json"} {
			if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &truth) == nil && truth.TCP != "" {
				ports = strings.Split(truth.TCP, ",")
				break
			}
		}
	}
	var open []string
	seen := map[string]bool{}
	for _, p := range ports {
		if seen[p] {
			continue
		}
		seen[p] = true
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
			c.Close()
			open = append(open, p)
		}
	}
	if len(open) < 8 {
		t.Fatalf("the lab is not running on 127.0.0.1 (%d of %d test server ports open): bash testenv/up.sh", len(open), len(ports))
	}
	return strings.Join(open, ",")
}

type rec struct {
	Type      string `json:"type"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	Transport string `json:"transport"`
	State     string `json:"state"`
	Service   string `json:"service"`
	Product   string `json:"product"`
	ID        string `json:"id"`
	raw       string
}

func readRecs(t *testing.T, path string) []rec {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []rec
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v: %q", path, err, sc.Text())
		}
		r.raw = sc.Text()
		out = append(out, r)
	}
	return out
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// killMidway starts a scan and SIGKILLs it once the archive holds some
// identified services but not all: it returns false if the scan ended
// first.
func killMidway(t *testing.T, cmd *exec.Cmd, scanDir string, minServices int) bool {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(120 * time.Second)
	for {
		select {
		case <-done:
			return false
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("scan did not progress in 120 s")
		case <-time.After(20 * time.Millisecond):
		}
		if countServices(scanDir) >= minServices {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return true
		}
	}
}

// countServices counts the service records archived or checkpointed.
func countServices(scanDir string) int {
	n := 0
	for _, f := range []string{store.CheckpointFile, store.ResultsFile} {
		b, _ := os.ReadFile(filepath.Join(scanDir, f))
		n += bytes.Count(b, []byte(`"type":"service"`))
	}
	return n
}

func TestResumeAfterKill9OnLab(t *testing.T) {
	if os.Getenv("PORTRAIT_INTEGRATION") != "1" {
		t.Skip("lab test: set PORTRAIT_INTEGRATION=1 (bash .ci/run does)")
	}
	ports := labPorts(t)
	bin := buildPortrait(t)
	ws := t.TempDir()
	// Slow fingerprinting (one port at a time) leaves time to kill it.
	base := []string{"scan", "127.0.0.1", "-p", ports, "--workspace-dir", ws, "--no-progress", "-o", "jsonl", "--fingerprint-concurrency", "1"}
	ctx := context.Background()

	// Reference: the same scan, uninterrupted.
	ref := exec.CommandContext(ctx, bin, append(append([]string{}, base...), "--scan-id", "reference")...)
	if out, err := ref.CombinedOutput(); err != nil {
		t.Fatalf("reference scan: %v\n%s", err, lastLines(out, 5))
	}
	refRecs := readRecs(t, filepath.Join(ws, "scans", "reference", store.ResultsFile))

	id := "killed"
	dir := filepath.Join(ws, "scans", id)
	if !killMidway(t, exec.CommandContext(ctx, bin, append(append([]string{}, base...), "--scan-id", id)...), dir, 4) {
		t.Fatal("the scan ended before it could be killed")
	}
	first := lineCount(filepath.Join(dir, store.ResultsFile))
	t.Logf("killed the scan with %d records archived and %d services checkpointed", first, lineCount(filepath.Join(dir, store.CheckpointFile)))
	// Killed again during its resume.
	resumed := killMidway(t, exec.CommandContext(ctx, bin, "scan", "--resume", id, "--workspace-dir", ws, "--no-progress", "-o", "jsonl"), dir, countServices(dir)+6)
	t.Logf("first resume killed: %v", resumed)
	// And finished.
	var stdout, stderr bytes.Buffer
	fin := exec.CommandContext(ctx, bin, "scan", "--resume", id, "--workspace-dir", ws, "--no-progress", "-o", "jsonl")
	fin.Stdout, fin.Stderr = &stdout, &stderr
	if err := fin.Run(); err != nil {
		if !resumed && strings.Contains(stderr.String(), "already complete") {
			t.Log("the first resume finished the scan")
		} else {
			t.Fatalf("resume: %v\n%s", err, stderr.String())
		}
	}

	got := readRecs(t, filepath.Join(dir, store.ResultsFile))
	seen := map[string]int{}
	for _, r := range got {
		switch r.Type {
		case "port", "service", "host":
			seen[fmt.Sprintf("%s %s:%d/%s", r.Type, r.Host, r.Port, r.Transport)]++
		default: // stage records (findings): several per port, each once
			seen[r.raw]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("%s archived %d times", k, n)
		}
	}
	if got[0].Type != "scan" || got[len(got)-1].Type != "scan-end" {
		t.Errorf("archive runs from %q to %q", got[0].Type, got[len(got)-1].Type)
	}
	// Nothing lost: the same open ports and services as the reference.
	want, have := openPorts(refRecs), openPorts(got)
	if strings.Join(want, " ") != strings.Join(have, " ") {
		t.Errorf("open ports differ from the uninterrupted scan:\nwant %v\nhave %v", want, have)
	}
	wantSvc, haveSvc := servicesOf(refRecs), servicesOf(got)
	if len(wantSvc) != len(haveSvc) {
		t.Errorf("%d services, the uninterrupted scan %d", len(haveSvc), len(wantSvc))
	}
	differ := 0
	for k, v := range wantSvc {
		if haveSvc[k] != v {
			differ++
			t.Logf("port %s: %q, uninterrupted %q", k, haveSvc[k], v)
		}
	}
	// Fingerprints of a few lab services vary with load; the records must not.
	if differ > len(wantSvc)/10 {
		t.Errorf("%d of %d services differ from the uninterrupted scan", differ, len(wantSvc))
	}
	// The stages saw the whole host: the same findings as uninterrupted,
	// give or take the few that depend on a lab server's timing (NATS
	// monitoring, TLS on pop3s), both ways.
	wf, hf := findingsOf(refRecs), findingsOf(got)
	if d := symDiff(wf, hf); len(d) > len(wf)/10 {
		t.Errorf("%d findings differ from the uninterrupted scan's %d: %v", len(d), len(wf), d)
	} else if len(d) > 0 {
		t.Logf("findings that differ (lab timing): %v", d)
	}
	if stdout.Len() > 0 {
		if n := bytes.Count(stdout.Bytes(), []byte("\n")); n != len(got) {
			t.Errorf("the resumed run printed %d records, the archive has %d", n, len(got))
		}
	}
	st, err := (&store.Workspace{Dir: ws}).Status(id)
	if err != nil || st.State != store.StateDone || len(st.Runs) < 2 {
		t.Errorf("status: %+v %v", st, err)
	}
	for _, r := range st.Runs {
		t.Logf("run: %s %.1fs skipped %d", r.State, r.Seconds, r.Skipped)
	}
}

func openPorts(rs []rec) []string {
	var out []string
	for _, r := range rs {
		if r.Type == "port" && r.State == "open" {
			out = append(out, fmt.Sprintf("%d/%s", r.Port, r.Transport))
		}
	}
	sort.Strings(out)
	return out
}

func symDiff(a, b []string) []string {
	in := func(xs []string, x string) bool {
		for _, y := range xs {
			if y == x {
				return true
			}
		}
		return false
	}
	var out []string
	for _, x := range a {
		if !in(b, x) {
			out = append(out, "-"+x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			out = append(out, "+"+x)
		}
	}
	return out
}

func findingsOf(rs []rec) []string {
	var out []string
	for _, r := range rs {
		if r.Type == "finding" {
			out = append(out, fmt.Sprintf("%d:%s", r.Port, r.ID))
		}
	}
	sort.Strings(out)
	return out
}

func servicesOf(rs []rec) map[string]string {
	out := map[string]string{}
	for _, r := range rs {
		if r.Type == "service" {
			out[fmt.Sprintf("%d/%s", r.Port, r.Transport)] = r.Service + " " + r.Product
		}
	}
	return out
}

func lastLines(b []byte, n int) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
