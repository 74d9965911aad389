package catalogs

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// The corpus is real evidence: every lab service's fields as a scan
// produced them (corpus/lab-evidence.jsonl) and the raw responses the
// protocol modules recorded (corpus/responses.jsonl, as "banner"), both
// written by TestRecordCorpus. It feeds the match benchmarks and the
// broad-pattern check of `portrait fingerprint validate`.
//
//go:embed corpus/*.jsonl
var corpusFS embed.FS

// maxCorpusValue caps each stored value (HTTP bodies run to 16 KiB).
const maxCorpusValue = 4096

type corpusPort struct {
	Source  string            `json:"source"`
	Service string            `json:"service,omitempty"`
	Fields  map[string]string `json:"fields"`
}

var corpusOnce struct {
	sync.Once
	entries []corpusPort
	err     error
}

func corpus() ([]corpusPort, error) {
	corpusOnce.Do(func() {
		for _, name := range []string{"corpus/lab-evidence.jsonl", "corpus/responses.jsonl"} {
			b, err := corpusFS.ReadFile(name)
			if err != nil {
				corpusOnce.err = err
				return
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
			for sc.Scan() {
				var p corpusPort
				if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
					corpusOnce.err = fmt.Errorf("%s: %w", name, err)
					return
				}
				corpusOnce.entries = append(corpusOnce.entries, p)
			}
		}
	})
	return corpusOnce.entries, corpusOnce.err
}

// CorpusEvidence returns the recorded evidence maps, one per lab service
// and one per recorded raw response: what Catalog.Match sees in a scan.
func CorpusEvidence() ([]map[string]string, error) {
	es, err := corpus()
	out := make([]map[string]string, len(es))
	for i, e := range es {
		out[i] = e.Fields
	}
	return out, err
}

// responseFields are the fields that carry what a server said in its own
// words (as opposed to derived values such as lengths and flags): the
// texts a broad pattern is tested against.
var responseFields = []string{"banner", "ssh.banner", "ftp.banner", "smtp.banner", "smtp.ehlo", "smtp.help",
	"pop3.banner", "imap.banner", "telnet.banner", "http.header.server", "http.title", "http.status_line",
	"mysql.version", "dns.version_bind", "tls.cert.subject", "tls.cert.issuer", "ldap.rootdse", "ftp.syst",
	"ftp.help", "imap.capabilities", "pop3.capa"}

// CorpusTexts returns the distinct response texts of the corpus.
func CorpusTexts() ([]string, error) {
	es, err := corpus()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range es {
		for _, f := range responseFields {
			if v := strings.TrimSpace(e.Fields[f]); len(v) >= 3 && !seen[v] {
				seen[v] = true
				out = append(out, e.Fields[f])
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Broad is a rule that matches too much of the corpus to mean anything.
type Broad struct {
	Rule    string
	Matched int
	Of      int
}

// BroadRules places every corpus text in every generic response field
// (banners, Server header, title, body: responseFields) and returns the
// rules that match more than fraction of the texts: a rule that
// recognises most responses recognises nothing. Patterns on dedicated
// fields (an X-AspNet-Version header, epmd.nodes), where any value is the
// sign, are not judged.
func BroadRules(cat *fingerprint.Catalog, fraction float64) ([]Broad, error) {
	texts, err := CorpusTexts()
	if err != nil {
		return nil, err
	}
	fields := append(append([]string{}, responseFields...), "http.body", "http.404.body", "http.404.header.server")
	counts := map[string]int{}
	for _, t := range texts {
		ev := make(map[string]string, len(fields))
		for _, f := range fields {
			ev[f] = t
		}
		for _, m := range cat.Match(ev) {
			counts[m.Rule]++
		}
	}
	var out []Broad
	for name, n := range counts {
		if float64(n) > fraction*float64(len(texts)) {
			out = append(out, Broad{Rule: name, Matched: n, Of: len(texts)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out, nil
}

// PatternFields lists the evidence fields a pattern reads (the engine's
// mapping, docs/rules.md).
func PatternFields(p fingerprint.Pattern) []string {
	switch p.Type {
	case "banner":
		return []string{"banner"}
	case "ssh_banner":
		return []string{"ssh.banner"}
	case "http_header":
		h := strings.ToLower(p.Header)
		return []string{"http.header." + h, "http.404.header." + h}
	case "http_content":
		return []string{"http.body", "http.title", "http.404.body"}
	case "tls_cert":
		return []string{"tls.cert.subject", "tls.cert.issuer", "tls.cert.san"}
	case "field":
		return []string{p.Field}
	case "response":
		return []string{"probe." + p.Probe}
	}
	return nil
}
