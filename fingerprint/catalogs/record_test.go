package catalogs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// TestRecordCorpus rewrites corpus/: PORTRAIT_RECORD=1 scans the lab's TCP
// ports (from PORTRAIT_LAB_TRUTH, default /work/shared/lab/truth.json) with
// the portrait binary and keeps each port's evidence fields, and collects
// the raw responses recorded in protocol/*/testdata.
func TestRecordCorpus(t *testing.T) {
	if os.Getenv("PORTRAIT_RECORD") != "1" {
		t.Skip("PORTRAIT_RECORD=1 records the corpus")
	}
	truth := os.Getenv("PORTRAIT_LAB_TRUTH")
	if truth == "" {
		truth = "/work/shared/lab/truth.json"
	}
	var lab struct {
		TCPPorts string `json:"tcp_ports"`
	}
	b, err := os.ReadFile(truth)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lab); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "portrait")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/portrait").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "scan", "127.0.0.1", "-p", lab.TCPPorts, "-o", "jsonl", "-v").Output()
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var ports []corpusPort
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			Type     string            `json:"type"`
			Port     int               `json:"port"`
			Service  string            `json:"service"`
			Evidence map[string]string `json:"evidence"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Type != "service" || len(rec.Evidence) == 0 {
			continue
		}
		for k, v := range rec.Evidence {
			if len(v) > maxCorpusValue {
				rec.Evidence[k] = v[:maxCorpusValue]
			}
		}
		ports = append(ports, corpusPort{Source: "lab 127.0.0.1:" + itoa(rec.Port), Service: rec.Service, Fields: rec.Evidence})
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Source < ports[j].Source })
	if len(ports) < 10 {
		t.Fatalf("only %d services scanned", len(ports))
	}
	writeJSONL(t, "corpus/lab-evidence.jsonl", ports)

	// Raw responses recorded by the protocol modules.
	var texts []corpusPort
	seen := map[string]bool{}
	addText := func(src string, raw []byte) {
		if len(raw) > maxCorpusValue {
			raw = raw[:maxCorpusValue]
		}
		s := fingerprint.Latin1(raw)
		if len(strings.TrimSpace(s)) < 3 || seen[s] {
			return
		}
		seen[s] = true
		texts = append(texts, corpusPort{Source: src, Fields: map[string]string{"banner": s}})
	}
	files, _ := filepath.Glob("../../protocol/*/testdata/*")
	more, _ := filepath.Glob("../../protocol/*/testdata/*/*")
	files = append(files, more...)
	sort.Strings(files)
	for _, f := range files {
		rel := strings.TrimPrefix(f, "../../")
		st, err := os.Stat(f)
		if err != nil || st.IsDir() || strings.Contains(f, "/fuzz/") || strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(f, ".json"):
			var v any
			if json.Unmarshal(b, &v) == nil {
				walkStrings(v, func(key, s string) {
					switch key {
					case "recv", "got", "response", "greeting":
						if raw, err := hex.DecodeString(s); err == nil && len(s) >= 8 {
							addText(rel, raw)
						} else {
							addText(rel, []byte(s))
						}
					}
				})
			}
		case strings.HasSuffix(f, ".bin"), strings.HasSuffix(f, ".resp"), filepath.Ext(f) == "":
			addText(rel, b)
		}
	}
	writeJSONL(t, "corpus/responses.jsonl", texts)
	t.Logf("%d lab services, %d recorded responses", len(ports), len(texts))
}

func walkStrings(v any, fn func(key, s string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok {
				fn(k, s)
			} else {
				walkStrings(e, fn)
			}
		}
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

func writeJSONL(t *testing.T, name string, recs []corpusPort) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
