package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/fingerprint/catalogs"
	"github.com/portrait-scanner/portrait/internal/config"
	"github.com/portrait-scanner/portrait/netscan/portspec"
	"github.com/portrait-scanner/portrait/protocol/all"
	"github.com/portrait-scanner/portrait/report"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/target"
)

type scanOpts struct {
	inputFiles      []string
	exclude         []string
	excludeFiles    []string
	maxCIDR         string
	maxCIDR6        string
	ports           string
	topPorts        int
	profile         string
	scanMethod      string
	concurrency     int
	hostConc        int
	rate            float64
	timeout         time.Duration
	retries         int
	noFingerprint   bool
	rules           []string
	bannerWait      time.Duration
	portTimeout     time.Duration
	probeTimeout    time.Duration
	maxProtocols    int
	intensity       int
	fpConcurrency   int
	noTLS           bool
	allPorts        bool
	output          string
	outputFile      string
	reportClosed    bool
	noProgress      bool
	noDiscover      bool
	onlyDiscover    bool
	discoverProfile string
	nmap            nmapOpts // nmapflag.go
	ws              wsOpts   // wsflags.go
	intel           intelOpts
}

func newScanCmd(g *globals) *cobra.Command {
	o := &scanOpts{}
	cmd := &cobra.Command{
		Use:   "scan [flags] TARGET...",
		Short: "Scan targets: find open ports and fingerprint what listens on them",
		Long: `Scan finds the open TCP ports of the targets and identifies every service on them.

Targets: IPv4/IPv6 addresses, CIDR networks (10.0.0.0/24), ranges (10.0.0.1-10.0.0.50 or
10.0.0.1-50), host names (every A and AAAA record), -iL FILE (one spec a line, # comments).
Networks larger than /16 (IPv4) are refused unless --max-cidr raises the limit.

Ports: -p 22,80,443 | -p 1-1024 | -p- (all) | --top-ports N | --profile quick (top 100),
standard (top 1000, the default) or deep (all 65535).

Scan methods (--scan, comma separated): syn (the default with root or CAP_NET_RAW; without
them portrait says so and uses connect), connect, udp. -p U:53,T:80 splits ports by protocol;
UDP scans default to the top 100 UDP ports.

Host discovery runs first (--discover-profile fast: ICMP echo; standard, the default: ICMP +
ARP on local networks; deep: + TCP SYN; tcp: TCP only) and only live hosts are port-scanned;
--no-discover scans every target (nmap -Pn), --only-discover lists live hosts (nmap -sn).`,
		Example: `  portrait scan 127.0.0.1 -p 1-65535
  portrait scan -iL targets.txt --top-ports 1000 --exclude 10.0.0.5 -o jsonl > out.jsonl
  portrait scan example.internal 10.1.0.0/24 192.168.1.10-40 -p 22,80,443 --profile deep -v`,
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.inputFiles, "input-file", "i", nil, "read targets from FILE (-iL FILE; '-' for stdin)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "exclude targets (same syntax as targets; repeatable, comma separated)")
	f.StringArrayVar(&o.excludeFiles, "exclude-file", nil, "exclude the targets listed in FILE")
	f.StringVar(&o.maxCIDR, "max-cidr", "", "largest IPv4 network one spec may cover, as a prefix length (default /16; 8 or /8 raises it)")
	f.StringVar(&o.maxCIDR6, "max-cidr6", "", "largest IPv6 network one spec may cover (default /112)")
	f.StringVarP(&o.ports, "ports", "p", "", "ports: 22,80,443 | 1-1024 | - (all)")
	f.IntVar(&o.topPorts, "top-ports", 0, "scan the N most common TCP ports")
	f.StringVar(&o.profile, "profile", "", "port profile: quick (top 100), standard (top 1000), deep (all)")
	f.StringVar(&o.scanMethod, "scan", "", "scan methods: syn, connect, udp, or a combination such as syn,udp (default syn when privileged, else connect)")
	f.IntVar(&o.concurrency, "concurrency", 0, "connections in flight at once (default 1000, capped by the open-file limit)")
	f.IntVar(&o.hostConc, "host-concurrency", 0, "connections in flight per host (default 256)")
	f.Float64Var(&o.rate, "rate", 0, "probes per second (default: connect unlimited, SYN 10000, UDP 2000; no cap on loopback)")
	f.DurationVar(&o.timeout, "timeout", 0, "connect timeout (default 1.5s, adapted to measured RTTs)")
	f.IntVar(&o.retries, "retries", -1, "retries of a port that did not answer (default 1)")
	f.BoolVar(&o.noFingerprint, "no-fingerprint", false, "skip service fingerprinting: report port states only")
	f.StringArrayVar(&o.rules, "rules", nil, "extra fingerprint rule file (YAML, docs/rules.md); repeatable")
	f.DurationVar(&o.bannerWait, "banner-wait", 0, "how long a port is given to speak first (default 500ms)")
	f.DurationVar(&o.probeTimeout, "probe-timeout", 0, "timeout of one fingerprint probe (default 1s)")
	f.DurationVar(&o.portTimeout, "port-timeout", 0, "time budget of one port's whole fingerprint (default 15s)")
	f.IntVar(&o.maxProtocols, "max-protocols", 0, "stop probing a port after this many protocols confirmed (default 3)")
	f.IntVar(&o.intensity, "version-intensity", -1, "0-9: how many rare data probes unknown services get (default 7)")
	f.IntVar(&o.fpConcurrency, "fingerprint-concurrency", 0, "ports fingerprinted at once (default 64)")
	f.BoolVar(&o.noTLS, "no-tls", false, "do not try TLS on ports that are silent")
	f.BoolVar(&o.allPorts, "fingerprint-all-ports", false, "also probe the raw printer ports 9100-9107 (printers print what they receive)")
	f.StringVarP(&o.output, "output", "o", "", "output format: table, json, jsonl, csv, html, nmap-xml (default table)")
	f.StringVar(&o.outputFile, "output-file", "", "write results to FILE instead of stdout")
	f.BoolVar(&o.reportClosed, "report-closed", false, "also report closed and filtered ports")
	f.BoolVar(&o.noProgress, "no-progress", false, "no progress line on a terminal")
	f.BoolVar(&o.noDiscover, "no-discover", false, "skip host discovery: scan every target (nmap -Pn)")
	f.BoolVar(&o.onlyDiscover, "only-discover", false, "host discovery only: report live hosts, scan no ports (nmap -sn)")
	f.StringVar(&o.discoverProfile, "discover-profile", "", "host discovery: fast (ICMP), standard (ICMP+ARP, default), deep (+TCP SYN), tcp")
	addNmapFlags(cmd, o)
	addWorkspaceFlags(cmd, o)
	addIntelFlags(cmd, o) // intelflags.go
	fixed := func(vals ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return vals, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = cmd.RegisterFlagCompletionFunc("output", fixed(report.Formats...))
	_ = cmd.RegisterFlagCompletionFunc("profile", fixed("quick", "standard", "deep"))
	_ = cmd.RegisterFlagCompletionFunc("scan", fixed("syn", "connect", "udp", "syn,udp", "connect,udp"))
	_ = cmd.RegisterFlagCompletionFunc("discover-profile", fixed("fast", "standard", "deep", "tcp"))
	_ = cmd.RegisterFlagCompletionFunc("rules", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
	return cmd
}

// expandShortFlags turns nmap-style -iL and -p- into their long forms.
func expandShortFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a == "-iL":
			out = append(out, "--input-file")
		case strings.HasPrefix(a, "-iL") && len(a) > 3:
			out = append(out, "--input-file="+a[3:])
		case a == "-p-":
			out = append(out, "--ports=-")
		default:
			out = append(out, a)
		}
	}
	return out
}

func runScan(cmd *cobra.Command, g *globals, o *scanOpts, args []string) error {
	ctx := cmd.Context()
	if err := resumeScan(cmd, g, o, &args); err != nil {
		return err
	}
	cfgPath, explicit := g.configPath, g.configPath != ""
	if !explicit {
		cfgPath = config.DefaultPath()
	}
	cf, err := config.Load(cfgPath, explicit)
	if err != nil {
		return usageError{err}
	}
	if err := checkDurations(o, cf); err != nil {
		return err
	}
	plan, err := planScan(g, o, cf)
	if err != nil {
		return err
	}
	format := firstStr(o.output, cf.Output.Format, "table")
	verbose := g.verbose > 0 || cf.Output.Verbose

	// Ports.
	var ports, udpPorts []int
	if plan.scansTCP() {
		if ports, err = choosePorts(o, cf); err != nil {
			return usageError{err}
		}
	}
	if plan.udp && !plan.only {
		if udpPorts, err = chooseUDPPorts(o, cf); err != nil {
			return usageError{err}
		}
	}

	// Targets: parsed and checked before anything is scanned.
	if len(args) == 0 && len(o.inputFiles) == 0 {
		return usagef("no targets given (try: portrait scan 127.0.0.1)")
	}
	tcfg := target.Config{Specs: args, Files: o.inputFiles, Exclude: append(append([]string{}, cf.Scanner.Exclude...), o.exclude...), ExcludeFiles: o.excludeFiles}
	if l := firstStr(o.maxCIDR, cf.Scanner.TargetExpansion.MaxCIDRSize); l != "" {
		if tcfg.MaxPrefixV4, err = target.ParseLimit(l); err != nil {
			return usageError{err}
		}
	}
	if l := firstStr(o.maxCIDR6, cf.Scanner.TargetExpansion.MaxCIDRSizeV6); l != "" {
		if tcfg.MaxPrefixV6, err = target.ParseLimit(l); err != nil {
			return usageError{err}
		}
	}
	if r := cf.Scanner.TargetExpansion.ResolveHostname; r != nil && !*r {
		tcfg.Resolver = noResolver{}
	}
	var resolveErrs []scan.ErrorRecord
	tcfg.OnResolveError = func(name string, err error) {
		g.log.Warn("target did not resolve", "name", name, "err", err)
		resolveErrs = append(resolveErrs, scan.ErrorRecord{Target: name, Error: err.Error()})
	}
	set, err := target.Load(ctx, tcfg)
	if err != nil {
		var fe *os.PathError
		if errors.As(err, &fe) {
			return err
		}
		return usageError{err}
	}

	// Fingerprint engine.
	var engine *fingerprint.Engine
	fpEnabled := !o.noFingerprint && (cf.Fingerprint.Enabled == nil || *cf.Fingerprint.Enabled)
	if fpEnabled {
		engine, err = buildEngine(ctx, g, o, cf)
		if err != nil {
			return err
		}
	}

	// Output: to a file it goes through a temporary name and is renamed when
	// complete, so an interrupted scan never leaves a half-written report
	// where a finished one is expected (JSONL to stdout streams instead).
	w := g.stdout
	var tmp *os.File
	if o.outputFile != "" {
		tmp, err = os.CreateTemp(dirOf(o.outputFile), ".portrait-*.tmp")
		if err != nil {
			return fmt.Errorf("output file: %w", err)
		}
		defer os.Remove(tmp.Name())
		w = tmp
	}
	sink, err := report.New(format, w, verbose)
	if err != nil {
		return usageError{err}
	}

	ps, err := portScan(g, o, cf, set, plan, ports, udpPorts, engine)
	if err != nil {
		return err
	}
	scfg := scan.Config{
		Meta:                   scan.Meta{Scanner: "portrait " + fingerprint.Version, Targets: append(append([]string{}, args...), prefixAll("-iL ", o.inputFiles)...), Ports: len(ports) + len(udpPorts)},
		PortScan:               ps,
		Engine:                 engine,
		FingerprintConcurrency: firstInt(o.fpConcurrency, cf.Fingerprint.Concurrency),
		ReportClosed:           o.reportClosed,
		Errors:                 resolveErrs,
		Log:                    g.log,
	}
	if !o.noProgress && isTerminal(os.Stderr) {
		total := set.Count() * uint64(len(ports)+len(udpPorts))
		scfg.Progress = func(p scan.Progress) {
			fmt.Fprintf(g.stderr, "\r\033[K%d/%d ports, %d open, %d identified, %d in progress", p.PortsDone, total, p.Open, p.Fingerprints, p.Pending)
		}
	}
	if err := applyIntel(ctx, g, o, &scfg); err != nil { // intelflags.go: profile, vuln, risk stages
		return err
	}
	if sink, err = applyWorkspace(cmd, g, o, args, &scfg, sink); err != nil {
		return err
	}
	_, err = scan.Run(ctx, scfg, sink)
	if scfg.Progress != nil {
		fmt.Fprint(g.stderr, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("scan interrupted: %w", ctx.Err())
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("output file: %w", err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("output file: %w", err)
		}
		if err := os.Rename(tmp.Name(), o.outputFile); err != nil {
			return fmt.Errorf("output file: %w", err)
		}
	}
	return nil
}

func buildEngine(ctx context.Context, g *globals, o *scanOpts, cf *config.File) (*fingerprint.Engine, error) {
	// Builtin YAML < recog (embedded, or a synced snapshot) < synced YAML <
	// the user's --rules files.
	cat, sources, err := catalogs.LoadCatalogs(ctx, catalogs.Options{Rules: append(append([]string{}, cf.Fingerprint.Rules...), o.rules...)})
	if err != nil {
		return nil, usageError{err}
	}
	for _, s := range sources {
		g.log.Debug("catalog loaded", "name", s.Name, "rules", s.Rules, "version", s.Version, "stale", s.Stale)
		if s.Stale {
			g.log.Warn("synced fingerprint catalog is older than its TTL (run: portrait fingerprint sync)", "name", s.Name)
		}
	}
	probes, err := fingerprint.BuiltinProbes()
	if err != nil {
		return nil, err
	}
	intensity := 7
	if cf.Fingerprint.Intensity != nil {
		intensity = *cf.Fingerprint.Intensity
	}
	if o.intensity >= 0 {
		intensity = o.intensity
	}
	if intensity < 0 || intensity > 9 {
		return nil, usagef("invalid --version-intensity %d (want 0-9)", intensity)
	}
	fc := fingerprint.Config{
		BannerWait:    firstDur(o.bannerWait, cf.Fingerprint.BannerWait.Get(0)),
		ProbeTimeout:  firstDur(o.probeTimeout, cf.Fingerprint.ProbeTimeout.Get(0)),
		PortTimeout:   firstDur(o.portTimeout, cf.Fingerprint.PortTimeout.Get(0)),
		MaxProtocols:  firstInt(o.maxProtocols, cf.Fingerprint.MaxProtocols),
		Intensity:     intensity,
		NoTLS:         o.noTLS || cf.Fingerprint.NoTLS,
		ProbeAllPorts: o.allPorts,
	}
	if fc.Intensity == 0 {
		fc.Intensity = -1 // explicit 0: no rare probes
	}
	if err := applyNmapProbes(g, o, cat, &fc, intensity); err != nil {
		return nil, err
	}
	return fingerprint.New(fc, all.Modules(), cat, probes, g.log), nil
}

func choosePorts(o *scanOpts, cf *config.File) ([]int, error) {
	n := 0
	for _, set := range []bool{o.ports != "", o.topPorts > 0, o.profile != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("give only one of -p, --top-ports and --profile")
	}
	switch {
	case o.ports != "":
		return portspec.ParseTCP(o.ports)
	case o.topPorts > 0:
		return topPorts(o.topPorts)
	case o.profile != "":
		return portspec.Profile(o.profile)
	case cf.Scanner.Ports != "":
		return portspec.ParseTCP(cf.Scanner.Ports)
	case cf.Scanner.TopPorts > 0:
		return topPorts(cf.Scanner.TopPorts)
	case cf.Scanner.Profile != "":
		return portspec.Profile(cf.Scanner.Profile)
	}
	return portspec.Profile("standard")
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func firstStr(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func firstInt(s ...int) int {
	for _, x := range s {
		if x > 0 {
			return x
		}
	}
	return 0
}

// checkDurations refuses negative timeouts, from flags or the config file:
// taken as "unset" they would silently mean the default.
func checkDurations(o *scanOpts, cf *config.File) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"--timeout", o.timeout}, {"--banner-wait", o.bannerWait}, {"--probe-timeout", o.probeTimeout}, {"--port-timeout", o.portTimeout},
		{"scanner.timeout", time.Duration(cf.Scanner.Timeout.D)}, {"fingerprint.banner_wait", time.Duration(cf.Fingerprint.BannerWait.D)},
		{"fingerprint.timeout", time.Duration(cf.Fingerprint.ProbeTimeout.D)}, {"fingerprint.port_timeout", time.Duration(cf.Fingerprint.PortTimeout.D)},
	} {
		if d.v < 0 {
			return usagef("%s must not be negative (got %s)", d.name, d.v)
		}
	}
	return nil
}

func firstDur(s ...time.Duration) time.Duration {
	for _, x := range s {
		if x > 0 {
			return x
		}
	}
	return 0
}

func prefixAll(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// noResolver refuses every lookup: the config said not to resolve names
// (scanner.target_expansion.resolve_hostnames: false), so each host name
// given is reported as not scanned, per name, and the rest goes on.
type noResolver struct{}

func (noResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return nil, errors.New("host name resolution is off (scanner.target_expansion.resolve_hostnames: false)")
}
