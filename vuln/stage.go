// Package vuln is stage 6 of the pipeline: vulnerability evaluation. For
// each host it emits "finding" records of three kinds:
//
//   - vulnerabilities: CVE records (the workspace's SQLite database from
//     `portrait vulndb`, and the builtin set) whose CPE configurations name
//     a product and version the fingerprint found, plus flaws shown by a
//     service's behaviour (Terrapin: the SSH key exchange lacks strict
//     mode);
//   - misconfigurations, read from the evidence the protocol modules
//     gathered (anonymous FTP, Redis without AUTH, TLS certificates, SMB
//     signing, missing HTTP security headers...) and from a few safe active
//     checks (legacy TLS versions and weak suites, well-known status and
//     admin pages, open proxies), which send only ordinary requests;
//   - end-of-life release branches and operating systems (a dated table).
//
// Distribution builds that carry backported fixes (Debian "+deb12u3",
// Ubuntu "4ubuntu0.x", RHEL "el8_6", or a host whose profile says so) turn
// version matches into "potential" findings, never "confirmed" ones.
// Nothing here logs in or changes state.
package vuln

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/profile"
	"github.com/portrait-scanner/portrait/profile/distro"
	"github.com/portrait-scanner/portrait/scan"
	"github.com/portrait-scanner/portrait/vuln/builtin"
	"github.com/portrait-scanner/portrait/vuln/cpe"
	"github.com/portrait-scanner/portrait/vuln/match"
	"github.com/portrait-scanner/portrait/vuln/version"
	"github.com/portrait-scanner/portrait/vuln/vulndb"
)

// Config configures the stage.
type Config struct {
	// Sources are looked up in order; a CVE found in an earlier source
	// hides the same CVE in later ones (the synced database before the
	// builtin set).
	Sources []vulndb.Source
	// NoCVE, NoChecks and NoEOL switch parts off.
	NoCVE, NoChecks, NoEOL bool
	// Probes enables the safe active checks (TLS versions and suites,
	// status pages, open proxies).
	Probes bool
	// Intrusive enables the checks that log in with default credentials
	// (login.go): a success is a session in the target's logs.
	Intrusive bool
	// ProbeTimeout bounds each active check's reads (default 3s).
	ProbeTimeout time.Duration
	// Dial opens connections for the active checks (default net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock for certificates and end-of-life dates.
	Now func() time.Time
	Log *slog.Logger
}

// Stage evaluates hosts. It is safe for concurrent use.
type Stage struct {
	cfg   Config
	mu    sync.Mutex
	cache map[string]lookupResult
}

type lookupResult struct {
	entries []vulndb.Entry
	err     error
}

// New returns the stage.
func New(cfg Config) *Stage {
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial == nil {
		d := &net.Dialer{}
		cfg.Dial = d.DialContext
	}
	return &Stage{cfg: cfg, cache: map[string]lookupResult{}}
}

// Name implements scan.Stage.
func (*Stage) Name() string { return "vuln" }

// Host implements scan.Stage.
func (st *Stage) Host(ctx context.Context, h scan.HostRecord, svcs []*fingerprint.Service, earlier []scan.Record) []scan.Record {
	var asset *profile.Asset
	for _, r := range earlier {
		if a, ok := r.(*profile.Asset); ok && a.Host == h.Host {
			asset = a
		}
	}
	fs := st.Evaluate(ctx, h, svcs, asset)
	out := make([]scan.Record, len(fs))
	for i, f := range fs {
		out[i] = f
	}
	return out
}

// Evaluate returns the findings of one host. asset may be nil (profiling
// off): then only the services' own evidence says whether builds are
// distribution builds.
func (st *Stage) Evaluate(ctx context.Context, h scan.HostRecord, svcs []*fingerprint.Service, asset *profile.Asset) []*Finding {
	hc := &hostCtx{h: h, asset: asset, now: st.cfg.Now()}
	var fs, probed []*Finding
	var pmu sync.Mutex
	var wg sync.WaitGroup
	// Active checks run per port concurrently (a few connections each).
	sem := make(chan struct{}, 8)
	for _, s := range svcs {
		if s == nil || ctx.Err() != nil {
			continue
		}
		if !st.cfg.NoCVE {
			fs = append(fs, st.cves(ctx, hc, s)...)
		}
		if !st.cfg.NoChecks {
			fs = append(fs, checks(hc, s)...)
		}
		if !st.cfg.NoEOL {
			fs = append(fs, eolProduct(hc, s)...)
		}
		if (st.cfg.Probes || st.cfg.Intrusive) && !st.cfg.NoChecks {
			wg.Add(1)
			go func(s *fingerprint.Service) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				var got []*Finding
				if st.cfg.Probes {
					got = st.probe(ctx, hc, s)
				}
				if st.cfg.Intrusive {
					got = append(got, st.logins(ctx, hc, s)...)
				}
				pmu.Lock()
				probed = append(probed, got...)
				pmu.Unlock()
			}(s)
		}
	}
	wg.Wait()
	fs = append(fs, probed...)
	if !st.cfg.NoEOL {
		fs = append(fs, eolOS(hc)...)
	}
	fs = dedupe(fs)
	for _, f := range fs {
		f.Type = "finding"
		if f.Host == "" {
			f.Host = h.Host
		}
		if f.Hostname == "" {
			f.Hostname = h.Hostname
		}
		if f.Status == Potential {
			f.Tags = addTag(f.Tags, "potential")
		}
	}
	Sort(fs)
	return fs
}

// hostCtx is what the checks know about the host.
type hostCtx struct {
	h     scan.HostRecord
	asset *profile.Asset
	now   time.Time
}

func dedupe(fs []*Finding) []*Finding {
	seen := map[string]bool{}
	out := fs[:0]
	for _, f := range fs {
		k := f.ID + "|" + strconv.Itoa(f.Port)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}

// ---- CVE matching ----

// product is one product found on a port that can be matched.
type product struct {
	name    string
	version string
	cpe     cpe.Name
	keys    []string
}

// products lists the port's main product and the components its stack
// names with a version (OpenSSL in a Server header, PHP). Other server
// entries of the stack are alternatives the engine ranked lower (MariaDB's
// "5.5.5-" MySQL compatibility prefix), not products on the port.
func products(s *fingerprint.Service) []product {
	var out []product
	add := func(name, v, c string) {
		n, err := cpe.Parse(c)
		if err != nil || n.Vendor == cpe.Any || n.Product == cpe.Any {
			return
		}
		vv, ok := version.Clean(v)
		if !ok {
			vv, ok = version.Clean(n.Version)
			if !ok || n.Version == cpe.Any || n.Version == cpe.NA {
				vv = ""
			}
		}
		for _, p := range out {
			if p.cpe.Key() == n.Key() {
				return
			}
		}
		out = append(out, product{name: name, version: vv, cpe: n, keys: builtin.Aliases(n.Key())})
	}
	if s.CPE != "" {
		add(s.Product, s.Version, s.CPE)
	}
	for _, t := range s.Stack {
		if t.CPE == "" || t.Role == "server" || t.Role == "os" || t.Version == "" {
			continue
		}
		add(t.Product, t.Version, t.CPE)
	}
	return out
}

func (st *Stage) lookup(ctx context.Context, keys []string) ([]vulndb.Entry, error) {
	ck := strings.Join(keys, ",")
	st.mu.Lock()
	r, ok := st.cache[ck]
	st.mu.Unlock()
	if ok {
		return r.entries, r.err
	}
	seen := map[string]bool{}
	var all []vulndb.Entry
	var firstErr error
	for _, src := range st.cfg.Sources {
		es, err := src.Lookup(ctx, keys)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			st.cfg.Log.Warn("vulnerability lookup failed", "keys", ck, "err", err)
			continue
		}
		for _, e := range es {
			if !seen[e.CVE.ID] {
				seen[e.CVE.ID] = true
				all = append(all, e)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CVE.ID < all[j].CVE.ID })
	st.mu.Lock()
	st.cache[ck] = lookupResult{all, firstErr}
	st.mu.Unlock()
	return all, firstErr
}

func (st *Stage) cves(ctx context.Context, hc *hostCtx, s *fingerprint.Service) []*Finding {
	var out []*Finding
	for _, p := range products(s) {
		if p.version == "" {
			continue // no version, no range check: nothing to say
		}
		entries, _ := st.lookup(ctx, p.keys)
		for _, e := range entries {
			if len(e.CVE.Configurations) == 0 {
				continue
			}
			res := match.Evaluate(e.CVE.Configurations, match.Target{Keys: p.keys, Version: p.version, Platform: hc.platform})
			if res.Affected == match.False {
				continue
			}
			if res.Affected == match.Unknown && versionAmbiguous(res.Reasons) {
				// "15" against "< 15.3": every CVE of the family would
				// match; say nothing rather than flood.
				st.cfg.Log.Debug("version too short for a CVE range", "cve", e.CVE.ID, "port", s.Port, "version", p.version)
				continue
			}
			out = append(out, st.cveFinding(hc, s, p, e, res))
		}
	}
	return out
}

func versionAmbiguous(reasons []string) bool {
	for _, r := range reasons {
		if strings.HasPrefix(r, "detected version") || r == "no version detected" {
			return true
		}
	}
	return false
}

func (st *Stage) cveFinding(hc *hostCtx, s *fingerprint.Service, p product, e vulndb.Entry, res match.Result) *Finding {
	c := e.CVE
	f := &Finding{
		ID: c.ID, CVE: c.ID, Port: s.Port, Transport: s.Transport, Service: s.Service,
		Kind: KindVulnerability, Check: "cve", Title: c.ID, Description: c.Description,
		Severity: c.Severity(), CVSS: cvssOf(c.CVSS), CWEs: c.CWEs, Status: Confirmed, Confidence: 90,
		Product: p.name, Version: p.version, CPE: p.cpe.WithVersion(p.version).String(),
		Affected: res.Range, FixedIn: res.FixedIn, Published: c.Published, Source: e.Source,
		References: c.References, Evidence: versionEvidence(s),
	}
	if f.Severity == "" {
		f.Severity = "medium"
		f.StatusReasons = append(f.StatusReasons, "the record has no CVSS score yet; severity assumed medium")
	}
	if info, ok := builtin.Info(c.ID); ok {
		f.Title = info.Title
		f.Remediation = info.Remediation
		if info.Scope == "client" {
			f.Status = Potential
			f.StatusReasons = append(f.StatusReasons, "the flaw is in the product's client side, which a scan of the server cannot see")
		}
	}
	if f.Remediation == "" {
		if res.FixedIn != "" {
			f.Remediation = fmt.Sprintf("Upgrade %s to %s or later (or a build of your distribution that fixes %s).", p.name, res.FixedIn, c.ID)
		} else {
			f.Remediation = fmt.Sprintf("Upgrade %s to a release that fixes %s; see the references.", p.name, c.ID)
		}
	}
	if res.Affected == match.Unknown {
		f.Status = Potential
		f.Confidence = 40
		f.StatusReasons = append(f.StatusReasons, res.Reasons...)
	}
	if why := backported(hc, s); why != "" {
		f.Status = Potential
		f.StatusReasons = append(f.StatusReasons, why)
	}
	if f.Status == Potential && f.Confidence > 50 {
		f.Confidence = 50
	}
	if e.KEV != nil {
		f.KEV = &KEV{DateAdded: e.KEV.DateAdded, DueDate: e.KEV.DueDate, Ransomware: e.KEV.Ransomware, Action: e.KEV.Action}
		f.Tags = addTag(f.Tags, "kev")
	}
	if e.EPSS != nil {
		f.EPSS = &EPSS{Score: e.EPSS.EPSS, Percentile: e.EPSS.Percentile, Date: e.EPSSDate}
	}
	f.Tags = addTag(f.Tags, "cve")
	return f
}

// versionEvidence keeps the fields that showed the product's version.
func versionEvidence(s *fingerprint.Service) map[string]string {
	ev := map[string]string{}
	for _, k := range distroFields {
		if v := s.Evidence[k]; v != "" {
			ev[k] = clip(v, 200)
		}
	}
	for _, k := range []string{"ssh.banner", "redis.version", "memcached.version", "nats.version", "zookeeper.version", "amqp.version", "smtp.banner", "ftp.banner"} {
		if v := s.Evidence[k]; v != "" {
			ev[k] = clip(v, 200)
		}
	}
	if len(ev) == 0 && s.Product != "" {
		ev["fingerprint"] = strings.TrimSpace(s.Product + " " + s.Version)
	}
	return ev
}

// distroFields are the fields that may name a distribution build.
var distroFields = []string{
	"ssh.comment", "http.header.server", "http.404.header.server", "http.header.x-powered-by", "mysql.version",
	"dns.version_bind", "smtp.banner", "pop3.banner", "imap.banner", "ftp.banner", "postgresql.version",
}

// backported says why a version match on this port may be fixed by the
// distribution ("" when nothing suggests a distribution build).
func backported(hc *hostCtx, s *fingerprint.Service) string {
	for _, k := range distroFields {
		if h, ok := distro.Parse(s.Evidence[k]); ok && h.Backports {
			return fmt.Sprintf("%s build (%s in %s): the distribution backports security fixes without changing the upstream version", h.Distribution, h.Marker, k)
		}
	}
	if s.OS != "" {
		if h, ok := distro.Parse(s.OS); ok && h.Backports {
			return fmt.Sprintf("%s build (the fingerprint names the OS %q): the distribution backports security fixes", h.Distribution, s.OS)
		}
	}
	for _, t := range s.Stack {
		if t.Role == "os" {
			if h, ok := distro.Parse(t.Product); ok && h.Backports {
				return fmt.Sprintf("%s build (the fingerprint names the OS %q): the distribution backports security fixes", h.Distribution, t.Product)
			}
		}
	}
	if a := hc.asset; a != nil && a.OS != nil && a.OS.Backports && a.OS.Distribution != "" {
		return fmt.Sprintf("the host runs %s, whose packages carry backported fixes; this service is likely a distribution package", a.OS.Name)
	}
	return ""
}

// platform answers for CPE names a configuration requires beside the
// product: the operating system, when the profile knows it.
func (hc *hostCtx) platform(n cpe.Name) match.Tri {
	a := hc.asset
	if a == nil || a.OS == nil || n.Part != "o" {
		return match.Unknown
	}
	mine, err := cpe.Parse(a.OS.CPE)
	if err != nil || a.OS.Confidence < 50 {
		return match.Unknown
	}
	if mine.Key() != n.Key() {
		// Another OS product: known not to be it when our OS is a
		// distribution we recognised.
		if a.OS.Distribution != "" {
			return match.False
		}
		return match.Unknown
	}
	if n.Version == cpe.Any || mine.Version == cpe.Any {
		return match.True
	}
	if version.Compare(strings.TrimSuffix(n.Version, ".0"), strings.TrimSuffix(mine.Version, ".0")) == 0 {
		return match.True
	}
	return match.False
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
