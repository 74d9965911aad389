#!/usr/bin/env bash
# testenv/lab2/up.sh - a second ground-truth lab of REAL Debian 12 servers that
# the shared lab (/work/shared/lab) does not have, to check that portrait's
# fingerprinting generalises instead of memorising the first lab.
#
# Same method as the shared lab: apt-get installs (non-interactive, no
# recommends, a policy-rc.d keeps postinst scripts from starting daemons);
# packages that conflict with what is already installed (an MTA beside postfix,
# an FTP server beside vsftpd) are downloaded and unpacked under /opt/lab2
# instead. Every server listens on 127.0.0.1 only, on a high port (20000+), runs
# in the foreground under setsid, and its pid goes to run/<name>.pid so that
# down.sh stops exactly what this script started. Idempotent: a server whose pid
# file points at a live process is left alone. Runtime state and generated
# configuration live under /var/lib/lab2. Afterwards truth.py writes truth.json.
#
# Usage:  bash testenv/lab2/up.sh              # install what is missing, start all
#         bash testenv/lab2/up.sh --no-install # only (re)start what is missing
#         bash testenv/lab2/up.sh NAME...      # only these (names: ALL below)
#         bash testenv/lab2/up.sh --no-truth   # do not regenerate truth.json
# Needs root (apt, users, binding as other users).
set -u
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$LAB/run"        # pid files
LOG="$LAB/log"        # daemon output
ST=/var/lib/lab2      # data and generated configuration
ETC="$ST/etc"
OPT=/opt/lab2         # unpacked (not installed) packages
IP=127.0.0.1
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
mkdir -p "$RUN" "$LOG" "$ST" "$ETC" "$OPT/debs"
chmod 755 "$ST" "$ETC"

DO_INSTALL=1
DO_TRUTH=1
ONLY=()
for a in "$@"; do
  case "$a" in
    --no-install) DO_INSTALL=0 ;;
    --no-truth) DO_TRUTH=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) ONLY+=("$a") ;;
  esac
done

PKGS=(
  dropbear-bin tinysshd xinetd mailutils-imap4d mailutils-pop3d haproxy varnish mini-httpd webfs
  python3 gunicorn nodejs icecast2 nginx apache2 tinyproxy privoxy dante-server unbound dnsmasq-base
  nsd rsync git ngircd prosody redis-server mosquitto mosquitto-clients dnsutils
  # runtime libraries of the unpacked opensmtpd / inetutils-ftpd
  libevent-2.1-7 libdb5.3 libwrap0
)
UNPACK=(opensmtpd inetutils-ftpd)   # conflict with postfix (MTA) / vsftpd (ftp-server)

# every server: name -> what to start (see svc_<name>)
ALL=(dropbear xinetd2 opensmtpd imap4d pop3d haproxy varnish mini_httpd webfs simplehttp gunicorn
  nodejs nginx_notokens apache_prod icecast tinyproxy privoxy dante unbound dnsmasq nsd rsyncd
  gitdaemon ngircd prosody redis_auth mosquitto_anon)

log() { printf '[lab2] %s\n' "$*"; }

install_packages() {
  local missing=() p made_policy=0
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing: ${missing[*]}"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    apt-get update -qq
    apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
      >>"$LOG/apt-install.log" 2>&1 || log "apt-get install returned $? (see log/apt-install.log)"
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  fi
  for p in "${UNPACK[@]}"; do
    if [ ! -d "$OPT/$p/usr" ]; then
      (cd "$OPT/debs" && { ls ${p}_*.deb >/dev/null 2>&1 || apt-get download "$p" >>"$LOG/apt-install.log" 2>&1 ||
        { apt-get update -qq && apt-get download "$p" >>"$LOG/apt-install.log" 2>&1; }; })
      mkdir -p "$OPT/$p" && dpkg-deb -x "$OPT"/debs/${p}_*.deb "$OPT/$p"
    fi
  done
}

want() {
  ((${#ONLY[@]} == 0)) && return 0
  local s; for s in "${ONLY[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1
}
alive() { local f="$RUN/$1.pid"; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# start NAME [--as USER] CMD ARGS... : CMD in its own session, in the foreground,
# output to log/NAME.log, pid to run/NAME.pid
start() {
  local name=$1; shift
  local as=""
  if [ "${1:-}" = "--as" ]; then as=$2; shift 2; fi
  if alive "$name"; then log "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  if [ -n "$as" ]; then
    set -- setpriv --reuid="$as" --regid="$(id -g "$as")" --init-groups -- "$@"
  fi
  echo "=== $(date -Is) starting: $*" >>"$LOG/$name.log"
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  log "started $name (pid $!)"
}

www() {  # a small static site shared by the plain web servers
  mkdir -p "$ST/www"
  [ -e "$ST/www/index.html" ] || printf '<html><head><title>lab2</title></head><body>lab2</body></html>\n' >"$ST/www/index.html"
  chmod -R a+rX "$ST/www"
}

# ---------------------------------------------------------------- SSH
svc_dropbear() {   # Dropbear sshd 20022
  mkdir -p "$ST/dropbear"
  [ -e "$ST/dropbear/ed25519" ] || dropbearkey -t ed25519 -f "$ST/dropbear/ed25519" >/dev/null 2>&1
  [ -e "$ST/dropbear/rsa" ] || dropbearkey -t rsa -s 2048 -f "$ST/dropbear/rsa" >/dev/null 2>&1
  start dropbear /usr/sbin/dropbear -F -E -p "$IP:20022" -r "$ST/dropbear/ed25519" -r "$ST/dropbear/rsa" \
    -P "$ST/dropbear/dropbear.pid"
}

# xinetd (own instance): tinysshd 20122, GNU inetutils ftpd 20021 - both are inetd-only servers
svc_xinetd2() {
  [ -d "$ST/tinyssh" ] || tinysshd-makekey "$ST/tinyssh" >/dev/null 2>&1
  cat >"$ETC/xinetd2.conf" <<EOF
defaults
{
  instances = 30
  log_type  = FILE $LOG/xinetd2-services.log
  bind      = $IP
}
service lab2-tinysshd
{
  type        = UNLISTED
  socket_type = stream
  protocol    = tcp
  wait        = no
  user        = root
  server      = /usr/sbin/tinysshd
  server_args = -l $ST/tinyssh
  bind        = $IP
  port        = 20122
  disable     = no
}
service lab2-ftpd
{
  type        = UNLISTED
  socket_type = stream
  protocol    = tcp
  wait        = no
  user        = root
  server      = $OPT/inetutils-ftpd/usr/sbin/ftpd
  bind        = $IP
  port        = 20021
  disable     = no
}
EOF
  start xinetd2 /usr/sbin/xinetd -dontfork -stayalive -f "$ETC/xinetd2.conf" -pidfile "$ST/xinetd2.pid"
}

# ---------------------------------------------------------------- mail
svc_opensmtpd() {  # OpenSMTPD 20025 (unpacked: conflicts with postfix)
  # Debian's build runs as opensmtpd / opensmtpq and queues under /var/spool/smtpd
  id opensmtpd >/dev/null 2>&1 || useradd -r -d /var/lib/opensmtpd/empty -s /usr/sbin/nologin opensmtpd
  id opensmtpq >/dev/null 2>&1 || useradd -r -d /var/lib/opensmtpd/empty -s /usr/sbin/nologin opensmtpq
  mkdir -p /var/spool/smtpd /var/lib/opensmtpd/empty; chmod 711 /var/spool/smtpd
  cat >"$ETC/smtpd.conf" <<EOF
queue compression
listen on $IP port 20025
action "local" mbox
match from local for local action "local"
EOF
  start opensmtpd "$OPT/opensmtpd/usr/sbin/smtpd" -d -f "$ETC/smtpd.conf"
}

mailutils_conf() {  # $1 = imap4d|pop3d, $2 = port
  cat >"$ETC/$1.conf" <<EOF
mode daemon;
foreground yes;
server $IP:$2 {
};
logging { syslog no; };
EOF
}
svc_imap4d() {     # GNU Mailutils imap4d 20143
  mailutils_conf imap4d 20143
  start imap4d /usr/sbin/imap4d --config-file="$ETC/imap4d.conf" --daemon --foreground
}
svc_pop3d() {      # GNU Mailutils pop3d 20110
  mailutils_conf pop3d 20110
  start pop3d /usr/sbin/pop3d --config-file="$ETC/pop3d.conf" --daemon --foreground
}

# ---------------------------------------------------------------- HTTP
svc_haproxy() {    # HAProxy 20080: a frontend without servers (answers 503 itself)
  mkdir -p "$ST/haproxy"
  cat >"$ETC/haproxy.cfg" <<EOF
global
  pidfile $ST/haproxy/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend web
  bind $IP:20080
  default_backend nobody
backend nobody
EOF
  start haproxy /usr/sbin/haproxy -db -f "$ETC/haproxy.cfg"
}

svc_varnish() {    # Varnish Cache 20081, backend down (answers its own 503 page)
  mkdir -p "$ST/varnish"
  start varnish /usr/sbin/varnishd -F -a "$IP:20081" -b "$IP:9" -n "$ST/varnish" -T none -s malloc,16m
}

svc_mini_httpd() { # mini_httpd 20082
  www
  start mini_httpd /usr/sbin/mini_httpd -D -h $IP -p 20082 -d "$ST/www" -u www-data -l "$LOG/mini_httpd.access.log" \
    -i "$ST/mini_httpd.pid"
}

svc_webfs() {      # webfsd 20083
  www
  start webfs /usr/bin/webfsd -F -i $IP -p 20083 -r "$ST/www" -u www-data -g www-data -f index.html
}

svc_simplehttp() { # Python http.server (SimpleHTTPRequestHandler) 20084, Debian's python3
  www
  start simplehttp --as nobody /usr/bin/python3 -m http.server 20084 --bind $IP --directory "$ST/www"
}

svc_gunicorn() {   # gunicorn 20085 with a tiny WSGI app
  mkdir -p "$ST/gunicorn"
  cat >"$ST/gunicorn/lab2app.py" <<'EOF'
def app(environ, start_response):
    body = b"lab2 gunicorn\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
EOF
  chmod -R a+rX "$ST/gunicorn"
  start gunicorn --as nobody /usr/bin/gunicorn --bind $IP:20085 --workers 1 --chdir "$ST/gunicorn" lab2app:app
}

svc_nodejs() {     # Node.js http module 20086
  mkdir -p "$ST/nodejs"
  cat >"$ST/nodejs/server.js" <<'EOF'
const http = require('http');
http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('lab2 node\n');
}).listen(20086, '127.0.0.1');
EOF
  chmod -R a+rX "$ST/nodejs"
  start nodejs --as nobody /usr/bin/node "$ST/nodejs/server.js"
}

svc_nginx_notokens() { # nginx 20087 with server_tokens off (no version anywhere)
  mkdir -p "$ST/nginx"
  cat >"$ETC/nginx_notokens.conf" <<EOF
user www-data;
worker_processes 1;
pid $ST/nginx/nginx.pid;
error_log $LOG/nginx_notokens.error.log;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  server_tokens off;
  access_log off;
  client_body_temp_path $ST/nginx/body;
  proxy_temp_path $ST/nginx/proxy;
  fastcgi_temp_path $ST/nginx/fastcgi;
  uwsgi_temp_path $ST/nginx/uwsgi;
  scgi_temp_path $ST/nginx/scgi;
  server {
    listen $IP:20087;
    root $ST/www;
    index index.html;
  }
}
EOF
  www
  start nginx_notokens /usr/sbin/nginx -c "$ETC/nginx_notokens.conf" -g 'daemon off;'
}

svc_apache_prod() { # Apache httpd 20088 with ServerTokens Prod / ServerSignature Off
  mkdir -p "$ST/apache2"
  cat >"$ETC/apache_prod.conf" <<EOF
ServerRoot /etc/apache2
DefaultRuntimeDir $ST/apache2
PidFile $ST/apache2/apache2.pid
Mutex file:$ST/apache2 default
User www-data
Group www-data
ServerName lab2.local
ErrorLog $LOG/apache_prod.error.log
LogLevel warn
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Listen $IP:20088
ServerTokens Prod
ServerSignature Off
DocumentRoot $ST/www
<Directory $ST/www>
  Options Indexes
  AllowOverride None
  Require all granted
</Directory>
EOF
  www
  start apache_prod env APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data APACHE_LOG_DIR="$LOG" \
    APACHE_RUN_DIR="$ST/apache2" APACHE_LOCK_DIR="$ST/apache2" APACHE_PID_FILE="$ST/apache2/apache2.pid" \
    /usr/sbin/apache2 -d /etc/apache2 -f "$ETC/apache_prod.conf" -DFOREGROUND
}

svc_icecast() {    # Icecast 2 streaming server 20800
  mkdir -p "$ST/icecast/log"; chown -R icecast2 "$ST/icecast"
  cat >"$ETC/icecast.xml" <<EOF
<icecast>
  <location>lab2</location><admin>lab2@localhost</admin>
  <limits><clients>100</clients><sources>2</sources></limits>
  <authentication>
    <source-password>lab2source</source-password><relay-password>lab2relay</relay-password>
    <admin-user>admin</admin-user><admin-password>lab2admin</admin-password>
  </authentication>
  <hostname>localhost</hostname>
  <listen-socket><port>20800</port><bind-address>$IP</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir><logdir>$ST/icecast/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
EOF
  chmod 644 "$ETC/icecast.xml"
  start icecast --as icecast2 /usr/bin/icecast2 -c "$ETC/icecast.xml"
}

# ---------------------------------------------------------------- proxies
svc_tinyproxy() {  # tinyproxy 20888
  cat >"$ETC/tinyproxy.conf" <<EOF
Port 20888
Listen $IP
Timeout 60
MaxClients 20
Allow 127.0.0.1
LogLevel Warning
EOF
  start tinyproxy --as tinyproxy /usr/bin/tinyproxy -d -c "$ETC/tinyproxy.conf"
}

svc_privoxy() {    # Privoxy 20118
  mkdir -p "$ST/privoxy"; chown privoxy "$ST/privoxy" 2>/dev/null
  cat >"$ETC/privoxy.conf" <<EOF
confdir /etc/privoxy
logdir $ST/privoxy
listen-address $IP:20118
toggle 1
enable-remote-toggle 0
enable-edit-actions 0
EOF
  chmod 644 "$ETC/privoxy.conf"
  start privoxy /usr/sbin/privoxy --no-daemon --user privoxy "$ETC/privoxy.conf"
}

svc_dante() {      # Dante SOCKS server 21080
  cat >"$ETC/danted.conf" <<EOF
logoutput: stderr
internal: $IP port = 21080
external: $IP
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 }
EOF
  start dante /usr/sbin/danted -f "$ETC/danted.conf" -p "$ST/danted.pid"
}

# ---------------------------------------------------------------- DNS (tcp)
svc_unbound() {    # Unbound 20053
  cat >"$ETC/unbound.conf" <<EOF
server:
  interface: $IP@20053
  port: 20053
  do-ip6: no
  do-tcp: yes
  access-control: 127.0.0.0/8 allow
  chroot: ""
  username: "unbound"
  directory: "$ST"
  pidfile: "$ST/unbound.pid"
  use-syslog: no
  logfile: ""
  do-daemonize: no
remote-control:
  control-enable: no
EOF
  start unbound /usr/sbin/unbound -d -c "$ETC/unbound.conf"
}

svc_dnsmasq() {    # dnsmasq 20054
  start dnsmasq /usr/sbin/dnsmasq -k --conf-file=/dev/null --port=20054 --listen-address=$IP --bind-interfaces \
    --no-resolv --no-hosts --no-dhcp-interface=lo --user=nobody --pid-file="$ST/dnsmasq.pid" \
    --address=/lab2.local/127.0.0.1 --log-facility=-
}

svc_nsd() {        # NSD authoritative server 20055
  mkdir -p "$ST/nsd"; chown nsd "$ST/nsd"
  cat >"$ETC/lab2.zone" <<'EOF'
$ORIGIN lab2.local.
$TTL 3600
@ IN SOA ns.lab2.local. admin.lab2.local. 1 3600 600 86400 3600
@ IN NS ns
ns IN A 127.0.0.1
www IN A 127.0.0.1
EOF
  cat >"$ETC/nsd.conf" <<EOF
server:
  ip-address: $IP@20055
  port: 20055
  do-ip6: no
  username: nsd
  chroot: ""
  zonesdir: "$ETC"
  database: ""
  zonelistfile: "$ST/nsd/zone.list"
  xfrdfile: "$ST/nsd/xfrd.state"
  xfrdir: "$ST/nsd"
  pidfile: "$ST/nsd/nsd.pid"
  logfile: "$LOG/nsd-server.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: lab2.local
  zonefile: lab2.zone
EOF
  chmod 644 "$ETC/nsd.conf" "$ETC/lab2.zone"
  start nsd /usr/sbin/nsd -d -c "$ETC/nsd.conf"
}

# ---------------------------------------------------------------- file/code transfer
svc_rsyncd() {     # rsync daemon 20873 with one public module
  mkdir -p "$ST/rsync/pub"
  echo "lab2" >"$ST/rsync/pub/README"
  cat >"$ETC/rsyncd.conf" <<EOF
uid = nobody
gid = nogroup
use chroot = no
pid file = $ST/rsync/rsyncd.pid
[pub]
  path = $ST/rsync/pub
  comment = lab2 public files
  read only = yes
EOF
  start rsyncd /usr/bin/rsync --daemon --no-detach --address=$IP --port=20873 --config="$ETC/rsyncd.conf" \
    --log-file="$LOG/rsyncd-xfer.log"
}

svc_gitdaemon() {  # git daemon 20418 with one exported repository
  if [ ! -d "$ST/git/lab2.git" ]; then   # one commit, so that there are refs to advertise
    mkdir -p "$ST/git" && rm -rf "$ST/git/work" && git init -q "$ST/git/work" &&
      echo lab2 >"$ST/git/work/README" && git -C "$ST/git/work" add README &&
      git -C "$ST/git/work" -c user.name=lab2 -c user.email=lab2@localhost commit -q -m lab2 &&
      git clone -q --bare "$ST/git/work" "$ST/git/lab2.git" && rm -rf "$ST/git/work"
  fi
  chown -R nobody:nogroup "$ST/git"   # git refuses repositories of another owner
  start gitdaemon --as nobody /usr/bin/git daemon --reuseaddr --listen=$IP --port=20418 --base-path="$ST/git" \
    --export-all "$ST/git"
}

# ---------------------------------------------------------------- chat
svc_ngircd() {     # ngIRCd 20667
  mkdir -p "$ST/ngircd"; chown irc "$ST/ngircd"
  cat >"$ETC/ngircd.conf" <<EOF
[Global]
  Name = irc.lab2.local
  Info = lab2 IRC server
  Listen = $IP
  Ports = 20667
  PidFile = $ST/ngircd/ngircd.pid
  ServerUID = irc
  ServerGID = irc
[Options]
  PAM = no
  Ident = no
  DNS = no
EOF
  chmod 644 "$ETC/ngircd.conf"
  start ngircd /usr/sbin/ngircd -n -f "$ETC/ngircd.conf"
}

svc_prosody() {    # Prosody XMPP client port 20222 (own instance, s2s and http off)
  mkdir -p "$ST/prosody"; chown prosody "$ST/prosody"
  cat >"$ETC/prosody.cfg.lua" <<EOF
pidfile = "$ST/prosody/prosody.pid"
data_path = "$ST/prosody"
daemonize = false
interfaces = { "$IP" }
c2s_ports = { 20222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "version"; "uptime"; "time" }
modules_disabled = { "s2s"; "http"; "posix" }
authentication = "internal_hashed"
c2s_require_encryption = false
log = { info = "*console" }
VirtualHost "lab2.local"
EOF
  chmod 644 "$ETC/prosody.cfg.lua"
  start prosody --as prosody env PROSODY_CONFIG="$ETC/prosody.cfg.lua" /usr/bin/prosody -F
}

# ---------------------------------------------------------------- data stores with other settings
svc_redis_auth() { # Redis 20379 with requirepass (clients must AUTH)
  mkdir -p "$ST/redis_auth"; chown redis:redis "$ST/redis_auth"
  start redis_auth --as redis /usr/bin/redis-server --bind $IP --port 20379 --daemonize no --dir "$ST/redis_auth" \
    --save "" --appendonly no --requirepass lab2-not-secret --logfile ""
}

svc_mosquitto_anon() { # Mosquitto 20883 allowing anonymous clients ($SYS topics readable)
  cat >"$ETC/mosquitto_anon.conf" <<EOF
listener 20883 $IP
allow_anonymous true
persistence false
log_dest stdout
user mosquitto
EOF
  start mosquitto_anon /usr/sbin/mosquitto -c "$ETC/mosquitto_anon.conf"
}

# ---------------------------------------------------------------- main
[ "$(id -u)" = 0 ] || { echo "lab2/up.sh: run as root" >&2; exit 1; }
[ "$DO_INSTALL" = 1 ] && install_packages
for s in "${ALL[@]}"; do
  want "$s" && "svc_$s"
done
sleep 3
if [ "$DO_TRUTH" = 1 ]; then
  python3 "$LAB/truth.py" >"$LAB/truth.json.tmp" && mv "$LAB/truth.json.tmp" "$LAB/truth.json"
  python3 - "$LAB/truth.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("[lab2] %(services)d listeners, %(version_on_wire)d with the exact version on the wire, %(missing)d missing" % d["counts"])
for m in d["missing"]:
    print("[lab2] MISSING %s/%s %s (%s)" % (m["port"], m["transport"], m["product"], m["lab_name"]))
for o in d["non_loopback_listeners"]:
    if o.get("lab2"):
        print("[lab2] WARNING non-loopback listener of a lab2 server %s %s:%s %s" % (o["transport"], o["address"], o["port"], o["process"]))
print("[lab2] tcp ports: " + d["tcp_ports"])
PY
fi
