package cli

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/portrait-scanner/portrait/compliance"
	"github.com/portrait-scanner/portrait/profile"
	"github.com/portrait-scanner/portrait/risk"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/vuln"
	"github.com/portrait-scanner/portrait/vuln/builtin"
	"github.com/portrait-scanner/portrait/vuln/vulndb"
)

// intelOpts are the flags of the stages after fingerprinting: asset
// profiling (5), vulnerability evaluation (6), risk and compliance (7).
// There is no --intrusive flag: no check logs in or changes state.
type intelOpts struct {
	noProfile  bool   // --no-profile
	noVuln     bool   // --no-vuln
	noRisk     bool   // --no-risk
	noProbes   bool   // --no-vuln-probes
	intrusive  bool   // --intrusive
	vulnDB     string // --vulndb PATH
	compliance string // --compliance pci-dss,cis
	internal   string // --internal-ranges
}

// addIntelFlags registers the intelligence stages' flags on the scan
// command.
func addIntelFlags(cmd *cobra.Command, o *scanOpts) {
	f := cmd.Flags()
	f.BoolVar(&o.intel.noProfile, "no-profile", false, "skip asset profiling (device type, OS, stack; the \"asset\" records)")
	f.BoolVar(&o.intel.noVuln, "no-vuln", false, "skip vulnerability evaluation (CVEs, misconfigurations, end of life; the \"finding\" records)")
	f.BoolVar(&o.intel.noRisk, "no-risk", false, "skip risk scoring and compliance")
	f.BoolVar(&o.intel.intrusive, "intrusive", false, "also run the checks that log in with default credentials (RabbitMQ guest/guest, MySQL/MariaDB\nroot without a password, PostgreSQL postgres without or with password \"postgres\"): a success\nis a session in the target's logs")
	f.BoolVar(&o.intel.noProbes, "no-vuln-probes", false, "vulnerability evaluation from the fingerprint evidence only: no extra requests\n(legacy TLS versions and weak suites, status/admin pages, open-proxy test)")
	f.StringVar(&o.intel.vulnDB, "vulndb", "", "CVE database (default: vulndb.sqlite in the workspace; \"none\": builtin set only;\nfill it with: portrait vulndb sync | import)")
	f.StringVar(&o.intel.compliance, "compliance", "", "judge hosts against frameworks: pci-dss, cis, nist-800-53 (comma separated),\nor a mapping file (docs/intel.md)")
	f.StringVar(&o.intel.internal, "internal-ranges", "", "address ranges scored as internal, not internet-facing (comma-separated CIDRs;\ndefault RFC 1918, loopback, link-local, CGNAT, IPv6 ULA)")
	_ = cmd.RegisterFlagCompletionFunc("compliance", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return compliance.Names(), cobra.ShellCompDirectiveNoFileComp
	})
}

// applyIntel appends the profile, vuln and risk stages to the pipeline.
func applyIntel(ctx context.Context, g *globals, o *scanOpts, scfg *scan.Config) error {
	in := o.intel
	if in.intrusive && in.noVuln {
		return usagef("--intrusive needs the vulnerability stage (drop --no-vuln)")
	}
	var fws []*compliance.Framework
	if in.compliance != "" {
		if in.noRisk {
			return usagef("--compliance needs the risk stage (drop --no-risk)")
		}
		var err error
		if fws, err = compliance.LoadList(in.compliance); err != nil {
			return usageError{err}
		}
	}
	cfg := risk.Config{Frameworks: fws}
	if in.internal != "" {
		rs, err := risk.ParseRanges(in.internal)
		if err != nil {
			return usageError{err}
		}
		cfg.Internal = rs
	}
	if !in.noProfile {
		scfg.Stages = append(scfg.Stages, profile.Stage{})
	}
	if !in.noVuln {
		if err := builtin.Err(); err != nil {
			return err
		}
		var sources []vulndb.Source
		db, err := openVulnDB(ctx, g, in.vulnDB)
		if err != nil {
			return err
		}
		if db != nil {
			sources = append(sources, db)
		}
		sources = append(sources, builtin.Source{})
		scfg.Stages = append(scfg.Stages, vuln.New(vuln.Config{Sources: sources, Probes: !in.noProbes, Intrusive: in.intrusive, Log: g.log}))
	}
	if !in.noRisk {
		scfg.Stages = append(scfg.Stages, risk.New(cfg))
	}
	return nil
}

// openVulnDB opens the CVE database for the scan, or returns nil (builtin
// set only) when the default one does not exist yet. A database the user
// named must open. The handle lives as long as the process.
func openVulnDB(ctx context.Context, g *globals, path string) (*vulndb.DB, error) {
	if path == "none" {
		return nil, nil
	}
	explicit := path != ""
	if !explicit {
		path = vulndb.DefaultPath()
	}
	db, err := vulndb.OpenReadOnly(ctx, path)
	if err != nil {
		if explicit {
			return nil, usageError{err}
		}
		if errors.Is(err, os.ErrNotExist) {
			g.log.Info("no CVE database yet: using the builtin set (run: portrait vulndb sync)", "path", path)
		} else {
			g.log.Warn("CVE database not usable: using the builtin set", "path", path, "err", err)
		}
		return nil, nil
	}
	return db, nil
}
