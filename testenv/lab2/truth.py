#!/usr/bin/env python3
"""Write lab2's truth.json (to stdout) from what is ACTUALLY running. Stdlib only.

The output has the same format as the shared lab's truth.json, so that the
shared lab's score.py scores a scanner against it unchanged. For every
catalogued lab2 listener this script
  * checks with `ss -ltnup` that the socket is listening and which process owns it,
  * reads the installed version from dpkg-query (or from the .deb that up.sh
    unpacked under /opt/lab2) and keeps its upstream part (1:9.2p1-2+deb12u1 -> 9.2p1),
  * talks to the port once, the way any unauthenticated client may (a banner
    grab, one HTTP request, a DNS version.bind query, IRC registration, an
    MQTT subscription to $SYS/broker/version...), and records whether the
    exact version is visible on the wire.

Fields of each entry of "services":
  address, port, transport      where it listens (127.0.0.1 only)
  service, service_aliases      nmap-style service name (+ accepted alternatives)
  tunnel                        "ssl" when wrapped in TLS (none in lab2)
  product, product_aliases      nmap-style product name (+ accepted alternatives)
  version                       upstream version of the installed package
  package, package_version      Debian package and its full version
  package_source                "dpkg" or "unpacked <file>.deb"
  binary_version                first line of the daemon's own version output
  version_on_wire               true / "partial" (a shorter prefix) / false
  wire_probe, wire_evidence     what was sent and the relevant part of the reply
  process, pid                  owner of the socket according to ss
  lab_name                      run/<lab_name>.pid in up.sh / down.sh
  nonstandard_port              true: every lab2 server is on a high port
"""
import datetime
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

IP = "127.0.0.1"
OPT = "/opt/lab2"
C = []


def add(lab, port, service, product, package, vcmd, probe, aliases=(), paliases=()):
    C.append(dict(lab_name=lab, port=port, transport="tcp", service=service, service_aliases=list(aliases),
                  tunnel=None, product=product, product_aliases=list(paliases), package=package, vcmd=vcmd,
                  probe=probe, nonstandard_port=True))


BANNER = ("banner", None)
HTTP_GET = ("tcp_send", b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
PROXY_GET = ("tcp_send", b"GET http://127.0.0.1:1/ HTTP/1.0\r\nHost: 127.0.0.1:1\r\n\r\n")
DNS = ("dns_version_tcp", None)

add("dropbear", 20022, "ssh", "Dropbear sshd", "dropbear-bin", ["/usr/sbin/dropbear", "-V"], BANNER,
    paliases=["Dropbear"])
add("xinetd2", 20122, "ssh", "TinySSH", "tinysshd", None, BANNER, paliases=["tinysshd", "tinyssh"])
add("xinetd2", 20021, "ftp", "GNU Inetutils FTPd", "inetutils-ftpd",
    [OPT + "/inetutils-ftpd/usr/sbin/ftpd", "--version"], BANNER, paliases=["inetutils ftpd", "GNU inetutils"])
add("opensmtpd", 20025, "smtp", "OpenSMTPD", "opensmtpd", None, ("tcp_send_after_banner", b"EHLO lab2\r\n"))
add("imap4d", 20143, "imap", "GNU Mailutils imapd", "mailutils-imap4d", ["/usr/sbin/imap4d", "--version"],
    ("tcp_send_after_banner", b"a1 CAPABILITY\r\na2 ID NIL\r\na3 LOGOUT\r\n"),
    paliases=["GNU Mailutils", "mailutils imap4d"])
add("pop3d", 20110, "pop3", "GNU Mailutils pop3d", "mailutils-pop3d", ["/usr/sbin/pop3d", "--version"],
    ("tcp_send_after_banner", b"CAPA\r\nQUIT\r\n"), paliases=["GNU Mailutils", "mailutils pop3d"])
add("haproxy", 20080, "http", "HAProxy http proxy", "haproxy", ["/usr/sbin/haproxy", "-v"], HTTP_GET,
    aliases=["http-proxy"], paliases=["HAProxy"])
add("varnish", 20081, "http", "Varnish http accelerator", "varnish", ["/usr/sbin/varnishd", "-V"], HTTP_GET,
    aliases=["http-proxy"], paliases=["Varnish"])
add("mini_httpd", 20082, "http", "mini_httpd", "mini-httpd", None, HTTP_GET, paliases=["mini httpd"])
add("webfs", 20083, "http", "WebFS httpd", "webfs", None, HTTP_GET, paliases=["webfs", "webfsd"])
add("simplehttp", 20084, "http", "SimpleHTTPServer", "python3.11", ["/usr/bin/python3", "--version"], HTTP_GET,
    paliases=["Python http.server", "SimpleHTTP"])
add("gunicorn", 20085, "http", "Gunicorn", "gunicorn", ["/usr/bin/gunicorn", "--version"], HTTP_GET)
add("nodejs", 20086, "http", "Node.js", "nodejs", ["/usr/bin/node", "--version"], HTTP_GET,
    paliases=["node.js", "nodejs"])
add("nginx_notokens", 20087, "http", "nginx", "nginx", ["/usr/sbin/nginx", "-v"], HTTP_GET)
add("apache_prod", 20088, "http", "Apache httpd", "apache2", ["/usr/sbin/apache2", "-v"], HTTP_GET,
    paliases=["Apache"])
add("icecast", 20800, "http", "Icecast streaming media server", "icecast2", None, HTTP_GET,
    aliases=["icecast"], paliases=["Icecast"])
add("tinyproxy", 20888, "http-proxy", "tinyproxy http proxy", "tinyproxy", ["/usr/bin/tinyproxy", "-v"], PROXY_GET,
    aliases=["http"], paliases=["tinyproxy"])
add("privoxy", 20118, "http-proxy", "Privoxy http proxy", "privoxy", ["/usr/sbin/privoxy", "--version"], PROXY_GET,
    aliases=["http"], paliases=["Privoxy"])
add("dante", 21080, "socks5", "Dante socks5", "dante-server", ["/usr/sbin/danted", "-v"], ("socks5_hello", None),
    aliases=["socks"], paliases=["Dante"])
add("unbound", 20053, "domain", "Unbound", "unbound", ["/usr/sbin/unbound", "-V"], DNS, paliases=["NLnet Labs Unbound"])
add("dnsmasq", 20054, "domain", "dnsmasq", "dnsmasq-base", ["/usr/sbin/dnsmasq", "--version"], DNS)
add("nsd", 20055, "domain", "NLnet Labs NSD", "nsd", ["/usr/sbin/nsd", "-v"], DNS, paliases=["NSD"])
add("rsyncd", 20873, "rsync", "rsyncd", "rsync", ["/usr/bin/rsync", "--version"], BANNER, paliases=["rsync"])
add("gitdaemon", 20418, "git", "git-daemon", "git", ["/usr/bin/git", "--version"], ("git_ls_refs", None),
    paliases=["git daemon", "Git"])
add("ngircd", 20667, "irc", "ngircd", "ngircd", ["/usr/sbin/ngircd", "--version"], ("irc_register", None),
    paliases=["ngIRCd"])
add("prosody", 20222, "xmpp-client", "Prosody XMPP server", "prosody", None, ("xmpp_stream", None),
    aliases=["jabber", "xmpp"], paliases=["Prosody"])
add("redis_auth", 20379, "redis", "Redis key-value store", "redis-server", ["/usr/bin/redis-server", "--version"],
    ("tcp_send", b"INFO server\r\n"), paliases=["Redis"])
add("mosquitto_anon", 20883, "mqtt", "Mosquitto", "mosquitto", None, ("mqtt_sys_version", None),
    paliases=["Eclipse Mosquitto", "mosquitto"])


# ----------------------------------------------------------------- versions
def sh(cmd, timeout=15):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (r.stdout or "") + (r.stderr or "")
    except Exception:  # noqa: BLE001 - a missing binary is just "no version"
        return ""


def pkg_version(pkg):
    out = sh(["dpkg-query", "-W", "-f=${Version}", pkg]).strip()
    if out and "no packages found" not in out:
        return out, "dpkg"
    d = os.path.join(OPT, "debs")
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if f.startswith(pkg + "_") and f.endswith(".deb"):
                return sh(["dpkg-deb", "-f", os.path.join(d, f), "Version"]).strip(), "unpacked " + f
    return None, None


def upstream(v):
    """1:9.2p1-2+deb12u1 -> 9.2p1; 1.21+ds1-12 -> 1.21"""
    if not v:
        return None
    v = v.split(":", 1)[1] if re.match(r"^\d+:", v) else v
    if "-" in v:
        v = v.rsplit("-", 1)[0]
    return re.split(r"[+~]", v)[0]


def binary_version(cmd):
    if not cmd or not os.path.exists(cmd[0]):
        return None
    for line in sh(cmd).splitlines():
        if re.search(r"\d+\.\d+", line):
            return line.strip()[:200]
    return None


# ----------------------------------------------------------------- wire probes
def rd(s, t=3.0, until=None, idle=0.6):
    """read until EOF, until(data), t seconds in all, or idle s of silence after data"""
    data, end = b"", time.time() + t
    while time.time() < end:
        s.settimeout(max(0.05, min(end - time.time(), idle if data else t)))
        try:
            chunk = s.recv(8192)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        if until and until(data):
            break
    return data


def tcp(port, payload=None, wait_banner=False, t=3.0):
    with socket.create_connection((IP, port), timeout=t) as s:
        data = b""
        if wait_banner:
            data += rd(s, t=1.5, until=lambda d: d.endswith(b"\n"))
        if payload:
            s.sendall(payload)
        return data + rd(s, t=t)


def dns_query(name, qtype, qclass):
    q = struct.pack(">HHHHHH", 0x1337, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, qclass)


def mqtt_sys_version(port):
    """anonymous CONNECT, SUBSCRIBE $SYS/broker/version, read the retained PUBLISH"""
    vh = b"\x00\x04MQTT\x04\x02\x00\x3c"
    pl = b"\x00\x09lab2truth"
    topic = b"$SYS/broker/version"
    sub = b"\x00\x01" + struct.pack(">H", len(topic)) + topic + b"\x00"
    with socket.create_connection((IP, port), timeout=3) as s:
        s.sendall(bytes([0x10, len(vh) + len(pl)]) + vh + pl)
        data = rd(s, t=2, until=lambda d: len(d) >= 4)
        s.sendall(bytes([0x82, len(sub)]) + sub)
        data += rd(s, t=2, until=lambda d: topic in d and len(d) > d.find(topic) + len(topic) + 5)
        return data


def probe(kind, port, arg):
    if kind == "banner":
        return tcp(port)
    if kind == "tcp_send":
        return tcp(port, arg)
    if kind == "tcp_send_after_banner":
        return tcp(port, arg, wait_banner=True)
    if kind == "dns_version_tcp":
        q = dns_query("version.bind", 16, 3)
        r = tcp(port, struct.pack(">H", len(q)) + q)
        return b" ".join(re.findall(rb"[\x20-\x7e]{3,}", r[14:]))
    if kind == "socks5_hello":   # version 5, one method: no authentication
        return tcp(port, b"\x05\x01\x00").hex().encode()
    if kind == "git_ls_refs":   # a scanner knows no repository name: ask for the root
        req = b"git-upload-pack /\x00host=localhost\x00"
        return tcp(port, b"%04x" % (len(req) + 4) + req)
    if kind == "irc_register":
        return tcp(port, b"NICK lab2truth\r\nUSER lab2truth 0 * :lab2\r\n")
    if kind == "xmpp_stream":
        return tcp(port, b"<?xml version='1.0'?><stream:stream to='lab2.local' xmlns='jabber:client' "
                         b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    if kind == "mqtt_sys_version":
        return mqtt_sys_version(port)
    raise ValueError(kind)


def printable(b, n=400):
    s = re.sub(r"[^\x20-\x7e\n]", " ", b.decode("latin-1"))
    return re.sub(r"\s+", " ", s).strip()[:n]


def wire_check(entry, version):
    kind, arg = entry["probe"]
    try:
        raw = probe(kind, entry["port"], arg)
    except Exception as e:  # noqa: BLE001
        return False, "probe %s failed: %s" % (kind, e), kind
    text = printable(raw, 100000)
    if not version:
        return False, text[:400], kind
    m = re.search(r"(?<![0-9A-Za-z.])" + re.escape(version) + r"(?![0-9])", text)
    if m:
        a = max(0, m.start() - 150)
        return True, text[a:m.end() + 150], kind
    parts = version.split(".")
    if len(parts) >= 3:
        pm = re.search(r"(?i)[A-Za-z][\w-]*[/ _-]v?" + re.escape(".".join(parts[:2])) + r"(?![0-9.])", text)
        if pm:
            a = max(0, pm.start() - 150)
            return "partial", text[a:pm.end() + 150], kind
    return False, text[:400], kind


def ss_listeners():
    res = []
    for line in sh(["ss", "-H", "-ltnup"]).splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        addr, _, port = f[4].rpartition(":")
        res.append(dict(transport=f[0], address=addr.strip("[]"), port=int(port),
                        procs=re.findall(r'\("([^"]+)",pid=(\d+)', line)))
    return res


def main():
    listeners = ss_listeners()
    services, missing, seen = [], [], set()
    for e in C:
        match = [l for l in listeners if l["transport"] == e["transport"] and l["port"] == e["port"]]
        base = {k: e[k] for k in ("lab_name", "port", "transport", "service", "service_aliases", "tunnel",
                                  "product", "product_aliases", "nonstandard_port")}
        if not match:
            missing.append(dict(base, reason="not listening according to ss"))
            continue
        l = match[0]
        seen.add((e["transport"], e["port"]))
        pv, psrc = pkg_version(e["package"])
        ver = upstream(pv)
        onwire, evidence, kind = wire_check(e, ver)
        procs = sorted(set(p for p, _ in l["procs"]))
        pids = sorted(set(int(p) for _, p in l["procs"]))
        services.append(dict(
            address=l["address"], port=e["port"], transport=e["transport"], service=e["service"],
            service_aliases=e["service_aliases"], tunnel=e["tunnel"], product=e["product"],
            product_aliases=e["product_aliases"], version=ver, package=e["package"], package_version=pv,
            package_source=psrc, binary_version=binary_version(e["vcmd"]), version_on_wire=onwire,
            wire_probe=kind, wire_evidence=evidence, process=",".join(procs), pid=pids[0] if pids else None,
            lab_name=e["lab_name"], nonstandard_port=e["nonstandard_port"]))
    services.sort(key=lambda s: (s["transport"], s["port"]))
    lab_pids = {p for l in listeners if (l["transport"], l["port"]) in seen for _, p in l["procs"]}
    other = [dict(transport=l["transport"], address=l["address"], port=l["port"],
                  process=",".join(sorted(set(p for p, _ in l["procs"]))))
             for l in listeners
             if (l["transport"], l["port"]) not in seen and lab_pids & {p for _, p in l["procs"]}]
    non_loopback = []
    for l in listeners:
        a = l["address"]
        if a.startswith("127.") or a in ("::1",) or a.startswith("::ffff:127."):
            continue
        non_loopback.append(dict(transport=l["transport"], address=a, port=l["port"],
                                 process=",".join(sorted(set(p for p, _ in l["procs"]))),
                                 lab2=bool(lab_pids & {p for _, p in l["procs"]})))
    doc = dict(
        generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        host=IP,
        note=("lab2: real Debian 12 servers the shared lab does not have, all on high ports. version = upstream "
              "version of the installed Debian package; version_on_wire tells whether an unauthenticated client "
              "sees that exact version (banner, headers, version.bind, IRC registration, $SYS topic...)."),
        counts=dict(services=len(services), tcp=sum(1 for s in services if s["transport"] == "tcp"),
                    udp=sum(1 for s in services if s["transport"] == "udp"),
                    version_on_wire=sum(1 for s in services if s["version_on_wire"] is True),
                    missing=len(missing)),
        tcp_ports=",".join(str(p) for p in sorted({s["port"] for s in services if s["transport"] == "tcp"})),
        udp_ports=",".join(str(p) for p in sorted({s["port"] for s in services if s["transport"] == "udp"})),
        services=services, missing=missing, other_listeners=other, non_loopback_listeners=non_loopback)
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
