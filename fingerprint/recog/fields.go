package recog

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol/telnet"
)

// A source says where a recog database's text comes from in portrait's
// evidence: the field, the pattern type that reads it, and the view that
// reshapes the field into what recog's patterns expect.
type source struct {
	field    string // evidence field (for http_header: http.header.<header>)
	typ      string // pattern type: ssh_banner, http_header or field
	header   string // for http_header
	category string // protocol family of the rules (the module name)
	role     string // role forced for every rule of the database ("" = from its params)
	view     string // name of the view (views below); "" = the field as is
	// render turns a recog example into the field as the module writes it,
	// so examples test the whole path (view included).
	render func(string) string
}

// sources maps a database's "matches" attribute (or, when it has none,
// its file name without .xml) onto the evidence. Field shapes were read
// from each protocol module's package doc.
var sources = map[string]source{
	// protocol/ssh: ssh.banner is the whole identification line; recog
	// matches the software-and-comment part after "SSH-2.0-".
	"ssh.banner": {field: "ssh.banner", typ: "ssh_banner", category: "ssh", view: "ssh",
		render: func(s string) string { return "SSH-2.0-" + s }},
	// protocol/ftp, protocol/smtp: replies keep their codes, lines joined by
	// "\n"; recog matches the text without codes, lines kept.
	"ftp.banner":  {field: "ftp.banner", typ: "field", category: "ftp", view: "codes", render: withCode("220")},
	"smtp.banner": {field: "smtp.banner", typ: "field", category: "smtp", view: "codes", render: withCode("220")},
	"smtp_help":   {field: "smtp.help", typ: "field", category: "smtp", view: "codes", render: withCode("214")},
	"smtp_ehlo":   {field: "smtp.ehlo", typ: "field", category: "smtp", view: "codes", render: withCode("250")},
	// protocol/pop3, protocol/imap: the greeting line; recog drops the status.
	"pop3.banner": {field: "pop3.banner", typ: "field", category: "pop3", view: "pop3",
		render: func(s string) string { return "+OK " + s }},
	"imap4.banner": {field: "imap.banner", typ: "field", category: "imap", view: "imap",
		render: func(s string) string { return "* OK " + s }},
	// protocol/http: headers lower-cased, repeated ones joined with ", ".
	"http_header.server":       {field: "http.header.server", typ: "http_header", header: "server", category: "http"},
	"http_header.wwwauth":      {field: "http.header.www-authenticate", typ: "http_header", header: "www-authenticate", category: "http"},
	"http_header.x-powered-by": {field: "http.header.x-powered-by", typ: "http_header", header: "x-powered-by", category: "http"},
	"http_header.cookie": {field: "http.header.set-cookie", typ: "http_header", header: "set-cookie", category: "http",
		view: "cookies"},
	"html_title": {field: "http.title", typ: "field", category: "http"},
	// Apache's Server header, second pass: the OS in its comment and each
	// module token (recog splits the header on spaces).
	"apache_os":      {field: "http.header.server", typ: "http_header", header: "server", category: "http", role: "os"},
	"apache_modules": {field: "http.header.server", typ: "http_header", header: "server", category: "http", view: "tokens"},
	// protocol/tlsprobe: RFC 2253 style, CN first, as recog writes them.
	"x509.subject": {field: "tls.cert.subject", typ: "field", category: "tls"},
	"x509.issuer":  {field: "tls.cert.issuer", typ: "field", category: "tls"},
	// protocol/telnet: printable text, control bytes removed, CRLF folded.
	"telnet_banners": {field: "telnet.banner", typ: "field", category: "telnet", view: "telnet",
		render: func(s string) string { return telnet.Clean([]byte(s)) }},
	// protocol/mysql: the handshake's version string and error message.
	"mysql.banners": {field: "mysql.version", typ: "field", category: "mysql"},
	"mysql.error":   {field: "mysql.error", typ: "field", category: "mysql"},
	// protocol/dns: TXT of version.bind.
	"dns.versionbind": {field: "dns.version_bind", typ: "field", category: "dns"},
	// protocol/smb: the anonymous SMB1 session setup.
	"smb.native_os": {field: "smb.native_os", typ: "field", category: "smb"},
	"smb.native_lm": {field: "smb.native_lanman", typ: "field", category: "smb"},
}

// unmapped explains the databases left out, for the load report.
var unmapped = map[string]string{
	"favicon.md5":           "no favicon MD5 field (protocol/http hashes favicons with mmh3 only)",
	"architecture":          "utility database (CPU architecture names), no evidence field",
	"operating_system.name": "utility database (OS names), no evidence field",
	"dhcp_vendor_class":     "no DHCP module",
	"h323_callresp":         "no H.323 module",
	"hp_pjl_id":             "no PJL module",
	"ldap.search_result":    "matches a raw BER search result; protocol/ldap emits parsed attributes",
	"mdns.device-info.txt":  "no mDNS module",
	"mdns.workstation.txt":  "no mDNS module",
	"ntp.readvar":           "no NTP module (UDP, later)",
	"nntp.banner":           "no NNTP module",
	"rsh_resp":              "no rsh module",
	"rtsp_header.server":    "no RTSP module",
	"sip_header.server":     "no SIP module",
	"sip_header.user_agent": "no SIP module",
	"snmp.sys_description":  "no SNMP module (UDP, later)",
	"snmp.sys_object_id":    "no SNMP module (UDP, later)",
	"tls.jarm":              "no JARM field",
	"x11.vendor":            "no X11 module",
	"smtp_debug":            "protocol/smtp does not send DEBUG",
	"smtp_expn":             "protocol/smtp does not send EXPN",
	"smtp_mailfrom":         "protocol/smtp does not send MAIL FROM",
	"smtp_noop":             "protocol/smtp does not send NOOP",
	"smtp_quit":             "protocol/smtp does not record the QUIT reply",
	"smtp_rcptto":           "protocol/smtp does not send RCPT TO",
	"smtp_rset":             "protocol/smtp does not send RSET",
	"smtp_turn":             "protocol/smtp does not send TURN",
	"smtp_vrfy":             "protocol/smtp does not send VRFY",
}

// withCode renders recog's code-less reply text as an FTP/SMTP reply:
// every line prefixed by the code, "-" on all but the last.
func withCode(code string) func(string) string {
	return func(s string) string {
		lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
		for i, l := range lines {
			sep := "-"
			if i == len(lines)-1 {
				sep = " "
			}
			lines[i] = code + sep + strings.TrimRight(l, "\r")
		}
		return strings.Join(lines, "\n")
	}
}

// views reshape a field for recog's patterns (see fingerprint.View).
var views = map[string]fingerprint.View{
	"ssh":     sshView,
	"codes":   codesView,
	"pop3":    prefixView("+OK"),
	"imap":    prefixView("* OK"),
	"cookies": cookiesView,
	"tokens":  tokensView,
}

// sshView drops "SSH-<proto>-" from the identification line.
func sshView(s string) (string, []int, int) {
	if !strings.HasPrefix(s, "SSH-") {
		return s, nil, 0
	}
	i := strings.IndexByte(s[4:], '-')
	if i < 0 {
		return s, nil, 0
	}
	return s[4+i+1:], nil, 4 + i + 1
}

// prefixView drops a status word ("+OK", "* OK") and the space after it.
func prefixView(prefix string) fingerprint.View {
	return func(s string) (string, []int, int) {
		if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
			n := len(prefix)
			for n < len(s) && s[n] == ' ' {
				n++
			}
			return s[n:], nil, n
		}
		return s, nil, 0
	}
}

// codesView drops the reply code ("220-", "220 ") at the start of every line.
func codesView(s string) (string, []int, int) {
	if len(s) < 4 || !isCode(s) {
		return s, nil, 0
	}
	if !strings.Contains(s, "\n") {
		return s[4:], nil, 4
	}
	var b strings.Builder
	offs := make([]int, 0, len(s)+1)
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start + 1 // keep the newline
		}
		line := start
		if end-start >= 4 && isCode(s[start:]) {
			line += 4
		}
		for i := line; i < end; i++ {
			offs = append(offs, i)
		}
		b.WriteString(s[line:end])
		start = end
	}
	offs = append(offs, len(s))
	return b.String(), offs, 0
}

func isCode(s string) bool {
	return len(s) >= 4 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
		s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-')
}

// cookieSep finds the ", " protocol/http puts between two Set-Cookie
// headers (a comma inside Expires is followed by a day number, not by
// "name=").
var cookieSep = regexp.MustCompile(`, [!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+=`)

// cookiesView puts every cookie on its own line, so recog's ^ (a line
// anchor in Ruby) matches at the start of each cookie.
func cookiesView(s string) (string, []int, int) {
	locs := cookieSep.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return s, nil, 0
	}
	var b strings.Builder
	offs := make([]int, 0, len(s)+1)
	prev := 0
	for _, l := range locs {
		for i := prev; i < l[0]; i++ {
			offs = append(offs, i)
		}
		b.WriteString(s[prev:l[0]])
		b.WriteByte('\n')
		offs = append(offs, l[0]+1) // the newline stands for the space
		prev = l[0] + 2
	}
	for i := prev; i < len(s); i++ {
		offs = append(offs, i)
	}
	b.WriteString(s[prev:])
	offs = append(offs, len(s))
	return b.String(), offs, 0
}

// tokensView puts every space-separated token of a Server header on its
// own line (same length, so offsets are unchanged).
func tokensView(s string) (string, []int, int) {
	return strings.ReplaceAll(s, " ", "\n"), nil, 0
}

// relaxCR makes every \r of a pattern optional: protocol/telnet folds CR LF
// to LF (and drops stray CRs) in telnet.banner, while recog's telnet
// patterns were written for the raw bytes.
func relaxCR(expr string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr):
			if !inClass && expr[i+1] == 'r' {
				b.WriteString(`(?:\r?)`)
			} else {
				b.WriteString(expr[i : i+2])
			}
			i++
			continue
		case c == '[' && !inClass:
			inClass = true
		case c == ']' && inClass:
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// dialects are the recog dialects by name: "recog" and "recog:<view>".
var dialects = compilers()

func compilers() map[string]fingerprint.RegexCompiler {
	m := map[string]fingerprint.RegexCompiler{"recog": fingerprint.Ruby}
	for name, v := range views {
		m["recog:"+name] = fingerprint.Viewed(fingerprint.Ruby, v)
	}
	m["recog:telnet"] = func(expr string) (fingerprint.Regex, error) { return fingerprint.Ruby(relaxCR(expr)) }
	for name, c := range m {
		// Compiled on first use: the literal prefilter keeps most of
		// recog's patterns from ever running in a scan (the recog tests
		// compile every one of them).
		m[name] = fingerprint.Lazy(fingerprint.Viewed(c, capView))
	}
	return m
}

// MaxText is how much of a field recog's patterns see. recog describes
// banners and headers, which are short; many of its patterns start with
// ".*", which backtracks in time quadratic in the line length, so a
// hostile multi-kilobyte header must not reach them whole.
const MaxText = 4096

// capView cuts a text to MaxText bytes, on a character boundary.
func capView(s string) (string, []int, int) {
	if len(s) <= MaxText {
		return s, nil, 0
	}
	n := MaxText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], nil, 0
}

// compilerFor is the dialect compiler of a source's rules.
func compilerFor(src source) fingerprint.RegexCompiler {
	if src.view == "" {
		return fingerprint.Ruby
	}
	return dialects["recog:"+src.view]
}

// Dialects registers the recog dialects on a catalog.
func Dialects(cat *fingerprint.Catalog) {
	for name, c := range dialects {
		cat.RegisterDialect(name, c)
	}
}

// Compiler returns the compiler of a recog dialect ("recog",
// "recog:<view>"), or nil.
func Compiler(dialect string) fingerprint.RegexCompiler { return dialects[dialect] }
