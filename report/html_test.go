package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portrait-scanner/portrait/scan"
)

func TestHTMLSelfContained(t *testing.T) {
	var b bytes.Buffer
	labScan(t, NewHTML(&b), false)
	out := b.String()
	// Nothing is loaded from elsewhere: no src or href that leaves the file,
	// no @import or url() in the styles, and a CSP that forbids it anyway.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//|file:)`).FindString(out); m != "" {
		t.Errorf("external reference %q", m)
	}
	if regexp.MustCompile(`(?i)@import|url\(`).MatchString(out) {
		t.Error("styles load something")
	}
	for _, want := range []string{
		`Content-Security-Policy" content="default-src 'none'`,
		"<b id=\"n-up\">2</b>", "<b id=\"n-open\">5</b>", // summary
		"nginx 1.22.1", "OpenSSH 9.2p1", // product chart
		"CVE-2023-44487", "HTTP/2 rapid reset", "sev-high", // findings
		"web-2.test", "53/udp", "SF-Port9999", // detail
		"hello &lt;world&gt; &amp; &#34;friends&#34;", // evidence escaped
		`id="q"`, // search
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "<world>") {
		t.Error("evidence not escaped")
	}
}

func TestHTMLEmptyScan(t *testing.T) {
	var b bytes.Buffer
	s := NewHTML(&b)
	if err := s.Begin(scan.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(scan.Meta{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No host answered") {
		t.Error("empty scan not said")
	}
}

// chromiumFlags are what works as root on a closed network: no sandbox,
// and none of the background connections Chromium would otherwise try.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
	"--enable-logging=stderr", "--v=0"}

func chromium(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		need(t, "chromium") // skips, or fails in the integration run
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir()), args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, e.String())
	}
	return o.String(), e.String()
}

// consoleErrors picks the page's console errors out of Chromium's log.
func consoleErrors(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "CONSOLE") && (strings.Contains(l, "Uncaught") || strings.Contains(l, "Refused") || strings.Contains(l, "rror")) {
			out = append(out, l)
		}
	}
	return out
}

// TestHTMLInChromium renders the report in headless Chromium: the script
// runs without error, the search from the URL filters the rows, nothing is
// refused by the CSP, and a screenshot is taken (kept with
// PORTRAIT_KEEP_SCREENSHOT=path).
func TestHTMLInChromium(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	labScan(t, NewHTML(&b), false)
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page
	for _, tc := range []struct {
		hash        string
		rows, hosts string
	}{
		{"", "6", "3"},             // every port row of the 3 hosts (the down one has none)
		{"#q=nginx", "2", "1"},     // ports 80 and 443
		{"#q=bind+9.18", "1", "1"}, // the UDP DNS server on the second host
		{"#q=nothing-matches-this", "0", "0"},
	} {
		dom, log := chromium(t, "--dump-dom", url+tc.hash)
		body := regexp.MustCompile(`<body[^>]*>`).FindString(dom)
		if !strings.Contains(body, `data-ready="1"`) {
			t.Errorf("%s: the script did not run: %s", tc.hash, body)
		}
		if strings.Contains(dom, "data-errors=") {
			t.Errorf("%s: script errors: %s", tc.hash, regexp.MustCompile(`data-errors="[^"]*"`).FindString(dom))
		}
		if !strings.Contains(body, `data-shown-rows="`+tc.rows+`"`) || !strings.Contains(body, `data-shown-hosts="`+tc.hosts+`"`) {
			t.Errorf("%s: search shows %s, want %s rows and %s hosts", tc.hash, body, tc.rows, tc.hosts)
		}
		if errs := consoleErrors(log); len(errs) > 0 {
			t.Errorf("%s: console errors:\n%s", tc.hash, strings.Join(errs, "\n"))
		}
	}
	shot := filepath.Join(dir, "report.png")
	if keep := os.Getenv("PORTRAIT_KEEP_SCREENSHOT"); keep != "" {
		shot = keep
	}
	_, log := chromium(t, "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars", url)
	fi, err := os.Stat(shot)
	if err != nil || fi.Size() < 10000 {
		t.Fatalf("screenshot: %v (%d bytes)", err, sizeOf(fi))
	}
	if png, _ := os.ReadFile(shot); !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Error("screenshot is not a PNG")
	}
	if errs := consoleErrors(log); len(errs) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return 0
	}
	return fi.Size()
}
