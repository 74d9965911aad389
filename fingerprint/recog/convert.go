package recog

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
)

// MaxConfidence caps every recog-derived pattern, so that portrait's own
// rules (90-95 for the same products) win whenever both match.
const MaxConfidence = 85

// Confidence maps a recog certainty (0..1) onto a pattern confidence.
func Confidence(certainty float64) int {
	c := int(math.Round(50 + 30*certainty))
	if c > MaxConfidence {
		c = MaxConfidence
	}
	return c
}

// fp is a fingerprint being converted: its params by name.
type fpParams map[string]Param

func (ps fpParams) has(name string) bool { _, ok := ps[name]; return ok }

// template renders a param as an engine template: "{N}" for a capture
// group, the value with {param} references resolved otherwise.
func (ps fpParams) template(name string) string { return ps.resolve(name, 0) }

var refRE = regexp.MustCompile(`\{([^{}]+)\}`)

func (ps fpParams) resolve(name string, depth int) string {
	p, ok := ps[name]
	if !ok || depth > 8 {
		return ""
	}
	if p.Pos > 0 {
		return "{" + strconv.Itoa(p.Pos) + "}"
	}
	return refRE.ReplaceAllStringFunc(p.Value, func(m string) string {
		return ps.resolve(m[1:len(m)-1], depth+1)
	})
}

// static reports whether a param's value needs no capture group.
func (ps fpParams) static(name string) bool {
	t := ps.template(name)
	return !groupRefRE.MatchString(t)
}

var groupRefRE = regexp.MustCompile(`\{\d+\}`)

// value computes a param as recog would for a match with the given groups.
func (ps fpParams) value(name string, groups []string) string {
	t := ps.template(name)
	return groupRefRE.ReplaceAllStringFunc(t, func(m string) string {
		n, _ := strconv.Atoi(m[1 : len(m)-1])
		if n < len(groups) {
			return groups[n]
		}
		return ""
	})
}

// roleOf decides what a fingerprint identifies and the param prefix that
// holds it.
func roleOf(ps fpParams, forced string) (role, prefix string, err error) {
	switch {
	case forced == "os":
		return "os", "os", nil
	case ps.has("service.product") || ps.has("service.family"):
		return "server", "service", nil
	case ps.has("os.product") || ps.has("os.family"):
		return "os", "os", nil
	case ps.has("hw.product") || ps.has("hw.family") || ps.has("hw.device"):
		return "device", "hw", nil
	case ps.has("service.component.product"):
		return "component", "service.component", nil
	case ps.has("service.vendor"):
		return "server", "service", nil
	case ps.has("os.vendor"):
		return "os", "os", nil
	case ps.has("hw.vendor"):
		return "device", "hw", nil
	}
	return "", "", errors.New("names no product, OS or device")
}

// convert turns one recog fingerprint into a rule.
func convert(db *Database, f *Fingerprint, src source, used map[string]int, unless []string) (fingerprint.Rule, error) {
	ps := fpParams{}
	for _, p := range f.Params {
		if p.Pos < 0 {
			return fingerprint.Rule{}, fmt.Errorf("param %s: negative position", p.Name)
		}
		ps[p.Name] = p
	}
	role, prefix, err := roleOf(ps, src.role)
	if err != nil {
		return fingerprint.Rule{}, err
	}
	if strings.TrimSpace(f.Pattern) == "" {
		return fingerprint.Rule{}, errors.New("empty pattern")
	}
	product, info := productName(ps, role, prefix, src.category, f.Description)
	if product == "" {
		return fingerprint.Rule{}, errors.New("no product name")
	}
	vendor := ""
	if ps.static(prefix + ".vendor") {
		vendor = ps.template(prefix + ".vendor")
	}

	pat := fingerprint.Pattern{
		Type:       src.typ,
		Header:     src.header,
		Regex:      flagPrefix(f.Flags) + f.Pattern + shieldSuffix(unless),
		Dialect:    "recog",
		Confidence: Confidence(certainty(firstNonEmpty(f.Certainty, staticValue(ps, prefix+".certainty")))),
		Info:       info,
	}
	if src.typ == "field" {
		pat.Field = src.field
	}
	if src.view != "" {
		pat.Dialect = "recog:" + src.view
	}
	// Version: a pure group becomes version_group (so CPE {version} and
	// the engine's trimming apply), anything else a template.
	verParam := prefix + ".version"
	if p, ok := ps[verParam]; ok {
		if p.Pos > 0 {
			pat.VersionGroup = p.Pos
		} else {
			pat.Version = ps.template(verParam)
		}
	}
	osParam := ""
	if role != "os" {
		switch {
		case ps.has("os.product"):
			osParam = "os.product"
		case ps.has("os.family"):
			osParam = "os.family"
		}
		if osParam != "" {
			pat.OS = distro(ps, ps.template(osParam))
			pat.OSVersion = ps.template("os.version")
		}
	}
	if role != "device" || ps.has("hw.product") || ps.has("hw.family") {
		pat.Device = firstNonEmpty(ps.template("hw.device"), ps.template("os.device"))
	} else {
		pat.Device = ps.template("hw.device")
	}
	if cpe := ps.template(prefix + ".cpe23"); cpe != "" {
		// A reference to the version goes through the engine's {version},
		// which escapes it and writes "*" when there is none.
		ref := "{" + verParam + "}"
		if raw := ps[prefix+".cpe23"].Value; ps.has(verParam) && strings.Contains(raw, ref) {
			cpe = refRE.ReplaceAllStringFunc(raw, func(m string) string {
				if m == ref {
					return "{version}"
				}
				return ps.template(m[1 : len(m)-1])
			})
		}
		pat.CPE = cpe23(cpe)
	}

	r := fingerprint.Rule{
		Name:     ruleName(db, f, used),
		Product:  product,
		Vendor:   vendor,
		Category: src.category,
		Role:     role,
		Patterns: []fingerprint.Pattern{pat},
	}
	for _, ex := range f.Examples {
		text, asserts, err := ex.Decode()
		if err != nil {
			continue
		}
		value := text
		if src.render != nil {
			value = src.render(text)
		}
		e := fingerprint.Example{Fields: map[string]string{src.field: value}}
		if p, ok := ps[verParam]; ok && p.Pos > 0 {
			e.Version = strings.TrimSpace(asserts[verParam])
		}
		if p, ok := ps[osParam]; ok && osParam != "" && p.Pos > 0 {
			e.OS = strings.TrimSpace(asserts[osParam])
		}
		r.Examples = append(r.Examples, e)
	}
	return r, nil
}

func staticValue(ps fpParams, name string) string {
	if ps.static(name) {
		return ps.template(name)
	}
	return ""
}

// distros are the os.vendor values recog pairs with os.product "Linux"
// that name a distribution, which is what portrait's rules report as OS
// ("Debian", not "Linux").
var distros = map[string]string{
	"debian": "Debian", "ubuntu": "Ubuntu", "kubuntu": "Ubuntu", "xubuntu": "Ubuntu", "raspbian": "Raspbian",
	"red hat": "Red Hat Enterprise Linux", "centos": "CentOS", "suse": "SUSE Linux", "opensuse": "openSUSE",
	"mandriva": "Mandriva", "gentoo": "Gentoo", "cloudlinux": "CloudLinux", "turbolinux": "Turbolinux",
	"alpine": "Alpine Linux", "arch": "Arch Linux", "kali": "Kali Linux", "oracle": "Oracle Linux",
	"slackware": "Slackware", "scientific": "Scientific Linux", "amazon": "Amazon Linux", "asianux": "Asianux",
	"fedora project": "Fedora",
}

// distro turns a generic "Linux" into the distribution os.vendor names.
func distro(ps fpParams, os string) string {
	if !strings.EqualFold(strings.TrimSpace(os), "linux") {
		return os
	}
	if d, ok := distros[strings.ToLower(staticValue(ps, "os.vendor"))]; ok {
		return d
	}
	return os
}

// isShield says whether a fingerprint names nothing: recog's "assert
// nothing" entries and generic banners, which stop recog's first-match
// search and so shield the fingerprints after them.
func isShield(f *Fingerprint) bool {
	ps := fpParams{}
	for _, p := range f.Params {
		ps[p.Name] = p
	}
	_, _, err := roleOf(ps, "")
	return err != nil
}

func shieldSuffix(unless []string) string {
	var b strings.Builder
	for _, u := range unless {
		b.WriteString(fingerprint.UnlessMarker)
		b.WriteString(u)
	}
	return b.String()
}

// productName names the rule's product. When recog captures the product
// name, the rule gets a static stand-in (family, vendor or description)
// and the captured name goes to Info.
func productName(ps fpParams, role, prefix, category, description string) (product, info string) {
	vendor := staticValue(ps, prefix+".vendor")
	for _, name := range []string{prefix + ".product", prefix + ".family"} {
		if !ps.has(name) {
			continue
		}
		if ps.static(name) {
			if v := strings.TrimSpace(ps.template(name)); v != "" {
				if role == "os" {
					v = distro(ps, v)
				}
				return display(vendor, v, category, role), info
			}
			continue
		}
		if info == "" {
			info = ps.template(name)
		}
	}
	if role == "device" {
		if dev := staticValue(ps, "hw.device"); dev != "" && vendor != "" {
			return vendor + " " + dev, info
		}
	}
	if vendor != "" {
		return display(vendor, vendor, category, role), info
	}
	return strings.TrimSpace(description), info
}

// aliases rename recog vendor|product pairs (lower case) to the product
// names portrait's builtin rules use (nmap's naming), optionally per
// protocol ("|imap"), so both catalogs merge into one product.
var aliases = map[string]string{
	"apache|httpd":                          "Apache httpd",
	"apache|tomcat":                         "Apache Tomcat",
	"apache|coyote":                         "Apache Tomcat",
	"microsoft|iis|http":                    "Microsoft IIS httpd",
	"microsoft|iis|ftp":                     "Microsoft ftpd",
	"microsoft|iis|smtp":                    "Microsoft ESMTP",
	"microsoft|dns":                         "Microsoft DNS",
	"microsoft|httpapi":                     "Microsoft HTTPAPI httpd",
	"microsoft|exchange server|smtp":        "Microsoft Exchange smtpd",
	"microsoft|exchange server|pop3":        "Microsoft Exchange pop3d",
	"microsoft|exchange server|imap":        "Microsoft Exchange imapd",
	"postfix|postfix":                       "Postfix smtpd",
	"exim|exim":                             "Exim smtpd",
	"sendmail|sendmail":                     "Sendmail",
	"dovecot|dovecot|imap":                  "Dovecot imapd",
	"dovecot|dovecot|pop3":                  "Dovecot pop3d",
	"carnegie mellon university|cyrus imap": "Cyrus imapd",
	"carnegie mellon university|cyrus pop":  "Cyrus pop3d",
	"courier|courier imap":                  "Courier Imapd",
	"courier|courier pop":                   "Courier pop3d",
	"qualcomm|qpopper":                      "Qpopper pop3d",
	"zimbra|collaboration|imap":             "Zimbra imapd",
	"zimbra|collaboration|pop3":             "Zimbra pop3d",
	"lotus|lotus domino|smtp":               "Lotus Domino smtpd",
	"alt-n|mdaemon":                         "MDaemon mail server",
	"isc|bind":                              "ISC BIND",
	"thekelleys|dnsmasq":                    "dnsmasq",
	"nlnet labs|unbound":                    "Unbound",
	"nlnet labs|nsd":                        "NLnet Labs NSD",
	"powerdns|recursor":                     "PowerDNS Recursor",
	"powerdns|authoritative server":         "PowerDNS Authoritative Server",
	"samba|samba":                           "Samba smbd",
	"proftpd project|proftpd":               "ProFTPD",
	"vsftpd project|vsftpd":                 "vsftpd",
	"pureftpd|pure-ftpd":                    "Pure-FTPd",
	"washington university|wu-ftpd":         "WU-FTPD",
	"openbsd|openssh":                       "OpenSSH",
	"dropbear ssh project|dropbear ssh":     "Dropbear sshd",
	"bitvise|winsshd":                       "Bitvise WinSSHD",
	"oracle|mysql":                          "MySQL",
	"mariadb|mariadb":                       "MariaDB",
	"percona|percona server":                "Percona Server for MySQL",
	"squid cache|squid":                     "Squid http proxy",
	"mort bay|jetty":                        "Jetty",
	"eclipse|jetty":                         "Jetty",
	"acme|mini_httpd":                       "mini_httpd",
	"acme|thttpd":                           "thttpd",
	"apple|cups":                            "CUPS",
	"red hat|wildfly":                       "JBoss WildFly Application Server",
	"oracle|glassfish server":               "GlassFish",
	"oracle|weblogic server":                "Oracle WebLogic Server",
	"bea|weblogic":                          "Oracle WebLogic Server",
	"openldap|openldap":                     "OpenLDAP",
	"caddyserver|caddy":                     "Caddy httpd",
	"traefik labs|traefik proxy":            "Traefik",
	"tildeslash|monit":                      "Monit",
	"cloudflare|cloudflare load balancer":   "Cloudflare http proxy",
}

// display names a product as portrait's rules would: nmap's name where an
// alias says so, else recog's product prefixed by its vendor unless the
// name already carries it ("Microsoft" "Exchange Server" → "Microsoft
// Exchange Server", "ntop" "ntopng" → "ntopng"). Components (Apache
// modules) keep their own names.
func display(vendor, product, category, role string) string {
	v, p := strings.ToLower(vendor), strings.ToLower(product)
	if a, ok := aliases[v+"|"+p+"|"+category]; ok {
		return a
	}
	if a, ok := aliases[v+"|"+p]; ok {
		return a
	}
	if vendor == "" || role == "component" || strings.Contains(p, firstWord(v)) {
		return product
	}
	return vendor + " " + product
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// flagPrefix turns recog's flags into inline Ruby options.
func flagPrefix(flags string) string {
	var i, m bool
	for _, f := range strings.FieldsFunc(flags, func(r rune) bool { return r == ',' || r == '|' || r == ' ' }) {
		switch f {
		case "REG_ICASE", "IGNORECASE":
			i = true
		case "REG_DOT_NEWLINE", "REG_MULTILINE", "REG_LINE_ANY_CRLF":
			m = true
		}
	}
	switch {
	case i && m:
		return "(?mi)"
	case i:
		return "(?i)"
	case m:
		return "(?m)"
	}
	return ""
}

// cpe23 rewrites recog's CPE URIs ("cpe:/a:vendor:product:version", named
// cpe23 but written in CPE 2.2 form) into CPE 2.3 formatted strings.
func cpe23(uri string) string {
	if strings.HasPrefix(uri, "cpe:2.3:") || !strings.HasPrefix(uri, "cpe:/") {
		return uri
	}
	parts := strings.Split(strings.TrimPrefix(uri, "cpe:/"), ":")
	for len(parts) < 11 {
		parts = append(parts, "*")
	}
	for i, p := range parts {
		if p == "" {
			parts[i] = "*"
		}
	}
	return "cpe:2.3:" + strings.Join(parts[:11], ":")
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// ruleName is "recog:<database>:<slug of the description>", numbered when
// the description repeats.
func ruleName(db *Database, f *Fingerprint, used map[string]int) string {
	slug := strings.Trim(slugRE.ReplaceAllString(strings.ToLower(f.Description), "-"), "-")
	if len(slug) > 48 {
		slug = strings.TrimRight(slug[:48], "-")
	}
	if slug == "" {
		slug = "fingerprint"
	}
	name := slug
	for n := 2; used[name] > 0; n++ {
		name = slug + "-" + strconv.Itoa(n)
	}
	used[name]++
	slug = name
	return "recog:" + dbStem(db.File) + ":" + slug
}
