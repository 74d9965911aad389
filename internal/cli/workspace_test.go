package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/notify"
	"github.com/portrait-scanner/portrait/store"
)

// bannerServer listens on a free loopback port and greets each connection
// like an SSH server, so that the scan finds and names something.
func bannerServer(t *testing.T, banner string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, banner)
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, io.LimitReader(c, 4096))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func scanArgs(ws string, ports ...int) []string {
	var ps []string
	for _, p := range ports {
		ps = append(ps, strconv.Itoa(p))
	}
	return []string{"scan", "127.0.0.1", "-p", strings.Join(ps, ","), "--scan", "connect", "--no-discover", "--no-progress",
		"--workspace-dir", ws, "-o", "jsonl", "--banner-wait", "300ms"}
}

// TestWorkspaceCommands scans a local server twice, with a change between,
// and runs the workspace commands on the archive.
func TestWorkspaceCommands(t *testing.T) {
	ws := t.TempDir()
	p1 := bannerServer(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	closed := freePort(t)
	code, out, errs := run(scanArgs(ws, p1, closed)...)
	if code != 0 || !strings.Contains(out, `"OpenSSH"`) {
		t.Fatalf("scan 1: exit %d\n%s\n%s", code, out, errs)
	}
	p2 := bannerServer(t, "220 (vsFTPd 3.0.3)\r\n")
	if code, out, errs = run(scanArgs(ws, p1, p2)...); code != 0 {
		t.Fatalf("scan 2: exit %d\n%s\n%s", code, out, errs)
	}
	w, _ := store.Open(ws)
	ids, _ := w.IDs()
	if len(ids) != 2 {
		t.Fatalf("%d scans archived", len(ids))
	}
	// The archive holds what the output said.
	res, err := w.Results(ids[1])
	if err != nil || !res.Complete() || len(res.Services) != 2 {
		t.Fatalf("archive: %v, %+v", err, res)
	}
	if lines := strings.Count(out, "\n"); lines != len(res.Order) {
		t.Errorf("stdout had %d records, the archive %d", lines, len(res.Order))
	}
	banners, _ := os.ReadDir(filepath.Join(w.ScanDir(ids[1]), store.BannersDir))
	found := false
	for _, b := range banners {
		if strings.HasPrefix(b.Name(), "127.0.0.1-"+strconv.Itoa(p1)+"-") {
			found = true
		}
	}
	if !found {
		t.Errorf("no banner artifact for port %d: %v", p1, banners)
	}

	code, out, _ = run("scans", "list", "--workspace-dir", ws)
	if code != 0 || !strings.Contains(out, ids[0]) || !strings.Contains(out, "done") {
		t.Errorf("scans list: %d\n%s", code, out)
	}
	code, out, _ = run("scans", "list", "--workspace-dir", ws, "--product", "vsftpd", "-o", "json")
	var rows []scanListRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].ID != ids[1] {
		t.Errorf("scans list --product: %d %s", code, out)
	}
	code, out, _ = run("scans", "show", "latest", "--workspace-dir", ws)
	if code != 0 || !strings.Contains(out, "state    done") || !strings.Contains(out, "vsftpd") {
		t.Errorf("scans show: %d\n%s", code, out)
	}
	code, out, _ = run("diff", "--workspace-dir", ws)
	if code != 0 || !strings.Contains(out, "port-opened") || !strings.Contains(out, "127.0.0.1:"+strconv.Itoa(p2)+"/tcp") || strings.Contains(out, strconv.Itoa(closed)) {
		t.Errorf("diff: %d\n%s", code, out)
	}
	for _, f := range []string{"html", "nmap-xml", "csv", "json"} {
		code, out, errs = run("report", "latest", "-o", f, "--workspace-dir", ws)
		if code != 0 || !strings.Contains(out, "vsftpd") {
			t.Errorf("report -o %s: %d %s\n%s", f, code, errs, out)
		}
	}
	if code, _, errs = run("report", "latest", "-o", "html", "--save", "--workspace-dir", ws); code != 0 {
		t.Errorf("report --save: %s", errs)
	}
	if _, err := os.Stat(filepath.Join(w.ScanDir(ids[1]), store.ReportsDir, "report.html")); err != nil {
		t.Error(err)
	}

	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("policies:\n  - name: ssh only\n    hosts: [\"127.0.0.1\"]\n    allow: [\""+strconv.Itoa(p1)+"/ssh\"]\n    only: true\n"), 0o644)
	code, out, errs = run("policy", "check", "--policy", pol, "--workspace-dir", ws)
	if code != exitFailure || !strings.Contains(out, "unexpected-port") || !strings.Contains(out, strconv.Itoa(p2)) || !strings.Contains(errs, "1 deviation") {
		t.Errorf("policy check: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ = run("policy", "check", "--policy", pol, ids[0], "--workspace-dir", ws); code != 0 || !strings.Contains(out, "no deviation") {
		t.Errorf("policy check of the first scan: %d %s", code, out)
	}

	code, out, _ = run("workspace", "reindex", "--workspace-dir", ws)
	if code != 0 || !strings.Contains(out, "indexed 2 scans") {
		t.Errorf("reindex: %d %s", code, out)
	}
	code, out, _ = run("workspace", "gc", "--max-scans", "1", "--workspace-dir", ws)
	if code != 0 || !strings.Contains(out, "removed "+ids[0]) {
		t.Errorf("gc: %d %s", code, out)
	}
	if code, _, _ = run("scans", "rm", "latest", "--workspace-dir", ws); code != 0 {
		t.Error("rm failed")
	}
	if ids, _ := w.IDs(); len(ids) != 0 {
		t.Errorf("left %v", ids)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"scan", "127.0.0.1", "--resume", "latest", "--workspace-dir", ws},
		{"scan", "--resume", "nope", "--workspace-dir", ws},
		{"scan", "--resume", "latest", "-p", "22", "--workspace-dir", ws},
		{"report", "nope", "--workspace-dir", ws},
		{"policy", "check", "--workspace-dir", ws},
		{"monitor", "--every", "1h", "--workspace-dir", ws},
	} {
		if code, _, errs := run(args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errs)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

// TestNoWorkspace: nothing is written with --no-workspace.
func TestNoWorkspace(t *testing.T) {
	ws := t.TempDir()
	p := bannerServer(t, "SSH-2.0-OpenSSH_9.2p1\r\n")
	args := append(scanArgs(ws, p), "--no-workspace")
	if code, _, errs := run(args...); code != 0 {
		t.Fatal(errs)
	}
	if ents, _ := os.ReadDir(filepath.Join(ws, "scans")); len(ents) != 0 {
		t.Errorf("archived anyway: %v", ents)
	}
}

// TestMonitorNotifies runs a monitor twice; a port opens between the runs:
// the second run's diff and the new policy deviation reach the webhook once.
func TestMonitorNotifies(t *testing.T) {
	ws := t.TempDir()
	var mu sync.Mutex
	var got []notify.WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.Verify("k", body, r.Header.Get("X-Portrait-Signature")) {
			http.Error(w, "bad signature", 401)
			return
		}
		var p notify.WebhookPayload
		json.Unmarshal(body, &p)
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer hook.Close()
	os.WriteFile(filepath.Join(ws, store.SettingsFile), []byte(`notifications:
  channels:
    - {name: hook, type: webhook, url: "`+hook.URL+`", secret: k}
  rules:
    - {name: changes, channels: [hook], min_severity: medium}
`), 0o644)
	p1 := bannerServer(t, "SSH-2.0-OpenSSH_9.2p1\r\n")
	p2 := freePort(t)
	pol := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(pol, []byte("policies:\n  - {name: ssh only, hosts: [\"*\"], allow: [\""+strconv.Itoa(p1)+"\"], only: true}\n"), 0o644)

	// Open p2 once the first run is archived.
	go func() {
		w, _ := store.Open(ws)
		for i := 0; i < 200; i++ {
			if ids, _ := w.IDs(); len(ids) == 1 {
				if st, err := w.Status(ids[0]); err == nil && st.State == store.StateDone {
					ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p2))
					if err == nil {
						t.Cleanup(func() { ln.Close() })
						go func() {
							for {
								c, err := ln.Accept()
								if err != nil {
									return
								}
								c.Close()
							}
						}()
					}
					return
				}
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	code, out, errs := run("monitor", "--every", "2s", "--count", "2", "--name", "lab", "--policy", pol, "--workspace-dir", ws, "--",
		"127.0.0.1", "-p", strconv.Itoa(p1)+","+strconv.Itoa(p2), "--scan", "connect", "--no-discover", "--banner-wait", "300ms")
	if code != 0 {
		t.Fatalf("monitor: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "run 1") || !strings.Contains(out, "first run") || !strings.Contains(out, "run 2") || !strings.Contains(out, "port-opened") {
		t.Errorf("monitor output:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d webhook deliveries, want 1: %+v", len(got), got)
	}
	kinds := map[string]int{}
	for _, e := range got[0].Events {
		kinds[e.Kind]++
	}
	if kinds["port-opened"] != 1 || kinds["policy/unexpected-port"] != 1 || len(got[0].Events) != 2 {
		t.Errorf("events %+v", got[0].Events)
	}
}

// Notification channels and rules may live in the config file: a policy
// deviation reaches the config file's webhook; the same channel name in
// workspace.yaml as well is an error; a bad notifications section in the
// config file stops any command that reads it.
func TestNotificationsFromConfigFile(t *testing.T) {
	ws := t.TempDir()
	var mu sync.Mutex
	deliveries := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.Verify("cfg", body, r.Header.Get("X-Portrait-Signature")) {
			http.Error(w, "bad signature", 401)
			return
		}
		mu.Lock()
		deliveries++
		mu.Unlock()
	}))
	defer hook.Close()
	p1 := bannerServer(t, "SSH-2.0-OpenSSH_9.2p1\r\n")
	if code, _, errs := run("scan", "127.0.0.1", "-p", strconv.Itoa(p1), "--scan", "connect", "--no-discover", "--workspace-dir", ws); code != 0 {
		t.Fatalf("scan: %s", errs)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("policies:\n  - {name: nothing, hosts: [\"127.0.0.1\"], only: true}\n"), 0o644)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(`notifications:
  channels:
    - {name: hook, type: webhook, url: "`+hook.URL+`", secret: cfg}
  rules:
    - {name: all, channels: [hook], min_severity: info}
`), 0o644)
	code, _, errs := run("--config", cfg, "policy", "check", "--policy", pol, "--notify", "--workspace-dir", ws)
	if code != exitFailure || !strings.Contains(errs, "notified hook") {
		t.Errorf("policy check --notify: exit %d\n%s", code, errs)
	}
	mu.Lock()
	if deliveries != 1 {
		t.Errorf("%d deliveries, want 1", deliveries)
	}
	mu.Unlock()

	os.WriteFile(filepath.Join(ws, store.SettingsFile), []byte("notifications:\n  channels:\n    - {name: hook, type: slack, url: \"http://127.0.0.1:1/x\"}\n"), 0o644)
	if code, _, errs := run("--config", cfg, "policy", "check", "--policy", pol, "--notify", "--workspace-dir", ws); code != exitUsage || !strings.Contains(errs, `two channels named "hook"`) {
		t.Errorf("duplicate channel: exit %d\n%s", code, errs)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("notifications:\n  channels:\n    - {name: x, type: pigeon}\n"), 0o644)
	if code, _, errs := run("--config", bad, "scan", "127.0.0.1", "-p", strconv.Itoa(p1), "--no-workspace"); code != exitUsage || !strings.Contains(errs, "pigeon") {
		t.Errorf("bad notifications in the config file: exit %d\n%s", code, errs)
	}
}
