package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
)

func sfGlobals() (*globals, *bytes.Buffer) {
	var out bytes.Buffer
	return &globals{stdout: &out, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}, &out
}

// scanRecord is a portrait JSONL service record carrying a fingerprint.
func scanRecord(t *testing.T, host string, port int, xs []fingerprint.Exchange) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": "service", "host": host, "port": port, "transport": "tcp",
		"state": "open", "fingerprint": fingerprint.SF(port, "tcp", xs)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromSF(t *testing.T) {
	jsonl := strings.Join([]string{
		`{"type":"scan","scanner":"portrait"}`,
		scanRecord(t, "10.0.0.1", 25672, []fingerprint.Exchange{{Probe: "GetRequest", Response: []byte("\x00\x00\x00\x03\xffERR v12.3\r\n")}}),
		scanRecord(t, "10.0.0.2", 7000, []fingerprint.Exchange{{Probe: "NULL", Response: []byte("WIDGET server 4.2 ready\r\n")}}),
		scanRecord(t, "10.0.0.3", 7443, []fingerprint.Exchange{{Probe: "NULL", TLS: true, Response: []byte("HELLO over tls\r\n")}}),
	}, "\n")
	g, out := sfGlobals()
	cmd := newFromSFCmd(g)
	cmd.SetArgs([]string{writeFile(t, "scan.jsonl", jsonl)})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	yml := out.String()
	rules, err := fingerprint.ParseRules(strings.NewReader(yml), "skeleton")
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	if len(rules) != 3 {
		t.Fatalf("%d rules\n%s", len(rules), yml)
	}
	want := []struct{ name, typ, probe, field, regex string }{
		{"custom-25672-getrequest", "response", "GetRequest", "", `^\x00\x00\x00\x03\xffERR v`}, // cut before the version
		{"custom-7000-null", "banner", "", "", `^WIDGET server `},
		{"custom-7443-null", "field", "", "tls.banner", `^HELLO over tls\r\n`},
	}
	for i, w := range want {
		p := rules[i].Patterns[0]
		if rules[i].Name != w.name || p.Type != w.typ || p.Probe != w.probe || p.Field != w.field || p.Regex != w.regex {
			t.Errorf("rule %d: %s %+v, want %+v", i, rules[i].Name, p, w)
		}
	}
	// Every skeleton identifies its own example (from-sf checks it too).
	cat := fingerprint.NewCatalog()
	if err := cat.Add(rules...); err != nil {
		t.Fatal(err)
	}
	if _, failures := cat.CheckExamples(); len(failures) > 0 {
		t.Errorf("examples fail: %v", failures)
	}
}

func TestFromSFNmapOutput(t *testing.T) {
	g, out := sfGlobals()
	cmd := newFromSFCmd(g)
	cmd.SetArgs([]string{"../../fingerprint/testdata/sf/nmap-7.93-lab.txt"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	rules, err := fingerprint.ParseRules(strings.NewReader(out.String()), "skeleton")
	if err != nil || len(rules) != 4 {
		t.Fatalf("%d rules, %v", len(rules), err)
	}
	if rules[0].Name != "custom-23-null" || rules[0].Patterns[0].Type != "banner" {
		t.Errorf("telnet skeleton %+v", rules[0])
	}

	g, _ = sfGlobals()
	cmd = newFromSFCmd(g)
	cmd.SetArgs([]string{writeFile(t, "empty.txt", "nothing here\n")})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil {
		t.Error("a file without fingerprints was accepted")
	}
}

func TestGaps(t *testing.T) {
	ssh := func(v string) []fingerprint.Exchange {
		return []fingerprint.Exchange{{Probe: "NULL", Response: []byte("SSH-2.0-Widget_" + v + "\r\n")}}
	}
	jsonl := strings.Join([]string{
		scanRecord(t, "10.0.0.1", 2222, ssh("1.2")),
		scanRecord(t, "10.0.0.2", 2222, ssh("1.10")),
		scanRecord(t, "10.0.0.3", 22, ssh("7.3")),
		scanRecord(t, "10.0.0.4", 9000, []fingerprint.Exchange{{Probe: "GetRequest", Response: []byte("SSH-2.0-Widget_1.2\r\n")}}),
		`{"type":"service","host":"10.0.0.5","port":80,"service":"http","product":"nginx"}`,
	}, "\n")
	g, out := sfGlobals()
	cmd := newGapsCmd(g)
	cmd.SetArgs([]string{"-o", "json", writeFile(t, "a.jsonl", jsonl), "../../fingerprint/testdata/sf/nmap-7.93-lab.txt"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var groups []gapGroup
	if err := json.Unmarshal(out.Bytes(), &groups); err != nil {
		t.Fatal(err)
	}
	if len(groups) != 6 {
		t.Fatalf("%d groups: %+v", len(groups), groups)
	}
	top := groups[0]
	if top.Count != 3 || top.Probe != "NULL" || strings.Join(top.Where, " ") != "10.0.0.1:2222 10.0.0.2:2222 10.0.0.3:22" {
		t.Errorf("top group %+v", top)
	}
	if groups[1].Probe != "GetRequest" || groups[1].Count != 1 {
		t.Errorf("the same bytes to another probe are another gap: %+v", groups[1])
	}
	var nmapHost bool
	for _, gr := range groups {
		for _, w := range gr.Where {
			if w == "127.0.0.1:2379" {
				nmapHost = true
			}
		}
	}
	if !nmapHost {
		t.Errorf("host of nmap's output lost: %+v", groups)
	}

	g, out = sfGlobals()
	cmd = newGapsCmd(g)
	cmd.SetArgs([]string{writeFile(t, "b.jsonl", jsonl)})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "    3  NULL                 SSH-2.0-Widget_1.2\\r\\n") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestNormalizeAnswer(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"SSH-2.0-X_1.10\r\n", 16, "SSH-0.0-X_0.0\r\n"},
		{"Date: 2026-11-22 12:00:01", 12, "Date: 0-0-0 "},
		{"abc", 16, "abc"},
	}
	for _, tt := range tests {
		if got := string(normalizeAnswer([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("normalizeAnswer(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
