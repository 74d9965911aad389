package vuln

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/protocol"
	phttp "github.com/portrait-scanner/portrait/protocol/http"
	"github.com/portrait-scanner/portrait/protocol/wire"
	"github.com/portrait-scanner/portrait/vuln/tlsscan"
)

// The safe active checks: ordinary requests any client may send (GET of a
// well-known path, a TLS ClientHello, a proxy-form GET for the proxy's own
// closed loopback port). None logs in, writes, or reaches a third party.

// pathProbe is a well-known page whose exposure is a finding.
type pathProbe struct {
	check Check
	path  string
	// products limits the probe to ports whose product contains one of
	// these (lower case); empty means every web server.
	products []string
	// match decides from the answer's fields (prefix "http.path.<path>").
	match func(status string, body, wwwAuth string) (bool, string)
}

func bodyHas(all ...string) func(string, string, string) (bool, string) {
	return func(status, body, _ string) (bool, string) {
		if status != "200" {
			return false, ""
		}
		for _, s := range all {
			if !strings.Contains(body, s) {
				return false, ""
			}
		}
		return true, "the page carries its signature (" + strings.TrimSpace(all[0]) + ")"
	}
}

var pathProbes = []pathProbe{
	{def("http-server-status", "Web server status page exposed", "medium", KindMisconfig, "CWE-200",
		"Restrict the status page to administrators (Apache: <Location /server-status> Require ip ...; lighttpd: status.status-url behind auth) or disable mod_status."),
		"/server-status", []string{"apache", "lighttpd"},
		func(status, body, _ string) (bool, string) {
			if status != "200" {
				return false, ""
			}
			if strings.Contains(body, "Apache Server Status for") || (strings.Contains(body, "lighttpd") && strings.Contains(body, "Server-Status")) {
				return true, "GET /server-status returned the live status page (clients, requested URLs, load)."
			}
			return false, ""
		}},
	{def("http-server-info", "Apache server-info page exposed", "medium", KindMisconfig, "CWE-200",
		"Disable mod_info or restrict /server-info to administrators."),
		"/server-info", []string{"apache httpd"}, bodyHas("Apache Server Information")},
	{def("http-nginx-status", "nginx stub_status page exposed", "low", KindMisconfig, "CWE-200",
		"Restrict the stub_status location (allow/deny) to monitoring hosts."),
		"/nginx_status", []string{"nginx"}, bodyHas("Active connections:", "server accepts handled requests")},
	{def("tomcat-manager-exposed", "Tomcat Manager application reachable", "medium", KindMisconfig, "CWE-284",
		"Remove the manager webapp or restrict it (RemoteAddrValve) to administrators' addresses."),
		"/manager/html", []string{"tomcat"},
		func(status, body, auth string) (bool, string) {
			if status == "200" && strings.Contains(body, "Tomcat Web Application Manager") {
				return true, "GET /manager/html returned the manager without asking for credentials."
			}
			if status == "401" && strings.Contains(auth, "Tomcat Manager Application") {
				return true, "GET /manager/html asks for the manager's credentials: its login is reachable from here."
			}
			return false, ""
		}},
	{def("http-metrics-exposed", "Prometheus metrics endpoint exposed without authentication", "low", KindMisconfig, "CWE-200",
		"Serve /metrics on a separate listener bound to the monitoring network, or put it behind authentication."),
		"/metrics", nil, bodyHas("# HELP ", "# TYPE ")},
	{def("http-pprof-exposed", "Go pprof debugging endpoint exposed", "medium", KindMisconfig, "CWE-215",
		"Disable the pprof handlers in production or bind them to localhost."),
		"/debug/pprof/", nil, bodyHas("Types of profiles available")},
	{def("http-git-exposed", "Git repository exposed in the web root", "high", KindMisconfig, "CWE-538",
		"Remove the .git folder from the document root or deny access to it."),
		"/.git/HEAD", nil, func(status, body, _ string) (bool, string) {
			if status == "200" && strings.HasPrefix(strings.TrimSpace(body), "ref: refs/") {
				return true, "GET /.git/HEAD returned a git ref: the repository (history, maybe secrets) can be downloaded."
			}
			return false, ""
		}},
	{def("http-phpinfo-exposed", "phpinfo() page exposed", "medium", KindMisconfig, "CWE-200",
		"Remove phpinfo pages from production servers."),
		"/phpinfo.php", nil, bodyHas("phpinfo()", "PHP Version")},
	{def("spring-actuator-env-exposed", "Spring Boot actuator /env endpoint exposed", "high", KindMisconfig, "CWE-200",
		"Expose only the health actuator endpoint, or secure the actuators with Spring Security."),
		"/actuator/env", nil, bodyHas("propertySources")},
	{def("squid-cachemgr-exposed", "Squid cache manager exposed", "medium", KindMisconfig, "CWE-200",
		"Allow the manager ACL only from administrators (http_access allow localhost manager; http_access deny manager)."),
		"/squid-internal-mgr/info", []string{"squid"}, bodyHas("Squid Object Cache")},
	{chkNATSMon, "/varz", []string{"nats"}, bodyHas(`"server_id"`, `"max_payload"`)},
	{def("docker-api-exposed", "Docker Engine API exposed without authentication", "critical", KindMisconfig, "CWE-306",
		"Never expose the Docker socket over TCP without TLS client authentication (dockerd --tlsverify)."),
		"/version", []string{"docker"}, bodyHas("ApiVersion", "GoVersion")},
}

// isHTTP reports whether a service speaks HTTP (any flavour): by name, or
// by the http module's evidence.
func isHTTP(s *fingerprint.Service) bool {
	switch strings.TrimPrefix(s.Service, "ssl/") {
	case "http", "https", "http-alt", "http-proxy", "etcd-client", "etcd-server", "ipp":
		return true
	}
	return s.Evidence["http.status_line"] != ""
}

// probe runs the active checks that apply to one service.
func (st *Stage) probe(ctx context.Context, hc *hostCtx, s *fingerprint.Service) []*Finding {
	if s.Transport != "" && s.Transport != "tcp" {
		return nil
	}
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	if s.Host == "" {
		addr = net.JoinHostPort(hc.h.Host, strconv.Itoa(s.Port))
	}
	var out []*Finding
	// TLS versions and suites.
	if kind, ok := tlsKind(s); ok {
		sni := s.Hostname
		res := tlsscan.Scan(ctx, tlsscan.Config{
			Dial:     func(ctx context.Context) (net.Conn, error) { return st.cfg.Dial(ctx, "tcp", addr) },
			StartTLS: kind, ServerName: sni, Timeout: st.cfg.ProbeTimeout,
		})
		how := "direct TLS"
		if kind != "" {
			how = "after " + strings.ToUpper(string(kind)) + " STARTTLS"
		}
		if len(res.Legacy) > 0 {
			f := newCheckFinding(s, chkTLSLegacy, "The server accepted a ClientHello for "+strings.Join(res.Legacy, ", ")+" ("+how+").",
				map[string]string{"accepted": strings.Join(res.Legacy, ", ")})
			f.Source = "probe"
			out = append(out, f)
		}
		if len(res.Weak) > 0 {
			f := newCheckFinding(s, chkTLSWeak, "Offered only weak suites, the server chose "+strings.Join(res.Weak, ", ")+" ("+how+").",
				map[string]string{"accepted": strings.Join(res.Weak, ", ")})
			f.Source = "probe"
			out = append(out, f)
		}
		for _, e := range res.Errors {
			st.cfg.Log.Debug("tls check", "port", s.Port, "err", e)
		}
	}
	if !isHTTP(s) {
		return out
	}
	env := protocol.Env{Host: hostOf(s, hc), Hostname: s.Hostname, Port: s.Port, TLS: s.TLS, Timeout: st.cfg.ProbeTimeout, MaxRead: 64 << 10}
	env.Dial = func(ctx context.Context) (net.Conn, error) {
		c, err := st.cfg.Dial(ctx, "tcp", addr)
		if err != nil || !s.TLS {
			return c, err
		}
		name := s.Hostname
		if name == "" {
			name = env.Host
		}
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: name, MinVersion: tls.VersionTLS10}) //nolint:gosec // a scanner reads any certificate
		hctx, cancel := context.WithTimeout(ctx, st.cfg.ProbeTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	// The engine may have named the port from another probe's answer and
	// left the http module's evidence out: fetch "/" for the header check.
	if s.Evidence["http.status"] == "" {
		if fields, _, err := phttp.FetchPath(ctx, env, "/"); err == nil || fields != nil {
			pre := phttp.PathPrefix("/")
			cp := *s
			cp.Evidence = map[string]string{}
			for k, v := range fields {
				if strings.HasPrefix(k, pre+".") {
					cp.Evidence["http."+strings.TrimPrefix(k, pre+".")] = v
				}
			}
			if f := headerCheck(&cp); f != nil {
				f.Source = "probe"
				out = append(out, f)
			}
		}
	}
	prod := strings.ToLower(s.Product)
	for _, p := range pathProbes {
		if ctx.Err() != nil {
			break
		}
		if len(p.products) > 0 && !containsAny(prod, p.products) {
			continue
		}
		fields, _, err := phttp.FetchPath(ctx, env, p.path)
		if err != nil && fields == nil {
			continue
		}
		pre := phttp.PathPrefix(p.path)
		ok, detail := p.match(fields[pre+".status"], fields[pre+".body"], fields[pre+".header.www-authenticate"])
		if !ok {
			continue
		}
		if !strings.HasPrefix(detail, "GET ") {
			detail = "GET " + p.path + " answered " + fields[pre+".status"] + ": " + detail + "."
		}
		f := newCheckFinding(s, p.check, detail, map[string]string{
			"request": "GET " + p.path, "status_line": fields[pre+".status_line"], "title": fields[pre+".title"],
		})
		f.Source = "probe"
		if f.Evidence["title"] == "" {
			delete(f.Evidence, "title")
		}
		out = append(out, f)
	}
	// Open proxy, for proxies the fingerprint did not already ask.
	if s.Evidence["http.proxy.status"] == "" && looksLikeProxy(s) {
		if f := st.proxyProbe(ctx, env, s); f != nil {
			out = append(out, f)
		}
	}
	return out
}

func hostOf(s *fingerprint.Service, hc *hostCtx) string {
	if s.Host != "" {
		return s.Host
	}
	return hc.h.Host
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// tlsKind says whether (and how) a service can be asked TLS questions.
func tlsKind(s *fingerprint.Service) (tlsscan.StartTLS, bool) {
	ev := s.Evidence
	if s.TLS {
		return "", true
	}
	switch {
	case ev["smtp.starttls"] == "true":
		return "smtp", true
	case ev["imap.starttls"] == "true":
		return "imap", true
	case ev["pop3.starttls"] == "true":
		return "pop3", true
	case ev["ftp.starttls"] == "true":
		return "ftp", true
	case ev["postgresql.ssl"] == "S":
		return "postgresql", true
	}
	return "", false
}

var proxyWords = []string{"proxy", "squid", "privoxy", "tinyproxy", "polipo", "3proxy", "ccproxy", "wingate"}

func looksLikeProxy(s *fingerprint.Service) bool {
	return strings.TrimPrefix(s.Service, "ssl/") == "http-proxy" || containsAny(strings.ToLower(s.Product), proxyWords)
}

// proxyProbe sends a proxy-form GET for the proxy's own loopback port 1
// (closed on any sane host): a forward proxy tries to connect and reports
// the failure; nothing leaves the proxy's host.
func (st *Stage) proxyProbe(ctx context.Context, env protocol.Env, s *fingerprint.Service) *Finding {
	c, err := env.Dial(ctx)
	if err != nil {
		return nil
	}
	defer c.Close()
	if err := wire.Write(ctx, c, env.Timeout, phttp.ProxyRequest(env)); err != nil {
		return nil
	}
	r, _ := phttp.ReadResponse(ctx, c, env.Timeout, nil)
	if r == nil {
		return nil
	}
	fields := phttp.Fields("http.proxy", r)
	if !proxyForwarded(fields["http.proxy.status"], fields["http.proxy.status_line"]+"\n"+fields["http.proxy.body"]+"\n"+fields["http.proxy.header.x-squid-error"], s.Evidence["http.status"]) {
		return nil
	}
	f := newCheckFinding(s, chkOpenProxy, "A proxy-form GET for "+phttp.ProxyTarget+" (the proxy's own loopback, a closed port) was forwarded: the proxy tried to connect and reported the failure.",
		map[string]string{"request": "GET " + phttp.ProxyTarget, "status_line": fields["http.proxy.status_line"], "x-squid-error": fields["http.proxy.header.x-squid-error"]})
	if f.Evidence["x-squid-error"] == "" {
		delete(f.Evidence, "x-squid-error")
	}
	f.Source = "probe"
	return f
}
