package fingerprint

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed probes.yaml
var builtinProbes []byte

// Probe is a data probe: bytes to send and when to send them. Protocols
// that need a real dialogue are modules (code); everything a single request
// can reveal is a probe (data).
type Probe struct {
	Name      string   `yaml:"name"`
	Transport string   `yaml:"transport"`
	Payload   string   `yaml:"payload"` // {host} and {port} are substituted
	Ports     []int    `yaml:"ports"`
	TLSPorts  []int    `yaml:"tls_ports"`
	Rarity    int      `yaml:"rarity"`   // 1 (common) - 9 (rare): run on unknown services when rarity <= intensity
	Wait      string   `yaml:"wait"`     // how long to wait for the answer ("1s")
	After     []string `yaml:"after"`    // run when one of these rules, products or services was identified
	Fallback  string   `yaml:"fallback"` // probe whose rules also apply (informational)
	wait      time.Duration
}

// ProbeFile is the YAML document of the probe catalog.
type ProbeFile struct {
	Probes []Probe `yaml:"probes"`
}

// ParseProbes reads a probe catalog.
func ParseProbes(r io.Reader) ([]Probe, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f ProbeFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("probe catalog: %w", err)
	}
	seen := map[string]bool{}
	for i := range f.Probes {
		p := &f.Probes[i]
		if p.Name == "" || p.Payload == "" {
			return nil, fmt.Errorf("probe catalog: probe %d needs a name and a payload", i+1)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("probe catalog: probe %q defined twice", p.Name)
		}
		seen[p.Name] = true
		if p.Transport == "" {
			p.Transport = "tcp"
		}
		if p.Rarity == 0 {
			p.Rarity = 5
		}
		p.wait = time.Second
		if p.Wait != "" {
			d, err := time.ParseDuration(p.Wait)
			if err != nil {
				return nil, fmt.Errorf("probe catalog: probe %q: wait: %w", p.Name, err)
			}
			p.wait = d
		}
	}
	return f.Probes, nil
}

// BuiltinProbes returns the embedded probe catalog.
func BuiltinProbes() ([]Probe, error) { return ParseProbes(bytes.NewReader(builtinProbes)) }

func (p *Probe) payload(host string, port int) []byte {
	s := strings.ReplaceAll(p.Payload, "{host}", host)
	s = strings.ReplaceAll(s, "{port}", strconv.Itoa(port))
	// YAML strings are UTF-8; payload bytes above 0x7f are written as \u00XX
	// and sent as single bytes (Latin-1), so binary payloads round-trip.
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = append(out, string(r)...)
		}
	}
	return out
}

func (p *Probe) onPort(port int, tls bool) bool {
	return onPort(p.Ports, port) || (tls && onPort(p.TLSPorts, port))
}
