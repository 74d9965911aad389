package vuln

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/portrait-scanner/portrait/fingerprint"
	"github.com/portrait-scanner/portrait/vuln/builtin"
)

// Check describes a misconfiguration check: its id (the finding's id and
// check), what it reports and how bad it is. Checks are documented in
// docs/intel.md; compliance mappings refer to them by id.
type Check struct {
	ID          string
	Title       string
	Severity    string
	Kind        string
	Remediation string
	CWE         string
}

// Checks lists every check this package can report, for documentation and
// for the compliance mappings.
var Checks = map[string]Check{}

func def(id, title, severity, kind, cwe, remediation string) Check {
	c := Check{ID: id, Title: title, Severity: severity, Kind: kind, CWE: cwe, Remediation: remediation}
	Checks[id] = c
	return c
}

var (
	chkAnonFTP = def("ftp-anonymous", "Anonymous FTP login allowed", "medium", KindMisconfig, "CWE-284",
		"Disable anonymous login (vsftpd: anonymous_enable=NO; ProFTPD: remove the <Anonymous> block) unless the server is meant to publish files, and then make it read-only.")
	chkFTPClear = def("ftp-cleartext", "FTP without TLS: credentials travel in clear text", "medium", KindMisconfig, "CWE-319",
		"Offer and require FTPS (AUTH TLS), or replace FTP with SFTP.")
	chkTelnet = def("telnet-cleartext", "Telnet remote login in clear text", "high", KindMisconfig, "CWE-319",
		"Disable the telnet service and use SSH.")
	chkRedis = def("redis-no-auth", "Redis accepts commands without authentication", "high", KindMisconfig, "CWE-306",
		"Set requirepass (or ACL users) and bind Redis to trusted interfaces only; keep protected-mode on.")
	chkMemcached = def("memcached-no-auth", "Memcached accepts commands without authentication", "medium", KindMisconfig, "CWE-306",
		"Bind memcached to trusted interfaces (-l), enable SASL where clients support it, and disable UDP (-U 0).")
	chkMongo = def("mongodb-no-auth", "MongoDB accepts commands without authentication", "critical", KindMisconfig, "CWE-306",
		"Enable authorization (security.authorization: enabled), create users, and bind to trusted interfaces.")
	chkElastic = def("elasticsearch-no-auth", "Elasticsearch API answers without authentication", "high", KindMisconfig, "CWE-306",
		"Enable Elasticsearch security (xpack.security.enabled) and bind to trusted interfaces.")
	chkNATS = def("nats-no-auth", "NATS server accepts clients without authentication", "medium", KindMisconfig, "CWE-306",
		"Configure authorization (users, tokens or nkeys) on the NATS server.")
	chkMQTT = def("mqtt-anonymous", "MQTT broker accepts anonymous clients", "medium", KindMisconfig, "CWE-306",
		"Set allow_anonymous false (Mosquitto) and require credentials or client certificates.")
	chkZK = def("zookeeper-open-commands", "ZooKeeper answers administrative four-letter words to anyone", "low", KindMisconfig, "CWE-200",
		"Restrict 4lw.commands.whitelist, enable SASL authentication and ACLs, and firewall the client port.")
	chkVNC = def("vnc-no-auth", "VNC server offers access without authentication", "critical", KindMisconfig, "CWE-306",
		"Require VNC authentication (TigerVNC: -SecurityTypes VncAuth,TLSVnc or a PAM type) or tunnel VNC over SSH.")
	chkRDPNLA = def("rdp-no-nla", "RDP server allows sessions without Network Level Authentication", "medium", KindMisconfig, "CWE-287",
		"Require NLA (CredSSP) and TLS; disable Standard RDP Security.")
	chkSMBSign = def("smb-signing-not-required", "SMB message signing is not required", "medium", KindMisconfig, "CWE-294",
		"Require SMB signing (Samba: server signing = mandatory; Windows: RequireSecuritySignature=1) to stop NTLM relay.")
	chkSMB1 = def("smbv1-enabled", "SMBv1 is enabled", "high", KindMisconfig, "CWE-327",
		"Disable SMBv1 (Samba: server min protocol = SMB2; Windows: disable the SMB1 feature).")
	chkSNMP = def("snmp-default-community", "SNMP answers a default community string", "high", KindMisconfig, "CWE-1392",
		"Remove the default communities; use SNMPv3 with authentication and privacy, or restrict the agent to management hosts.")
	chkDNSRec = def("dns-open-resolver", "DNS server offers recursion to this scanner", "medium", KindMisconfig, "CWE-406",
		"Allow recursion only to your own networks (BIND: allow-recursion; Unbound: access-control; dnsmasq: --local-service).")
	chkHeaders = def("http-security-headers", "HTTP security headers missing", "low", KindMisconfig, "CWE-693",
		"Send X-Frame-Options (or CSP frame-ancestors), X-Content-Type-Options: nosniff, a Content-Security-Policy, and HSTS on HTTPS.")
	chkNATSMon = def("nats-monitoring-exposed", "NATS monitoring endpoint exposed without authentication", "low", KindMisconfig, "CWE-200",
		"Bind the NATS monitoring port (http:) to localhost or put it behind authentication.")
	chkEtcdClear = def("etcd-cleartext-api", "etcd API served over plain HTTP", "medium", KindMisconfig, "CWE-319",
		"Serve etcd's client and peer APIs over TLS with client certificate authentication (--cert-file, --client-cert-auth) and enable etcd auth.")
	chkSMTPVrfy = def("smtp-vrfy", "SMTP server allows VRFY (user enumeration)", "low", KindMisconfig, "CWE-203",
		"Disable VRFY (Postfix: disable_vrfy_command = yes).")
	chkPlainAuth = def("cleartext-auth-offered", "Password authentication offered before TLS", "low", KindMisconfig, "CWE-319",
		"Offer password authentication only after STARTTLS (Dovecot: disable_plaintext_auth = yes, and no trusted networks for the scanner's address).")
	chkTLSLegacy = def("tls-legacy-protocol", "Legacy TLS/SSL protocol versions accepted", "medium", KindMisconfig, "CWE-327",
		"Accept TLS 1.2 and 1.3 only.")
	chkTLSWeak = def("tls-weak-cipher", "Weak TLS cipher suites accepted", "medium", KindMisconfig, "CWE-327",
		"Remove RC4, DES/3DES, NULL, export and anonymous suites from the server's cipher list.")
	chkCertExpired = def("tls-cert-expired", "TLS certificate expired", "medium", KindMisconfig, "CWE-298",
		"Renew the certificate.")
	chkCertFuture = def("tls-cert-not-yet-valid", "TLS certificate not yet valid", "medium", KindMisconfig, "CWE-298",
		"Check the server's clock and the certificate's validity dates.")
	chkCertExpiring = def("tls-cert-expiring", "TLS certificate expires within 30 days", "low", KindMisconfig, "CWE-298",
		"Renew the certificate before it expires.")
	chkCertSelf = def("tls-cert-self-signed", "TLS certificate is self-signed", "medium", KindMisconfig, "CWE-295",
		"Install a certificate issued by a CA the clients trust.")
	chkCertName = def("tls-cert-hostname-mismatch", "TLS certificate does not match the host name", "medium", KindMisconfig, "CWE-297",
		"Install a certificate whose subject alternative names include the name clients use.")
	chkCertKey = def("tls-cert-weak-key", "TLS certificate has a weak key", "medium", KindMisconfig, "CWE-326",
		"Use an RSA key of at least 2048 bits or an ECDSA/Ed25519 key.")
	chkCertSig = def("tls-cert-weak-signature", "TLS certificate signed with a weak hash (SHA-1/MD5)", "medium", KindMisconfig, "CWE-328",
		"Reissue the certificate with a SHA-256 (or better) signature.")
	chkSSHWeak = def("ssh-weak-algorithms", "SSH server offers weak algorithms", "low", KindMisconfig, "CWE-327",
		"Remove SHA-1 key exchange, CBC/RC4/3DES ciphers, MD5/96-bit MACs and ssh-dss/ssh-rsa (SHA-1) host key signatures from the server's configuration.")
	chkSSH1 = def("ssh-protocol-1", "SSH protocol version 1 supported", "high", KindMisconfig, "CWE-327",
		"Disable SSH protocol 1.")
	chkTerrapin = def("ssh-terrapin", "Terrapin (CVE-2023-48795): SSH prefix truncation possible", "medium", KindVulnerability, "CWE-354",
		"Upgrade to an SSH server with strict key exchange (OpenSSH 9.6 or a patched distribution build), or disable chacha20-poly1305@openssh.com and the -etm MACs.")
	chkOpenProxy = def("http-open-proxy", "HTTP proxy forwards requests for anyone", "high", KindMisconfig, "CWE-441",
		"Restrict the proxy to its clients (Squid: http_access rules; tinyproxy: Allow; Privoxy: permit-access).")
)

// checks runs the evidence-based checks on one service.
func checks(hc *hostCtx, s *fingerprint.Service) []*Finding {
	ev := s.Evidence
	svc := strings.TrimPrefix(s.Service, "ssl/")
	var out []*Finding
	add := func(c Check, detail string, keys ...string) {
		out = append(out, newCheckFinding(s, c, detail, pick(ev, keys...)))
	}

	// FTP.
	if ev["ftp.anonymous"] == "true" {
		add(chkAnonFTP, "The server accepted USER anonymous and a password.", "ftp.user", "ftp.pass", "ftp.anonymous", "ftp.anonymous.stat")
	}
	if svc == "ftp" && !s.TLS && ev["ftp.banner"] != "" && ev["ftp.starttls"] != "true" {
		why := "The server does not offer AUTH TLS."
		if ev["ftp.starttls"] != "" {
			why = "AUTH TLS did not succeed (" + orDash(ev["ftp.starttls.reply"]) + ")."
		}
		add(chkFTPClear, why, "ftp.banner", "ftp.auth_tls", "ftp.starttls", "ftp.starttls.reply")
	}
	// Telnet.
	if svc == "telnet" {
		add(chkTelnet, "A telnet daemon answered and offers a login.", "telnet.login_prompt", "telnet.banner")
	}
	// Unauthenticated data stores.
	if (ev["redis.version"] != "" || ev["redis.info"] != "") && ev["redis.auth_required"] != "true" && ev["redis.protected_mode"] != "true" {
		add(chkRedis, "INFO was answered without AUTH.", "redis.version", "redis.mode")
	}
	if svc == "memcached" && (ev["memcached.version"] != "" || ev["memcached.stats.version"] != "") && ev["memcached.auth_required"] != "true" {
		add(chkMemcached, "version and stats were answered without authentication.", "memcached.version", "memcached.stats.names")
	}
	if ev["mongodb.auth_required"] == "false" {
		add(chkMongo, "listDatabases succeeded without authentication.", "mongodb.version", "mongodb.auth_required")
	}
	for k, v := range ev {
		if strings.HasSuffix(k, ".body") && strings.Contains(v, "You Know, for Search") && ev[strings.TrimSuffix(k, ".body")+".status"] == "200" {
			add(chkElastic, "The cluster banner was served without credentials.", k)
			break
		}
	}
	if svc == "nats" && ev["nats.version"] != "" && ev["nats.auth_required"] != "true" {
		add(chkNATS, "The INFO greeting does not ask for authentication (auth_required absent or false).", "nats.version", "nats.keys", "nats.auth_required")
	}
	if ev["mqtt.connack.code"] == "0" {
		add(chkMQTT, "An MQTT CONNECT without credentials was accepted (CONNACK 0).", "mqtt.connack.code", "mqtt.sys.version")
	}
	if ev["zookeeper.whitelisted"] == "true" {
		add(chkZK, "The srvr/stat command answered an unauthenticated client.", "zookeeper.banner", "zookeeper.mode")
	}
	if hasItem(ev["vnc.security_types"], "1") || ev["vnc.auth_result"] == "ok" {
		add(chkVNC, "The server offers security type None.", "vnc.security_types", "vnc.auth_result", "vnc.desktop_name")
	}
	if ev["rdp.rdp_security"] == "granted" {
		add(chkRDPNLA, "The server granted Standard RDP Security to a client that did not offer CredSSP.", "rdp.rdp_security", "rdp.selected_protocol")
	}
	// SMB.
	if (svc == "microsoft-ds" || svc == "netbios-ssn") && (ev["smb.signing"] == "enabled" || ev["smb.signing"] == "disabled") {
		add(chkSMBSign, "SMB2 NEGOTIATE says signing is "+ev["smb.signing"]+", not required.", "smb.signing", "smb.security_mode", "smb.dialect")
	}
	if ev["smb.smb1"] == "true" {
		add(chkSMB1, "The server accepted the SMB1 dialect NT LM 0.12.", "smb.smb1", "smb.native_os", "smb.native_lanman")
	}
	if c := ev["snmp.community"]; c == "public" || c == "private" {
		add(chkSNMP, "The agent answered the community \""+c+"\".", "snmp.community", "snmp.sysdescr", "snmp.sys_description")
	}
	if svc == "domain" && hasWord(ev["dns.flags"], "ra") {
		add(chkDNSRec, "The answer carries the RA (recursion available) flag.", "dns.flags")
	}
	// HTTP.
	if f := headerCheck(s); f != nil {
		out = append(out, f)
	}
	if ev["http.path./varz.status"] == "200" {
		add(chkNATSMon, "GET /varz returned the server's configuration and statistics.", "http.path./varz.status")
	}
	if strings.Contains(strings.ToLower(s.Product), "etcd") && !s.TLS && (isHTTP(s) || strings.HasPrefix(ev["probe.etcd-version"], "HTTP/")) {
		add(chkEtcdClear, "The etcd API answered plain HTTP.", "http.path./version.body", "http.status_line", "probe.etcd-version")
	}
	if f := openProxyFromEvidence(s); f != nil {
		out = append(out, f)
	}
	// Mail.
	if hasItem(ev["smtp.extensions"], "VRFY") {
		add(chkSMTPVrfy, "EHLO lists VRFY.", "smtp.extensions")
	}
	if !s.TLS {
		if svc == "imap" && ev["imap.capabilities"] != "" && !strings.Contains(ev["imap.capabilities"], "LOGINDISABLED") &&
			(strings.Contains(ev["imap.capabilities"], "AUTH=PLAIN") || strings.Contains(ev["imap.capabilities"], "AUTH=LOGIN")) {
			add(chkPlainAuth, "IMAP offers AUTH=PLAIN/LOGIN before STARTTLS.", "imap.capabilities")
		}
		if svc == "pop3" && (hasItem(ev["pop3.capa"], "USER") || strings.Contains(ev["pop3.capa"], "SASL PLAIN") || strings.Contains(ev["pop3.capa"], "SASL LOGIN")) {
			add(chkPlainAuth, "POP3 offers USER/PASS or SASL PLAIN before STLS.", "pop3.capa")
		}
		if svc == "smtp" || svc == "submission" {
			// The EHLO reply keeps the mechanisms ("250-AUTH PLAIN LOGIN");
			// smtp.extensions only the keywords.
			for _, l := range strings.Split(ev["smtp.ehlo"], "\n") {
				u := strings.ToUpper(l)
				if len(u) > 4 && strings.HasPrefix(u[4:], "AUTH") && (strings.Contains(u, "PLAIN") || strings.Contains(u, "LOGIN")) {
					add(chkPlainAuth, "SMTP offers AUTH PLAIN/LOGIN before STARTTLS.", "smtp.ehlo")
					break
				}
			}
		}
	}
	// TLS (the handshake the fingerprint made, direct or after STARTTLS).
	out = append(out, tlsChecks(hc, s)...)
	// SSH.
	out = append(out, sshChecks(s)...)
	return out
}

func newCheckFinding(s *fingerprint.Service, c Check, detail string, ev map[string]string) *Finding {
	f := &Finding{
		ID: c.ID, Port: s.Port, Transport: s.Transport, Service: s.Service, Kind: c.Kind, Check: c.ID,
		Title: c.Title, Description: detail, Severity: c.Severity, Status: Confirmed, Confidence: 95,
		Product: s.Product, Version: s.Version, Evidence: ev, Remediation: c.Remediation, Source: "check",
	}
	if c.CWE != "" {
		f.CWEs = []string{c.CWE}
	}
	f.Tags = addTag(f.Tags, c.Kind)
	return f
}

// pick copies the named fields that are present.
func pick(ev map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := ev[k]; ok && v != "" {
			out[k] = clip(v, 300)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func hasItem(list, item string) bool {
	for _, x := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(x), item) {
			return true
		}
	}
	return false
}

func hasWord(s, w string) bool {
	for _, x := range strings.Fields(s) {
		if x == w {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "no reply"
	}
	return s
}

// ---- HTTP headers ----

// headerCheck reports the security headers an HTML page served with 200
// lacks. Error pages, redirects and APIs are not judged.
func headerCheck(s *fingerprint.Service) *Finding {
	ev := s.Evidence
	svc := strings.TrimPrefix(s.Service, "ssl/")
	if svc != "http" && svc != "https" && svc != "http-alt" && svc != "ipp" {
		return nil
	}
	if ev["http.status"] != "200" || !strings.Contains(strings.ToLower(ev["http.header.content-type"]), "html") {
		return nil
	}
	h := func(n string) string { return ev["http.header."+n] }
	var missing []string
	csp := strings.ToLower(h("content-security-policy"))
	if h("x-frame-options") == "" && !strings.Contains(csp, "frame-ancestors") {
		missing = append(missing, "X-Frame-Options (or CSP frame-ancestors)")
	}
	if !strings.EqualFold(strings.TrimSpace(h("x-content-type-options")), "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if csp == "" {
		missing = append(missing, "Content-Security-Policy")
	}
	if s.TLS && h("strict-transport-security") == "" {
		missing = append(missing, "Strict-Transport-Security")
	}
	if len(missing) == 0 {
		return nil
	}
	keys := []string{"http.status_line", "http.header.content-type", "http.header_order"}
	f := newCheckFinding(s, chkHeaders, "The page at / lacks: "+strings.Join(missing, ", ")+".", pick(ev, keys...))
	f.Evidence["missing"] = strings.Join(missing, "; ")
	return f
}

// openProxyFromEvidence reads the http module's proxy-form request (made
// on unnamed servers): a forward proxy answers it with its own "cannot
// connect" error, while GET / drew something else.
func openProxyFromEvidence(s *fingerprint.Service) *Finding {
	ev := s.Evidence
	st := ev["http.proxy.status"]
	if st == "" {
		return nil
	}
	if !proxyForwarded(st, ev["http.proxy.status_line"]+"\n"+ev["http.proxy.body"]+"\n"+ev["http.proxy.header.x-squid-error"], ev["http.status"]) {
		return nil
	}
	f := newCheckFinding(s, chkOpenProxy, "A request for http://127.0.0.1:1/ (the proxy's own loopback, a closed port) was forwarded: the proxy tried to connect and reported the failure.",
		pick(ev, "http.proxy.status_line", "http.proxy.header.x-squid-error", "http.proxy.header.via", "http.status_line"))
	return f
}

// proxyForwarded decides from a proxy-form request's answer whether the
// server tried to reach the requested URL.
func proxyForwarded(status, text, rootStatus string) bool {
	switch status {
	case "500", "502", "503", "504":
	default:
		return false
	}
	if status == rootStatus {
		// The same error for "/": a reverse proxy whose backend is down,
		// not a forward proxy.
		return false
	}
	l := strings.ToLower(text)
	for _, m := range []string{"err_connect_fail", "connect failed", "unable to connect", "connection refused", "could not connect", "cannot connect", "can't connect", "connection failed", "bad gateway"} {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// ---- TLS ----

var weakCipherWords = []string{"_RC4_", "_DES_", "3DES", "_NULL_", "EXPORT", "_anon_", "_MD5"}

func tlsChecks(hc *hostCtx, s *fingerprint.Service) []*Finding {
	ev := s.Evidence
	if ev["tls.version"] == "" && ev["tls.cert.sha256"] == "" {
		return nil
	}
	var out []*Finding
	add := func(c Check, detail string, keys ...string) {
		out = append(out, newCheckFinding(s, c, detail, pick(ev, keys...)))
	}
	switch ev["tls.version"] {
	case "SSLv3", "TLSv1.0", "TLSv1.1":
		add(chkTLSLegacy, "The handshake negotiated "+ev["tls.version"]+".", "tls.version", "tls.cipher")
	}
	for _, w := range weakCipherWords {
		if strings.Contains(strings.ToUpper(ev["tls.cipher"]), strings.ToUpper(w)) {
			add(chkTLSWeak, "The handshake negotiated "+ev["tls.cipher"]+".", "tls.cipher", "tls.version")
			break
		}
	}
	certKeys := []string{"tls.cert.subject", "tls.cert.issuer", "tls.cert.not_before", "tls.cert.not_after", "tls.cert.sha256"}
	if na, err := time.Parse(time.RFC3339, ev["tls.cert.not_after"]); err == nil {
		switch {
		case hc.now.After(na):
			add(chkCertExpired, "The certificate expired on "+na.UTC().Format("2006-01-02 15:04 MST")+".", certKeys...)
		case na.Sub(hc.now) < 30*24*time.Hour:
			add(chkCertExpiring, fmt.Sprintf("The certificate expires on %s (validity %s days).", na.UTC().Format("2006-01-02 15:04 MST"), orDash(ev["tls.cert.validity_days"])), certKeys...)
		}
	}
	if nb, err := time.Parse(time.RFC3339, ev["tls.cert.not_before"]); err == nil && hc.now.Before(nb.Add(-time.Hour)) {
		add(chkCertFuture, "The certificate is valid only from "+nb.UTC().Format("2006-01-02 15:04 MST")+".", certKeys...)
	}
	if ev["tls.cert.self_signed"] == "true" {
		add(chkCertSelf, "Issuer and subject are the same and the certificate verifies with its own key.", append(certKeys, "tls.cert.self_signed")...)
	}
	if name := s.Hostname; name != "" && net.ParseIP(name) == nil && ev["tls.cert.sha256"] != "" && !certCovers(ev, name) {
		add(chkCertName, "The certificate names "+certNames(ev)+", not "+name+".", "tls.cert.cn", "tls.cert.san")
	}
	if k := ev["tls.cert.key"]; strings.HasPrefix(k, "RSA-") {
		var bits int
		fmt.Sscanf(k, "RSA-%d", &bits)
		if bits > 0 && bits < 2048 {
			add(chkCertKey, "The certificate key is "+k+".", "tls.cert.key")
		}
	}
	if sa := strings.ToUpper(ev["tls.cert.sig_alg"]); ev["tls.cert.self_signed"] != "true" && (strings.Contains(sa, "SHA1") || strings.Contains(sa, "MD5") || strings.Contains(sa, "MD2")) {
		add(chkCertSig, "The certificate is signed with "+ev["tls.cert.sig_alg"]+".", "tls.cert.sig_alg")
	}
	return out
}

// certCovers reports whether the certificate's names cover host (DNS
// names with one leading wildcard label; the CN only when there is no SAN).
func certCovers(ev map[string]string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	names := strings.Split(ev["tls.cert.san"], ",")
	if ev["tls.cert.san"] == "" {
		names = []string{ev["tls.cert.cn"]}
	}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == host {
			return true
		}
		if strings.HasPrefix(n, "*.") {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == n[2:] {
				return true
			}
		}
	}
	return false
}

func certNames(ev map[string]string) string {
	if ev["tls.cert.san"] != "" {
		return ev["tls.cert.san"]
	}
	return ev["tls.cert.cn"]
}

// ---- SSH ----

var sshWeak = map[string][]string{
	"ssh.kex.algorithms":     {"diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1", "gss-group1-sha1-", "gss-gex-sha1-", "gss-group14-sha1-", "rsa1024-sha1"},
	"ssh.ciphers":            {"arcfour", "arcfour128", "arcfour256", "3des-cbc", "des-cbc", "blowfish-cbc", "cast128-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc", "rijndael-cbc@lysator.liu.se"},
	"ssh.macs":               {"hmac-md5", "hmac-md5-96", "hmac-sha1-96", "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com", "hmac-sha1-96-etm@openssh.com", "umac-32@openssh.com"},
	"ssh.hostkey.algorithms": {"ssh-dss", "ssh-rsa"}, // ssh-rsa signs with SHA-1
}

func sshChecks(s *fingerprint.Service) []*Finding {
	ev := s.Evidence
	if ev["ssh.banner"] == "" {
		return nil
	}
	var out []*Finding
	if p := ev["ssh.proto"]; p == "1.99" || strings.HasPrefix(p, "1.") {
		out = append(out, newCheckFinding(s, chkSSH1, "The banner announces protocol "+p+".", pick(ev, "ssh.banner")))
	}
	var weak []string
	fields := make([]string, 0, len(sshWeak))
	for k := range sshWeak {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	for _, k := range fields {
		for _, alg := range strings.Split(ev[k], ",") {
			for _, w := range sshWeak[k] {
				if alg == w || (strings.HasSuffix(w, "-") && strings.HasPrefix(alg, w)) {
					weak = append(weak, alg)
				}
			}
		}
	}
	if len(weak) > 0 {
		f := newCheckFinding(s, chkSSHWeak, "The server offers "+strings.Join(weak, ", ")+".", pick(ev, "ssh.kex.algorithms", "ssh.ciphers", "ssh.macs", "ssh.hostkey.algorithms"))
		out = append(out, f)
	}
	// Terrapin: ChaCha20-Poly1305 or an EtM MAC without strict key exchange.
	kex := ev["ssh.kex.algorithms"]
	if kex != "" && ev["ssh.ciphers"] != "" {
		exposed := hasItem(ev["ssh.ciphers"], "chacha20-poly1305@openssh.com")
		for _, m := range strings.Split(ev["ssh.macs"], ",") {
			if strings.HasSuffix(m, "-etm@openssh.com") {
				exposed = true
			}
		}
		if exposed && !hasItem(kex, "kex-strict-s-v00@openssh.com") {
			f := newCheckFinding(s, chkTerrapin, "The server offers ChaCha20-Poly1305 or Encrypt-then-MAC modes and its key exchange list lacks kex-strict-s-v00@openssh.com.",
				pick(ev, "ssh.banner", "ssh.kex.algorithms", "ssh.ciphers", "ssh.macs"))
			f.ID, f.CVE = "CVE-2023-48795", "CVE-2023-48795"
			if r, ok := builtin.Info("CVE-2023-48795"); ok {
				f.Published = r.Published
				f.References = r.References
			}
			f.Tags = addTag(f.Tags, "cve")
			out = append(out, f)
		}
	}
	return out
}
