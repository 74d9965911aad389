// Package config reads portrait's YAML configuration file. Sections mirror
// the pipeline's stages; flags given on the command line override it. Unknown
// keys are errors, so a misspelt setting never silently does nothing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/portrait-scanner/portrait/notify"
)

// File is the whole configuration.
type File struct {
	Scanner     Scanner     `yaml:"scanner"`
	Fingerprint Fingerprint `yaml:"fingerprint"`
	Discovery   Discovery   `yaml:"discovery"`
	Output      Output      `yaml:"output"`
	// Notifications are the user's notification channels and rules
	// (package notify's format); a workspace's workspace.yaml may add its
	// own.
	Notifications yaml.Node `yaml:"notifications"`

	notify *notify.Config // Notifications, parsed and checked by Load
}

// Notify returns the notification channels and rules of the file (none
// when it has no notifications section).
func (f *File) Notify() *notify.Config {
	if f.notify == nil {
		return &notify.Config{}
	}
	return f.notify
}

// Scanner configures target expansion and the port scan.
type Scanner struct {
	Ports           string          `yaml:"ports"`   // "22,80,443", "1-1024", "-"
	Profile         string          `yaml:"profile"` // quick | standard | deep
	TopPorts        int             `yaml:"top_ports"`
	Concurrency     int             `yaml:"concurrency"`
	HostConcurrency int             `yaml:"host_concurrency"`
	Rate            float64         `yaml:"rate"`
	Timeout         Duration        `yaml:"timeout"`
	Retries         *int            `yaml:"retries"`
	TargetExpansion TargetExpansion `yaml:"target_expansion"`
	Exclude         []string        `yaml:"exclude"`
}

// TargetExpansion guards against accidentally huge scans.
type TargetExpansion struct {
	MaxCIDRSize     string `yaml:"max_cidr_size"`  // "/16"
	MaxCIDRSizeV6   string `yaml:"max_cidr_size6"` // "/112"
	ResolveHostname *bool  `yaml:"resolve_hostnames"`
}

// Fingerprint configures the engine.
type Fingerprint struct {
	Enabled      *bool    `yaml:"enabled"`
	BannerWait   Duration `yaml:"banner_wait"`
	ProbeTimeout Duration `yaml:"timeout"`
	PortTimeout  Duration `yaml:"port_timeout"`
	MaxProtocols int      `yaml:"max_protocols"`
	Intensity    *int     `yaml:"intensity"`
	Concurrency  int      `yaml:"probe_concurrency"` // ports fingerprinted at once
	Rules        []string `yaml:"rules"`             // extra rule files
	NoTLS        bool     `yaml:"no_tls"`
}

// Discovery configures host discovery (stage 2).
type Discovery struct {
	Profile string `yaml:"profile"` // fast | standard | deep | tcp (--discover-profile)
}

// Output configures reporting.
type Output struct {
	Format  string `yaml:"format"`
	Verbose bool   `yaml:"verbose"`
}

// Duration is a time.Duration written as "1.5s".
type Duration struct{ D int64 }

// UnmarshalYAML parses Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.D = v
	return nil
}

// DefaultPath is the config file read when --config is not given.
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "portrait", "config.yaml")
}

// Load reads path. A missing default file is not an error (explicit=false);
// a missing file the user named is.
func Load(path string, explicit bool) (*File, error) {
	var f File
	if path == "" {
		return &f, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return &f, nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if f.notify, err = notify.ParseConfig(&f.Notifications); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &f, nil
}
