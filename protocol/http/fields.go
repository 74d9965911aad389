package http

import (
	"bytes"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portrait-scanner/portrait/protocol/wire"
)

// MaxBodyField is how much of the body goes into the .body field.
const MaxBodyField = 16 << 10

// scanLimit bounds how much of a body the HTML scanners look at.
const scanLimit = 128 << 10

var (
	reTitle    = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title`)
	reMeta     = regexp.MustCompile(`(?is)<meta\b[^>]*>`)
	reLink     = regexp.MustCompile(`(?is)<link\b[^>]*>`)
	reAttr     = regexp.MustCompile(`(?is)([a-z][a-z0-9_:-]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)`)
	reSpaces   = regexp.MustCompile(`\s+`)
	tlsReqText = []string{
		"The plain HTTP request was sent to HTTPS port",       // nginx
		"speaking plain HTTP to an SSL-enabled server port",   // Apache httpd
		"Client sent an HTTP request to an HTTPS server",      // Go net/http
		"This combination of host and port requires TLS",      // Apache httpd 2.4
		"You're speaking plain HTTP to an SSL-enabled server", // Apache httpd 2.2
	}
)

// marker is a hint whose presence in a page or cookie tells a framework or
// application platform; the rules turn markers into products.
type marker struct {
	token  string
	cookie bool // look in cookie names instead of the body
}

// markers are looked up in order; the field lists the ones found.
var markers = []marker{
	{token: "wp-content"},
	{token: "wp-includes"},
	{token: "__VIEWSTATE"},
	{token: "__EVENTVALIDATION"},
	{token: "__RequestVerificationToken"},
	{token: "csrfmiddlewaretoken"},
	{token: "authenticity_token"},
	{token: "csrf-token"},
	{token: "Drupal.settings"},
	{token: "drupal-settings-json"},
	{token: "/sites/default/files"},
	{token: "/media/jui/"},
	{token: "/media/system/js/"},
	{token: "__NEXT_DATA__"},
	{token: "__NUXT__"},
	{token: "ng-version"},
	{token: "data-reactroot"},
	{token: "laravel_session", cookie: true},
	{token: "XSRF-TOKEN", cookie: true},
	{token: "JSESSIONID", cookie: true},
	{token: "PHPSESSID", cookie: true},
	{token: "ASP.NET_SessionId", cookie: true},
	{token: "ASPSESSIONID", cookie: true},
	{token: "ci_session", cookie: true},
	{token: "connect.sid", cookie: true},
	{token: "csrftoken", cookie: true},
	{token: "_session_id", cookie: true},
	{token: "CFID", cookie: true},
	{token: "CFTOKEN", cookie: true},
	{token: "grafana_session", cookie: true},
	{token: "_gitlab_session", cookie: true},
	{token: "SERVERID", cookie: true},
	{token: "BIGipServer", cookie: true},
	{token: "AWSALB", cookie: true},
}

// Fields turns a response into evidence fields named prefix + "." + name,
// e.g. Fields("http", r) gives "http.status" and Fields("http.404", r) gives
// "http.404.status". See the package documentation for the list.
func Fields(prefix string, r *Response) map[string]string {
	f := map[string]string{}
	set := func(name, v string) {
		if v != "" {
			f[prefix+"."+name] = v
		}
	}
	if r == nil {
		return f
	}
	set("status", strconv.Itoa(r.Status))
	set("status_line", r.StatusLine)
	set("version", r.Version)
	var order []string
	seen := map[string]bool{}
	for _, h := range r.Headers {
		order = append(order, h.Name)
		ln := strings.ToLower(h.Name)
		if !seen[ln] {
			seen[ln] = true
			set("header."+ln, text(r.Header(h.Name)))
		}
	}
	set("header_order", text(strings.Join(order, ",")))
	body := r.Body
	if len(body) > MaxBodyField {
		body = body[:MaxBodyField]
	}
	set("body", wire.Latin1(body))
	body = r.Body
	set("title", text(Title(body)))
	set("generator", text(Generator(body)))
	cookies := CookieNames(r)
	set("cookies", text(strings.Join(cookies, ",")))
	set("powered_by", text(r.Header("X-Powered-By")))
	set("markers", strings.Join(Markers(body, cookies), ","))
	if TLSRequired(r) {
		set("tls_required", "true")
	}
	return f
}

// Title extracts the page title, entity-decoded, whitespace collapsed and
// capped at 512 bytes.
func Title(body []byte) string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	m := reTitle.FindSubmatch(body)
	if m == nil {
		return ""
	}
	t := html.UnescapeString(string(m[1]))
	t = strings.TrimSpace(reSpaces.ReplaceAllString(t, " "))
	if len(t) > 512 {
		t = t[:512]
	}
	return t
}

// attrs parses the attributes of one tag into a lower-case-keyed map.
func attrs(tag []byte) map[string]string {
	a := map[string]string{}
	for _, m := range reAttr.FindAllSubmatch(tag, 32) {
		v := string(m[2])
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			v = v[1 : len(v)-1]
		}
		k := strings.ToLower(string(m[1]))
		if _, dup := a[k]; !dup {
			a[k] = html.UnescapeString(strings.TrimSpace(v))
		}
	}
	return a
}

// Generator returns the content of <meta name="generator">.
func Generator(body []byte) string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	var gens []string
	for _, tag := range reMeta.FindAll(body, 64) {
		a := attrs(tag)
		if strings.EqualFold(a["name"], "generator") && a["content"] != "" {
			gens = append(gens, a["content"])
		}
	}
	return strings.Join(gens, ", ")
}

// IconHref returns the href of the first <link rel="icon"> (or "shortcut
// icon", "apple-touch-icon") in the page, or "".
func IconHref(body []byte) string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	var fallback string
	for _, tag := range reLink.FindAll(body, 64) {
		a := attrs(tag)
		rel := strings.ToLower(a["rel"])
		if a["href"] == "" || !strings.Contains(rel, "icon") {
			continue
		}
		if strings.Contains(rel, "apple-touch") {
			if fallback == "" {
				fallback = a["href"]
			}
			continue
		}
		return a["href"]
	}
	return fallback
}

// CookieNames lists the names of the cookies set, in order, without
// duplicates.
func CookieNames(r *Response) []string {
	var names []string
	seen := map[string]bool{}
	for _, v := range r.Values("Set-Cookie") {
		name, _, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || seen[name] {
			continue
		}
		seen[name] = true
		names = append(names, name)
	}
	return names
}

// Markers lists the framework hints present in the body or the cookie names.
func Markers(body []byte, cookies []string) []string {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	var found []string
	for _, m := range markers {
		if m.cookie {
			for _, c := range cookies {
				if strings.HasPrefix(c, m.token) {
					found = append(found, m.token)
					break
				}
			}
			continue
		}
		if bytes.Contains(body, []byte(m.token)) {
			found = append(found, m.token)
		}
	}
	return found
}

// TLSRequired reports the answer a TLS-only server gives to plaintext HTTP.
func TLSRequired(r *Response) bool {
	if r.Status != 400 && r.Status != 497 && r.Status != 403 {
		return false
	}
	if r.Status == 497 { // nginx's internal "HTTP to HTTPS" code, sometimes leaked
		return true
	}
	for _, t := range tlsReqText {
		if bytes.Contains(r.Body, []byte(t)) {
			return true
		}
	}
	return false
}

// text keeps a short human-readable value (title, header) as is when it is
// valid UTF-8 and falls back to Latin-1 otherwise, so fields are always
// valid UTF-8.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return wire.Latin1([]byte(s))
}
