package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// server is one entry of testenv/run/servers.json (written by testenv/up.sh).
type server struct {
	Name           string `json:"name"`
	Port           int    `json:"port"`
	Transport      string `json:"transport"`
	TLS            bool   `json:"tls"`
	Service        string `json:"service"`
	Product        string `json:"product"`
	Package        string `json:"package"`
	PackageVersion string `json:"package_version"`
	Version        string `json:"version"`
	VersionOnWire  bool   `json:"version_on_wire"`
	Origin         string `json:"origin"`
	Listening      bool   `json:"listening"`
	Note           string `json:"note"`
}

func loadServers(t *testing.T) []server {
	t.Helper()
	path := os.Getenv("PORTRAIT_SERVERS")
	if path == "" {
		path = filepath.Join(repoRoot, "testenv", "run", "servers.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no server list (run testenv/up.sh, or bash .ci/run): %v", err)
	}
	var doc struct {
		Servers []server `json:"servers"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(doc.Servers) == 0 {
		t.Fatalf("%s lists no servers", path)
	}
	return doc.Servers
}

// minConfidence is what an identification backed by a version on the wire
// must reach: the scanner saw the product name and version spelled out.
const minConfidence = 80

// scanLimit bounds the scan of all test servers (they answer at once on
// loopback; this only keeps a hung scanner from hanging CI).
const scanLimit = 2 * time.Minute

// TestRealServers scans every server of testenv in one run and checks the
// answers against the installed Debian packages.
func TestRealServers(t *testing.T) {
	needBinary(t)
	servers := loadServers(t)

	// A server that is not there is a broken test environment: fail loudly,
	// by name, before blaming the scanner.
	var ports []int
	up := map[string]bool{}
	for _, s := range servers {
		if s.Port <= 0 {
			t.Errorf("%s: testenv could not start it: %s", s.Name, s.Note)
			continue
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 2*time.Second)
		if err != nil {
			t.Errorf("%s: server missing on 127.0.0.1:%d: %v", s.Name, s.Port, err)
			continue
		}
		c.Close()
		up[s.Name] = true
		ports = append(ports, s.Port)
	}
	if len(ports) == 0 {
		t.Fatal("no test server is listening")
	}

	r := runPortrait(t, scanLimit, "scan", "127.0.0.1", "-p", portList(ports), "-o", "jsonl")
	t.Logf("scan of %d ports took %.2fs (exit %d)", len(ports), r.Elapsed.Seconds(), r.Exit)
	if r.TimedOut {
		t.Fatalf("scan did not finish within %s; stderr:\n%s", scanLimit, tail(r.Stderr, 4000))
	}
	if r.Exit != 0 {
		t.Errorf("scan exited %d; stderr:\n%s", r.Exit, tail(r.Stderr, 4000))
	}
	recs, err := parseJSONL(r.Stdout)
	if err != nil {
		t.Fatalf("output: %v", err)
	}

	for _, s := range servers {
		if !up[s.Name] {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			if !reportedOpen(recs, s.Port) {
				t.Fatalf("port %d (%s) not reported open", s.Port, s.Product)
			}
			svcs := services(recs, s.Port)
			if len(svcs) == 0 {
				t.Fatalf("port %d: no service record", s.Port)
			}
			got := svcs[0]
			var probs []string
			if !productHas(got.Product, s.Product) {
				probs = append(probs, fmt.Sprintf("product %q, want the words of %q", got.Product, s.Product))
			}
			if s.TLS && !got.TLS {
				probs = append(probs, "tls=false, the server speaks TLS")
			}
			if s.VersionOnWire {
				if !versionHas(got.Version, s.Version) {
					probs = append(probs, fmt.Sprintf("version %q, want %s (%s %s)",
						got.Version, s.Version, s.Package, s.PackageVersion))
				}
				if got.Confidence < minConfidence {
					probs = append(probs, fmt.Sprintf("confidence %v < %d although the version is on the wire",
						got.Confidence, minConfidence))
				}
			}
			if len(probs) > 0 {
				t.Errorf("port %d: %s\n%s", s.Port, strings.Join(probs, "; "), got.brief())
			}
		})
	}
}
