// Package profile is stage 5 of the pipeline: it fuses every signal a
// host's services gave (fingerprint OS hints, distribution build markers
// in banners, kernel versions in Redis INFO or a telnet banner, Windows
// builds in NTLM challenges, TLS certificate names, device hints) into one
// asset record per host: device type, operating system with the evidence
// for and against it, the application stack with roles, and the network
// functions the host offers.
//
// Signals that contradict the winner lower its confidence and are listed
// in the record (os.conflicts), never dropped silently; signals known to
// lie (Samba's NTLM challenge always claims Windows 6.1) are listed with
// the reason they were not counted.
package profile

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/profile/distro"
	"github.com/portrait-scanner/portrait/scan"
)

// Asset is the "asset" record: what a host is.
type Asset struct {
	Type       string      `json:"type"` // "asset"
	Host       string      `json:"host"`
	Hostname   string      `json:"hostname,omitempty"`
	DeviceType Claim       `json:"device_type"`
	OS         *OS         `json:"os,omitempty"`
	Stack      []StackItem `json:"stack,omitempty"`
	Functions  []string    `json:"functions,omitempty"`
	Names      []string    `json:"names,omitempty"`
	Services   int         `json:"services"`
	Exposure   string      `json:"exposure,omitempty"` // set by the risk stage: internet | internal
	Risk       *HostRisk   `json:"risk,omitempty"`     // set by the risk stage
}

// RecordType implements scan.Record.
func (a *Asset) RecordType() string { return "asset" }

// RecordHost implements scan.Record.
func (a *Asset) RecordHost() string { return a.Host }

// Claim is a value with its confidence (0-100) and the evidence for it.
type Claim struct {
	Value      string   `json:"value"`
	Confidence int      `json:"confidence"`
	Evidence   []string `json:"evidence,omitempty"`
}

// OS is the operating system verdict.
type OS struct {
	Family       string   `json:"family"`                 // Linux, Windows, BSD, macOS, network OS...
	Distribution string   `json:"distribution,omitempty"` // Debian, Ubuntu, RHEL...
	Release      string   `json:"release,omitempty"`      // "12", "22.04"
	Name         string   `json:"name"`                   // "Debian 12 (bookworm)"
	Kernel       string   `json:"kernel,omitempty"`       // "6.18.44"
	CPE          string   `json:"cpe,omitempty"`
	Confidence   int      `json:"confidence"`
	Evidence     []Signal `json:"evidence"`
	// Conflicts are the signals that disagree with the verdict.
	Conflicts []string `json:"conflicts,omitempty"`
	// Backports is true when the distribution patches security fixes into
	// unchanged upstream versions (Debian, Ubuntu, RHEL, SUSE).
	Backports bool `json:"backports,omitempty"`
}

// Signal is one piece of OS evidence.
type Signal struct {
	Port   int    `json:"port,omitempty"`
	Source string `json:"source"` // evidence field or "fingerprint"
	Value  string `json:"value"`
	Says   string `json:"says"` // what it suggests: "Debian 12", "Linux 6.18.44", "Windows 7 / Server 2008 R2"
	Weight int    `json:"weight"`
	// Ignored says why the signal was not counted.
	Ignored string `json:"ignored,omitempty"`
}

// StackItem is one product on the host with its role.
type StackItem struct {
	Product    string `json:"product"`
	Version    string `json:"version,omitempty"`
	Role       string `json:"role"`
	Function   string `json:"function,omitempty"`
	CPE        string `json:"cpe,omitempty"`
	Ports      []int  `json:"ports"`
	Confidence int    `json:"confidence"`
}

// HostRisk is the host's risk summary (filled by the risk stage).
type HostRisk struct {
	Score    float64            `json:"score"` // 0-100
	Level    string             `json:"level"` // critical, high, medium, low, none
	Findings map[string]int     `json:"findings"`
	Top      []string           `json:"top,omitempty"` // ids of the riskiest findings
	Factors  map[string]float64 `json:"factors,omitempty"`
}

// Stage is the profiling stage.
type Stage struct{}

// Name implements scan.Stage.
func (Stage) Name() string { return "profile" }

// Host implements scan.Stage.
func (Stage) Host(_ context.Context, h scan.HostRecord, svcs []*fingerprint.Service, _ []scan.Record) []scan.Record {
	if h.State != "up" && len(svcs) == 0 {
		return nil
	}
	return []scan.Record{Build(h, svcs)}
}

// Build profiles one host.
func Build(h scan.HostRecord, svcs []*fingerprint.Service) *Asset {
	a := &Asset{Type: "asset", Host: h.Host, Hostname: h.Hostname}
	open := 0
	for _, s := range svcs {
		if s != nil && s.State == "open" || s != nil && s.State == "" {
			open++
		}
	}
	a.Services = open
	a.OS = inferOS(svcs)
	a.Stack, a.Functions = stack(svcs)
	a.DeviceType = deviceType(svcs, a.OS, a.Functions)
	a.Names = names(svcs)
	return a
}

// ---- operating system ----

type vote struct {
	family, dist, rel, kernel string
	backports                 bool
	w                         int
}

var (
	reKernel   = regexp.MustCompile(`\bLinux (\d+\.\d+(?:\.\d+)?)`)
	reWinBuild = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?`)
)

// distroFields are the evidence fields whose text may carry a
// distribution build marker (bodies and titles are left out: a page may
// talk about any distribution).
var distroFields = []string{
	"ssh.comment", "http.header.server", "http.404.header.server", "http.header.x-powered-by",
	"mysql.version", "dns.version_bind", "smtp.banner", "pop3.banner", "imap.banner", "ftp.banner",
	"smb.native_os", "smb.native_lanman", "telnet.banner", "postgresql.version",
}

func inferOS(svcs []*fingerprint.Service) *OS {
	var sigs []Signal
	var votes []vote
	add := func(s Signal, v vote) {
		sigs = append(sigs, s)
		if s.Ignored == "" {
			v.w = s.Weight
			votes = append(votes, v)
		}
	}
	for _, s := range svcs {
		if s == nil {
			continue
		}
		ev := s.Evidence
		samba := strings.Contains(strings.ToLower(s.Product), "samba")
		// Fingerprint hints: the rules' OS and the stack's os entries.
		if s.OS != "" {
			dist := ""
			if h, ok := distro.Parse(s.OS); ok {
				dist = h.Distribution
			}
			fam := familyOf(s.OS)
			add(Signal{Port: s.Port, Source: "fingerprint", Value: s.OS, Says: s.OS, Weight: 20}, vote{family: fam, dist: dist})
		}
		for _, f := range distroFields {
			val := ev[f]
			if val == "" {
				continue
			}
			if h, ok := distro.Parse(val); ok {
				rel := h.Release
				if rel == "" && f == "ssh.comment" {
					rel = distro.ReleaseFromOpenSSH(h.Distribution, s.Version)
				}
				w := 25
				if h.Release != "" {
					w = 35
				}
				says := distro.ReleaseName(h.Distribution, rel)
				add(Signal{Port: s.Port, Source: f, Value: clip(val), Says: says, Weight: w},
					vote{family: distro.Family(h.Distribution), dist: h.Distribution, rel: rel, backports: h.Backports})
			}
		}
		for _, f := range []string{"redis.os", "telnet.banner", "snmp.sysdescr", "smb.native_os"} {
			if m := reKernel.FindStringSubmatch(ev[f]); m != nil {
				add(Signal{Port: s.Port, Source: f, Value: clip(ev[f]), Says: "Linux " + m[1], Weight: 30}, vote{family: "Linux", kernel: m[1]})
			}
		}
		for _, f := range []string{"smb.ntlm.os_version", "rdp.ntlm.os_version"} {
			val := ev[f]
			if val == "" {
				continue
			}
			says := windowsName(val)
			sig := Signal{Port: s.Port, Source: f, Value: val, Says: says, Weight: 40}
			if samba {
				sig.Ignored = "Samba answers NTLM with a fixed Windows version"
			}
			add(sig, vote{family: "Windows", dist: "Windows", rel: says})
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	// Family first, then distribution, then release.
	famW := map[string]int{}
	total := 0
	for _, v := range votes {
		if v.family != "" {
			famW[v.family] += v.w
			total += v.w
		}
	}
	os := &OS{Evidence: sigs}
	fam := argmax(famW)
	if fam == "" {
		return nil
	}
	os.Family = fam
	distW := map[string]int{}
	relW := map[string]int{}
	for _, v := range votes {
		if v.family != fam {
			continue
		}
		if v.dist != "" && v.dist != "Windows" {
			distW[v.dist] += v.w
		}
		if v.kernel != "" && os.Kernel == "" {
			os.Kernel = v.kernel
		}
	}
	os.Distribution = argmax(distW)
	for _, v := range votes {
		if v.dist == os.Distribution && v.rel != "" {
			relW[v.rel] += v.w
		}
		if v.dist == os.Distribution && v.backports {
			os.Backports = true
		}
	}
	if fam == "Windows" {
		for _, v := range votes {
			if v.family == "Windows" && v.rel != "" {
				relW[v.rel] += v.w
			}
		}
	}
	os.Release = argmax(relW)
	// Conflicts: every counted signal that says something else.
	for _, s := range sigs {
		if s.Ignored != "" {
			continue
		}
		v := voteOf(s)
		switch {
		case v.family != "" && v.family != fam:
			os.Conflicts = append(os.Conflicts, fmt.Sprintf("port %d %s says %s", s.Port, s.Source, s.Says))
		case v.dist != "" && os.Distribution != "" && v.dist != os.Distribution && v.dist != "Windows":
			os.Conflicts = append(os.Conflicts, fmt.Sprintf("port %d %s says %s", s.Port, s.Source, s.Says))
		case v.rel != "" && os.Release != "" && v.rel != os.Release && v.dist == os.Distribution:
			os.Conflicts = append(os.Conflicts, fmt.Sprintf("port %d %s says %s", s.Port, s.Source, s.Says))
		}
	}
	// Confidence: the winner's share of the weight, raised by how many
	// independent ports agree, lowered by each conflict.
	ports := map[int]bool{}
	for _, s := range sigs {
		if s.Ignored == "" && voteOf(s).family == fam {
			ports[s.Port] = true
		}
	}
	share := float64(famW[fam]) / float64(max(total, 1))
	base := 50 + 10*len(ports)
	if base > 95 {
		base = 95
	}
	conf := int(float64(base)*share) - 5*len(os.Conflicts)
	if conf < 10 {
		conf = 10
	}
	os.Confidence = conf
	switch {
	case os.Distribution != "":
		os.Name = distro.ReleaseName(os.Distribution, os.Release)
	case fam == "Windows" && os.Release != "":
		os.Name = os.Release
	default:
		os.Name = fam
	}
	if os.Kernel != "" && fam == "Linux" && os.Distribution == "" {
		os.Name = "Linux " + os.Kernel
	}
	os.CPE = osCPE(os)
	return os
}

// voteOf recomputes what a signal says (for the conflict list).
func voteOf(s Signal) vote {
	switch {
	case strings.HasPrefix(s.Source, "smb.ntlm") || strings.HasPrefix(s.Source, "rdp.ntlm"):
		return vote{family: "Windows", dist: "Windows", rel: s.Says}
	case strings.HasPrefix(s.Says, "Linux "):
		return vote{family: "Linux"}
	}
	if h, ok := distro.Parse(s.Says); ok {
		rel := ""
		if f := strings.Fields(s.Says); len(f) > 1 {
			rel = f[1]
		}
		return vote{family: distro.Family(h.Distribution), dist: h.Distribution, rel: rel}
	}
	return vote{family: familyOf(s.Says)}
}

func familyOf(s string) string {
	l := strings.ToLower(s)
	switch {
	case strings.Contains(l, "windows"):
		return "Windows"
	case strings.Contains(l, "freebsd") || strings.Contains(l, "openbsd") || strings.Contains(l, "netbsd"):
		return "BSD"
	case strings.Contains(l, "mac os") || strings.Contains(l, "macos") || strings.Contains(l, "os x"):
		return "macOS"
	case strings.Contains(l, "ios") && strings.Contains(l, "cisco"), strings.Contains(l, "routeros"), strings.Contains(l, "junos"), strings.Contains(l, "fortios"):
		return "network OS"
	case strings.Contains(l, "linux"), strings.Contains(l, "debian"), strings.Contains(l, "ubuntu"), strings.Contains(l, "centos"),
		strings.Contains(l, "red hat"), strings.Contains(l, "fedora"), strings.Contains(l, "suse"), strings.Contains(l, "alpine"):
		return "Linux"
	case strings.Contains(l, "unix"), strings.Contains(l, "solaris"), strings.Contains(l, "aix"), strings.Contains(l, "hp-ux"):
		return "Unix"
	}
	return ""
}

// windowsName maps an NTLM OS version ("6.1.7601", "10.0.17763") to the
// Windows releases that report it.
func windowsName(v string) string {
	m := reWinBuild.FindStringSubmatch(v)
	if m == nil {
		return "Windows"
	}
	switch m[1] + "." + m[2] {
	case "5.1":
		return "Windows XP"
	case "5.2":
		return "Windows XP x64 / Server 2003"
	case "6.0":
		return "Windows Vista / Server 2008"
	case "6.1":
		return "Windows 7 / Server 2008 R2"
	case "6.2":
		return "Windows 8 / Server 2012"
	case "6.3":
		return "Windows 8.1 / Server 2012 R2"
	case "10.0":
		b, _ := strconv.Atoi(m[3])
		switch {
		case b >= 26100:
			return "Windows 11 24H2 / Server 2025"
		case b >= 22000:
			return "Windows 11 / Server 2022"
		case b >= 20348:
			return "Windows Server 2022"
		case b == 17763:
			return "Windows 10 1809 / Server 2019"
		case b == 14393:
			return "Windows 10 1607 / Server 2016"
		}
		return "Windows 10 / Server 2016+"
	}
	return "Windows"
}

func osCPE(o *OS) string {
	switch o.Distribution {
	case "Debian":
		return "cpe:2.3:o:debian:debian_linux:" + orAny(o.Release) + ":*:*:*:*:*:*:*"
	case "Ubuntu":
		return "cpe:2.3:o:canonical:ubuntu_linux:" + orAny(o.Release) + ":*:*:*:*:*:*:*"
	case "RHEL":
		return "cpe:2.3:o:redhat:enterprise_linux:" + orAny(o.Release) + ":*:*:*:*:*:*:*"
	case "Fedora":
		return "cpe:2.3:o:fedoraproject:fedora:" + orAny(o.Release) + ":*:*:*:*:*:*:*"
	}
	if o.Family == "Linux" {
		return "cpe:2.3:o:linux:linux_kernel:" + orAny(o.Kernel) + ":*:*:*:*:*:*:*"
	}
	return ""
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func argmax(m map[string]int) string {
	best, bw := "", -1
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if m[k] > bw {
			best, bw = k, m[k]
		}
	}
	return best
}

func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// ---- stack and functions ----

// serviceFunction maps nmap service names to the network function.
var serviceFunction = map[string]string{
	"http": "web", "https": "web", "http-proxy": "proxy", "http-alt": "web",
	"smtp": "mail", "submission": "mail", "smtps": "mail", "pop3": "mail", "pop3s": "mail", "imap": "mail", "imaps": "mail",
	"domain": "dns",
	"mysql":  "database", "postgresql": "database", "ms-sql-s": "database", "oracle-tns": "database", "mongodb": "database",
	"redis": "database", "memcached": "cache", "cassandra": "database", "elasticsearch": "database",
	"etcd-client": "coordination", "etcd-server": "coordination", "zookeeper": "coordination",
	"ldap": "directory", "ldaps": "directory", "kerberos-sec": "directory", "kpasswd5": "directory", "globalcatLDAP": "directory",
	"ftp": "file", "ftps": "file", "microsoft-ds": "file", "netbios-ssn": "file", "nfs": "file", "rsync": "file", "tftp": "file", "afp": "file", "git": "file",
	"ssh": "remote access", "telnet": "remote access", "ms-wbt-server": "remote access", "vnc": "remote access", "x11": "remote access",
	"amqp": "messaging", "mqtt": "messaging", "nats": "messaging", "stomp": "messaging", "epmd": "messaging", "erlang-dist": "messaging",
	"xmpp-client": "chat", "irc": "chat", "sip": "voip",
	"ipp": "print", "printer": "print", "jetdirect": "print",
	"ntp": "time", "snmp": "management", "socks5": "proxy",
	"echo": "legacy inetd", "daytime": "legacy inetd", "time": "legacy inetd",
}

// productRole names the role of well-known products more precisely than
// their service does.
var productRole = []struct{ sub, role string }{
	{"tomcat", "application server"}, {"jetty", "application server"}, {"squid", "proxy"}, {"privoxy", "proxy"}, {"tinyproxy", "proxy"},
	{"haproxy", "load balancer"}, {"varnish", "cache"}, {"memcached", "cache"}, {"redis", "key-value store"}, {"etcd", "key-value store"},
	{"zookeeper", "coordination service"}, {"postfix", "mail transfer agent"}, {"exim", "mail transfer agent"}, {"sendmail", "mail transfer agent"},
	{"opensmtpd", "mail transfer agent"}, {"dovecot", "mailbox server"}, {"bind", "DNS server"}, {"unbound", "DNS resolver"}, {"dnsmasq", "DNS resolver"},
	{"openldap", "directory server"}, {"samba", "file server"}, {"cups", "print server"}, {"rabbitmq", "message broker"}, {"mosquitto", "message broker"},
	{"nats", "message broker"}, {"mariadb", "database server"}, {"mysql", "database server"}, {"postgresql", "database server"}, {"mongodb", "database server"},
}

var functionRole = map[string]string{
	"web": "web server", "proxy": "proxy", "mail": "mail server", "dns": "DNS server", "database": "database server", "cache": "cache",
	"coordination": "coordination service", "directory": "directory server", "file": "file server", "remote access": "remote access",
	"messaging": "message broker", "chat": "chat server", "voip": "VoIP", "print": "print server", "time": "time server",
	"management": "management agent", "legacy inetd": "inetd service",
}

func stack(svcs []*fingerprint.Service) ([]StackItem, []string) {
	type key struct{ product, version, role string }
	items := map[key]*StackItem{}
	var order []key
	funcs := map[string]bool{}
	addItem := func(k key, port, conf int, cpe, fn string) {
		it := items[k]
		if it == nil {
			it = &StackItem{Product: k.product, Version: k.version, Role: k.role, CPE: cpe, Function: fn}
			items[k] = it
			order = append(order, k)
		}
		if !containsInt(it.Ports, port) {
			it.Ports = append(it.Ports, port)
		}
		if conf > it.Confidence {
			it.Confidence = conf
		}
	}
	for _, s := range svcs {
		if s == nil {
			continue
		}
		svc := strings.TrimPrefix(s.Service, "ssl/")
		fn := serviceFunction[svc]
		if fn == "" && s.Product != "" {
			fn = "other"
		}
		if fn != "" && fn != "other" {
			funcs[fn] = true
		}
		if s.Product != "" {
			role := functionRole[fn]
			l := strings.ToLower(s.Product)
			for _, pr := range productRole {
				if strings.Contains(l, pr.sub) {
					role = pr.role
					break
				}
			}
			if role == "" {
				role = "server"
			}
			addItem(key{s.Product, s.Version, role}, s.Port, s.Confidence, s.CPE, fn)
		}
		for _, t := range s.Stack {
			if t.Product == "" || t.Product == s.Product || t.Role == "server" || t.Role == "os" {
				continue
			}
			addItem(key{t.Product, t.Version, t.Role}, s.Port, t.Confidence, t.CPE, "")
		}
	}
	out := make([]StackItem, 0, len(order))
	for _, k := range order {
		it := items[k]
		sort.Ints(it.Ports)
		out = append(out, *it)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ports[0] < out[j].Ports[0] })
	var fl []string
	for f := range funcs {
		fl = append(fl, f)
	}
	sort.Strings(fl)
	return out, fl
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ---- device type ----

// deviceClass maps fingerprint device hints (nmap's device types) to the
// profile's classes.
var deviceClass = map[string]string{
	"printer": "printer", "print server": "printer",
	"router": "network device", "switch": "network device", "firewall": "network device", "WAP": "network device",
	"broadband router": "network device", "load balancer": "network device", "security-misc": "network device", "proxy server": "network device",
	"webcam": "IoT", "media device": "IoT", "VoIP phone": "IoT", "VoIP adapter": "IoT", "power-device": "IoT", "specialized": "IoT",
	"game console": "IoT", "PDA": "IoT", "phone": "IoT", "terminal": "IoT", "remote management": "IoT",
	"storage-misc": "storage", "NAS": "storage",
}

var serverFunctions = map[string]bool{"web": true, "mail": true, "dns": true, "database": true, "directory": true, "file": true,
	"messaging": true, "coordination": true, "proxy": true, "cache": true, "chat": true}

func deviceType(svcs []*fingerprint.Service, os *OS, funcs []string) Claim {
	votes := map[string][]string{}
	for _, s := range svcs {
		if s == nil || s.Device == "" {
			continue
		}
		c := deviceClass[s.Device]
		if c == "" {
			c = s.Device
		}
		votes[c] = append(votes[c], fmt.Sprintf("port %d: fingerprint device %q", s.Port, s.Device))
	}
	if len(votes) > 0 {
		best, n := "", 0
		for c, ev := range votes {
			if len(ev) > n || (len(ev) == n && c < best) {
				best, n = c, len(ev)
			}
		}
		conf := 60 + 10*n
		if conf > 90 {
			conf = 90
		}
		if len(votes) > 1 {
			conf -= 15
		}
		return Claim{Value: best, Confidence: conf, Evidence: votes[best]}
	}
	var serverFns []string
	for _, f := range funcs {
		if serverFunctions[f] {
			serverFns = append(serverFns, f)
		}
	}
	if contains(funcs, "print") && len(serverFns) == 0 {
		return Claim{Value: "printer", Confidence: 60, Evidence: []string{"print service without other server roles"}}
	}
	if len(serverFns) > 0 {
		conf := 50 + 10*len(serverFns)
		if conf > 90 {
			conf = 90
		}
		return Claim{Value: "server", Confidence: conf, Evidence: []string{"server roles: " + strings.Join(serverFns, ", ")}}
	}
	if os != nil && os.Family == "Windows" && !strings.Contains(os.Release, "Server") && strings.Contains(os.Name, "Windows") {
		return Claim{Value: "workstation", Confidence: 50, Evidence: []string{"Windows client release " + os.Name + " without server roles"}}
	}
	if contains(funcs, "remote access") {
		return Claim{Value: "server", Confidence: 35, Evidence: []string{"only remote access services"}}
	}
	return Claim{Value: "unknown", Confidence: 0}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ---- names ----

func names(svcs []*fingerprint.Service) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		n = strings.TrimSpace(strings.ToLower(strings.TrimSuffix(n, ".")))
		if n == "" || seen[n] || len(out) >= 32 || strings.ContainsAny(n, " \t/<>\"") {
			return
		}
		seen[n] = true
		out = append(out, n)
	}
	for _, s := range svcs {
		if s == nil {
			continue
		}
		ev := s.Evidence
		for _, f := range []string{"tls.cert.cn", "smb.ntlm.dns_computer", "rdp.ntlm.dns_computer", "smb.ntlm.netbios_computer",
			"rdp.ntlm.netbios_computer", "smtp.hostname", "dns.hostname_bind"} {
			add(ev[f])
		}
		for _, n := range strings.Split(ev["tls.cert.san"], ",") {
			add(n)
		}
	}
	sort.Strings(out)
	return out
}

// TableLine is the asset's line in portrait's table output.
func (a *Asset) TableLine() string {
	os := "OS unknown"
	if a.OS != nil && a.OS.Name != "" {
		os = fmt.Sprintf("%s (%d%%)", a.OS.Name, a.OS.Confidence)
	}
	line := fmt.Sprintf("%s: %s, %s", a.Host, a.DeviceType.Value, os)
	if len(a.Functions) > 0 {
		line += ", " + strings.Join(a.Functions, ", ")
	}
	if a.Risk != nil {
		line += fmt.Sprintf("; risk %s (%.0f)", a.Risk.Level, a.Risk.Score)
	}
	return line
}
