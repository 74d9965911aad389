#!/usr/bin/env bash
# testenv/up.sh - install and start real Debian servers on 127.0.0.1 for the
# integration tests (integration/), then describe them in run/servers.json.
#
# Why real servers: the scanner's job is to name real products and versions, so
# the end-to-end tests talk to the genuine Debian daemons, never to fakes.
#
# What it does, idempotently:
#   1. apt-get installs (non-interactive, --no-install-recommends) the packages
#      that are missing, with a policy-rc.d that keeps postinst scripts from
#      starting daemons. Nothing is fetched when everything is installed.
#   2. For each test server it looks at its candidate ports (standard first):
#        - our own instance from an earlier run still listening -> keep it;
#        - a candidate port already served by the expected program (e.g. the
#          shared lab on this machine) -> reuse it and leave it alone;
#        - else start our own instance on the first free candidate port, bound to
#          127.0.0.1 only, in the foreground under setsid (no systemd), with its
#          pid in run/<unit>.pid so that down.sh stops exactly that.
#   3. Waits for the ports, and writes run/servers.json (see write_json below).
# Exit status 1 when a server is not listening at the end (the JSON still lists
# it, with "listening": false, so the tests report it by name).
#
# Usage:  bash testenv/up.sh [--no-install | --install-only]      (as root)
# Outside the repo it writes only under /var/lib/portrait-testenv (configs, data).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$HERE/run"          # pid files, port files, servers.json
LOG="$RUN/log"           # one log per started unit
ST=/var/lib/portrait-testenv
ETC="$ST/etc"
IP=127.0.0.1
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

DO_INSTALL=1
DO_START=1
for a in "$@"; do
  case "$a" in
    --no-install) DO_INSTALL=0 ;;
    --install-only) DO_START=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

log() { printf '[testenv] %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "testenv/up.sh must run as root" >&2; exit 1; }
mkdir -p "$RUN" "$LOG" "$ST" "$ETC"
chmod 755 "$ST" "$ETC"

PKGS=(
  openssh-server nginx apache2 vsftpd postfix dovecot-imapd dovecot-pop3d redis-server
  memcached mariadb-server postgresql mosquitto bind9 slapd samba nmap ndiff ssl-cert
  openssl iproute2 nftables procps util-linux
  libxml2-utils chromium fonts-dejavu-core   # report tests: xmllint + nmap.dtd, ndiff, HTML in headless Chromium
)

# ---------------------------------------------------------------- catalogue
# entry|unit|candidate ports|listener programs (comma-separated names as ss shows them)|package|service|product|tls|version on wire
# unit = the process we start (one unit may serve several entries).
CATALOGUE=(
  "ssh|sshd|22 50022 10022|sshd|openssh-server|ssh|OpenSSH|false|true"
  "nginx|nginx|80 8088 10080|nginx|nginx|http|nginx|false|true"
  "nginx-tls|nginx|443 8443 10443|nginx|nginx|http|nginx|true|true"
  "apache|apache2|9443 8090 10090|apache2|apache2|http|Apache httpd|false|true"
  "vsftpd|vsftpd|21 10021|vsftpd|vsftpd|ftp|vsftpd|false|true"
  "postfix|postfix|25 10025|master|postfix|smtp|Postfix smtpd|false|false"
  "dovecot-imap|dovecot|143 10143|dovecot|dovecot-core|imap|Dovecot imapd|false|false"
  "dovecot-pop3|dovecot|110 10110|dovecot|dovecot-core|pop3|Dovecot pop3d|false|false"
  "redis|redis|6379 16379 26379|redis-server|redis-server|redis|Redis key-value store|false|true"
  "memcached|memcached|11211 21211|memcached|memcached|memcached|Memcached|false|true"
  "mariadb|mariadb|3306 13306|mariadbd,mysqld|mariadb-server|mysql|MariaDB|false|true"
  "postgresql|postgresql|5432 15432 25432|postgres|postgresql-*|postgresql|PostgreSQL DB|false|false"
  "mosquitto|mosquitto|1883 11883|mosquitto|mosquitto|mqtt|Mosquitto|false|false"
  "bind|bind9|53 10053|named|bind9|domain|ISC BIND|false|true"
  "slapd|slapd|389 10389|slapd|slapd|ldap|OpenLDAP|false|false"
  "samba|samba|445 10445|smbd|samba|microsoft-ds|Samba smbd|false|false"
)

# ---------------------------------------------------------------- install
install_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "all ${#PKGS[@]} packages already installed"
    return 0
  fi
  log "installing ${#missing[@]} packages: ${missing[*]}"
  debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string testenv.local
slapd slapd/domain string testenv.local
slapd shared/organization string Testenv
slapd slapd/no_configuration boolean false
samba-common samba-common/dhcp boolean false
EOF
  local made_policy=0 t0 t1 rc=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep postinst scripts from starting daemons
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  t0=$(date +%s.%N)
  apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$LOG/apt.log" 2>&1 || log "apt-get update failed (see $LOG/apt.log)"
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" \
    >>"$LOG/apt.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "apt-get update+install took $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s (exit $rc)"
  if [ "$rc" != 0 ]; then
    log "apt-get install failed; last lines of $LOG/apt.log:"
    tail -20 "$LOG/apt.log" | sed 's/^/    /'
  fi
}

# ---------------------------------------------------------------- helpers
# program names (ss's users:(("name",...)) field) listening on TCP port $1
listeners() { ss -H -ltnp "sport = :$1" 2>/dev/null | grep -o '("[^"]*"' | cut -d'"' -f2 | sort -u; }
port_busy() { [ -n "$(ss -H -ltn "sport = :$1" 2>/dev/null)" ] || [ -n "$(ss -H -lun "sport = :$1" 2>/dev/null)" ]; }
tcp_listening() { [ -n "$(ss -H -ltn "sport = :$1" 2>/dev/null)" ]; }
alive() { local f="$RUN/$1.pid"; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

# upstream version of a Debian package version: epoch, Debian revision and
# +dfsg / +ds / ~ suffixes removed (1:9.2p1-2+deb12u10 -> 9.2p1).
upstream() { sed -E -e 's/^[0-9]+://' -e 's/-[^-]*$//' -e 's/[+~](dfsg|ds|repack).*$//' -e 's/~.*$//' <<<"$1"; }

pkg_version() {   # installed version of package $1 (postgresql-* = newest installed server)
  local p=$1
  if [ "$p" = "postgresql-*" ]; then
    p=$(dpkg-query -W -f='${Package} ${Status}\n' 'postgresql-[0-9]*' 2>/dev/null |
      awk '/install ok installed/ && $1 ~ /^postgresql-[0-9]+$/ {print $1}' | sort -V | tail -1)
    [ -n "$p" ] || { echo "postgresql-?|"; return; }
  fi
  echo "$p|$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
}

# start UNIT [--as USER] CMD ARGS... : CMD in its own session, foreground, output
# to log/UNIT.log, pid to run/UNIT.pid (setsid execs in place, so $! is the leader).
start() {
  local name=$1; shift
  local as=""
  if [ "${1:-}" = "--as" ]; then as=$2; shift 2; fi
  if [ -n "$as" ]; then
    set -- setpriv --reuid="$as" --regid="$(id -g "$as")" --init-groups -- "$@"
  fi
  echo "=== $(date -Is) starting: $*" >>"$LOG/$name.log"
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  log "started $name (pid $!)"
}

# ---------------------------------------------------------------- units
# Each svc_UNIT starts the unit for the entries listed in NEED (entry=port pairs).
declare -A NEED=()
need_port() { echo "${NEED[$1]:-}"; }

svc_sshd() {
  mkdir -p /run/sshd; chmod 755 /run/sshd
  [ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -A >/dev/null
  cat >"$ETC/sshd.conf" <<EOF
Port $(need_port ssh)
ListenAddress $IP
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile $ST/sshd.pid
UsePAM yes
KbdInteractiveAuthentication no
PermitRootLogin no
PrintMotd no
EOF
  start sshd /usr/sbin/sshd -D -e -f "$ETC/sshd.conf"
}

svc_nginx() {
  local servers="" p
  p=$(need_port nginx)
  [ -n "$p" ] && servers+="  server { listen $IP:$p; root /usr/share/nginx/html; index index.html; }
"
  p=$(need_port nginx-tls)
  if [ -n "$p" ]; then
    [ -e /etc/ssl/private/ssl-cert-snakeoil.key ] || make-ssl-cert generate-default-snakeoil --force-overwrite
    servers+="  server { listen $IP:$p ssl; ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;
    ssl_certificate_key /etc/ssl/private/ssl-cert-snakeoil.key; root /usr/share/nginx/html; index index.html; }
"
  fi
  mkdir -p "$ST/nginx"
  cat >"$ETC/nginx.conf" <<EOF
user www-data;
worker_processes 1;
pid $ST/nginx/nginx.pid;
error_log $LOG/nginx.error.log;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path $ST/nginx/body;
  proxy_temp_path $ST/nginx/proxy;
  fastcgi_temp_path $ST/nginx/fastcgi;
  uwsgi_temp_path $ST/nginx/uwsgi;
  scgi_temp_path $ST/nginx/scgi;
$servers}
EOF
  start nginx /usr/sbin/nginx -c "$ETC/nginx.conf" -g 'daemon off;'
}

svc_apache2() {   # default ServerTokens (Full) as Debian ships it: the version is in the Server header;
  # ServerName is the shared lab's, where emulate's shipped Apache personality was recorded
  mkdir -p "$ST/apache2"
  cat >"$ETC/apache2.conf" <<EOF
ServerRoot /etc/apache2
DefaultRuntimeDir $ST/apache2
PidFile $ST/apache2/apache2.pid
Mutex file:$ST/apache2 default
Timeout 30
KeepAlive On
User www-data
Group www-data
HostnameLookups Off
ServerName lab.local
ErrorLog $LOG/apache2.error.log
LogLevel warn
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Listen $IP:$(need_port apache)
AccessFileName .htaccess
IncludeOptional conf-enabled/*.conf
DocumentRoot /var/www/html
<Directory /var/www/html>
  Options Indexes FollowSymLinks
  AllowOverride None
  Require all granted
</Directory>
EOF
  start apache2 env APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data APACHE_LOG_DIR="$LOG" \
    APACHE_RUN_DIR="$ST/apache2" APACHE_LOCK_DIR="$ST/apache2" APACHE_PID_FILE="$ST/apache2/apache2.pid" \
    /usr/sbin/apache2 -d /etc/apache2 -f "$ETC/apache2.conf" -DFOREGROUND
}

svc_vsftpd() {
  mkdir -p /var/run/vsftpd/empty
  cat >"$ETC/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$IP
listen_port=$(need_port vsftpd)
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=NO
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
xferlog_enable=NO
EOF
  start vsftpd /usr/sbin/vsftpd "$ETC/vsftpd.conf"
}

svc_postfix() {   # a private Postfix instance: own config dir and queue, smtpd on our port
  local C="$ST/postfix/etc" Q="$ST/postfix/spool" D="$ST/postfix/data" p
  p=$(need_port postfix)
  mkdir -p "$C" "$Q" "$D"
  cp /etc/postfix/master.cf "$C/master.cf"
  [ -e /etc/postfix/dynamicmaps.cf ] && cp /etc/postfix/dynamicmaps.cf "$C/"
  [ -e /etc/ssl/private/ssl-cert-snakeoil.key ] || make-ssl-cert generate-default-snakeoil --force-overwrite
  # Debian's defaults (STARTTLS with the snakeoil certificate) under the
  # host name of the shared lab, where emulate's shipped Postfix personality
  # was recorded: its acceptance test compares the emulation with this server.
  cat >"$C/main.cf" <<EOF
compatibility_level = 3.6
myhostname = lab.local
smtpd_banner = \$myhostname ESMTP \$mail_name (Debian/GNU)
smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
mydestination =
inet_interfaces = $IP
inet_protocols = ipv4
queue_directory = $Q
data_directory = $D
alias_maps =
alias_database =
maillog_file = /dev/stdout
smtpd_relay_restrictions = permit_mynetworks defer_unauth_destination
mynetworks = 127.0.0.0/8
EOF
  postconf -c "$C" -F '*/*/chroot = n' >/dev/null 2>&1
  postconf -c "$C" -MX smtp/inet >/dev/null 2>&1
  postconf -c "$C" -Me "$p/inet = $p inet n - n - - smtpd" >/dev/null 2>&1
  chown postfix "$D"
  postfix -c "$C" set-permissions >>"$LOG/postfix.log" 2>&1 || true
  start postfix /usr/sbin/postfix -c "$C" start-fg
}

svc_dovecot() {
  local pi pp protos="" S="$ST/dovecot"
  pi=$(need_port dovecot-imap); pp=$(need_port dovecot-pop3)
  [ -n "$pi" ] && protos+=" imap"
  [ -n "$pp" ] && protos+=" pop3"
  [ -e /etc/ssl/private/ssl-cert-snakeoil.key ] || make-ssl-cert generate-default-snakeoil --force-overwrite
  mkdir -p "$S/run" "$S/state"
  cat >"$ETC/dovecot.conf" <<EOF
protocols =$protos
listen = $IP
base_dir = $S/run/
state_dir = $S/state
log_path = $LOG/dovecot.log
ssl = yes
ssl_cert = </etc/ssl/certs/ssl-cert-snakeoil.pem
ssl_key = </etc/ssl/private/ssl-cert-snakeoil.key
mail_location = mbox:~/mail:INBOX=/var/mail/%u
passdb {
  driver = pam
}
userdb {
  driver = passwd
}
service imap-login {
  inet_listener imap {
    port = ${pi:-0}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${pp:-0}
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
  start dovecot /usr/sbin/dovecot -F -c "$ETC/dovecot.conf"
}

svc_redis() {
  mkdir -p "$ST/redis"; chown redis:redis "$ST/redis"
  start redis --as redis /usr/bin/redis-server --bind $IP --port "$(need_port redis)" --daemonize no \
    --dir "$ST/redis" --save "" --appendonly no --protected-mode yes --logfile ""
}

svc_memcached() {
  start memcached /usr/bin/memcached -u memcache -l $IP -p "$(need_port memcached)" -U 0 -m 32
}

svc_mariadb() {   # own datadir, so it never touches another MariaDB's files
  local D="$ST/mysql" R="$ST/mysqld"
  mkdir -p "$D" "$R"; chown mysql:mysql "$D" "$R"
  if [ ! -d "$D/mysql" ]; then
    log "mariadb-install-db (first run)"
    mariadb-install-db --no-defaults --user=mysql --datadir="$D" >>"$LOG/mariadb.log" 2>&1 ||
      log "mariadb-install-db failed (see $LOG/mariadb.log)"
  fi
  start mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$D" --bind-address=$IP \
    --port="$(need_port mariadb)" --socket="$R/mysqld.sock" --pid-file="$R/mysqld.pid" \
    --innodb-buffer-pool-size=32M --log-error="$LOG/mariadb.err"
}

svc_postgresql() { # own cluster directory, SCRAM for TCP clients (PostgreSQL's default)
  local v D="$ST/postgresql/data" S="$ST/postgresql/sock"
  v=$(ls /usr/lib/postgresql | sort -V | tail -1)
  mkdir -p "$ST/postgresql" "$S"; chown postgres:postgres "$ST/postgresql" "$S"
  if [ ! -s "$D/PG_VERSION" ]; then
    log "initdb (first run)"
    setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups -- \
      "/usr/lib/postgresql/$v/bin/initdb" -D "$D" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      >>"$LOG/postgresql.log" 2>&1 || log "initdb failed (see $LOG/postgresql.log)"
  fi
  start postgresql --as postgres "/usr/lib/postgresql/$v/bin/postgres" -D "$D" \
    -c listen_addresses=$IP -c port="$(need_port postgresql)" -c unix_socket_directories="$S"
}

svc_mosquitto() {  # Debian-like: no anonymous clients, so no version on the wire
  cat >"$ETC/mosquitto.conf" <<EOF
listener $(need_port mosquitto) $IP
allow_anonymous false
persistence false
log_dest stdout
user mosquitto
EOF
  start mosquitto /usr/sbin/mosquitto -c "$ETC/mosquitto.conf"
}

svc_bind9() {      # authoritative only, answers version.bind as BIND does by default
  local D="$ST/named" p
  p=$(need_port bind)
  mkdir -p "$D"; chown bind:bind "$D"
  cat >"$ETC/db.testenv.local" <<'EOF'
$TTL 300
@   IN SOA ns.testenv.local. admin.testenv.local. ( 1 3600 600 86400 300 )
    IN NS  ns.testenv.local.
ns  IN A   127.0.0.1
EOF
  cat >"$ETC/named.conf" <<EOF
options {
  directory "$D";
  listen-on port $p { $IP; };
  listen-on-v6 { none; };
  recursion no;
  allow-query { 127.0.0.0/8; };
  dnssec-validation no;
  pid-file none;
  session-keyfile "$D/session.key";
};
controls { };
zone "testenv.local" { type primary; file "$ETC/db.testenv.local"; };
EOF
  chmod 644 "$ETC/named.conf" "$ETC/db.testenv.local"
  start bind9 /usr/sbin/named -f -u bind -4 -c "$ETC/named.conf"
}

svc_slapd() {      # self-contained slapd.conf (not the debconf-made cn=config), own database
  local D="$ST/ldap"
  mkdir -p "$D"; chown openldap:openldap "$D"
  cat >"$ETC/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
pidfile $D/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "dc=testenv,dc=local"
rootdn "cn=admin,dc=testenv,dc=local"
directory $D
EOF
  chmod 644 "$ETC/slapd.conf"
  start slapd /usr/sbin/slapd -d 0 -h "ldap://$IP:$(need_port slapd)/" -u openldap -g openldap -f "$ETC/slapd.conf"
}

svc_samba() {
  local S="$ST/samba"
  mkdir -p "$S/lock" "$S/state" "$S/cache" "$S/private" "$S/pid" "$S/ncalrpc" "$S/share"
  echo "testenv share" >"$S/share/README.txt"
  cat >"$ETC/smb.conf" <<EOF
[global]
  workgroup = TESTENV
  netbios name = TESTENVSMB
  interfaces = $IP
  bind interfaces only = yes
  smb ports = $(need_port samba)
  disable netbios = yes
  server role = standalone server
  map to guest = bad user
  pid directory = $S/pid
  lock directory = $S/lock
  state directory = $S/state
  cache directory = $S/cache
  private dir = $S/private
  ncalrpc dir = $S/ncalrpc
  log file = $LOG/samba.%m.log
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
[public]
  path = $S/share
  read only = yes
  guest ok = yes
EOF
  start samba /usr/sbin/smbd --foreground --no-process-group -s "$ETC/smb.conf"
}

# ---------------------------------------------------------------- main
[ "$DO_INSTALL" = 1 ] && install_packages
[ "$DO_START" = 1 ] || exit 0

declare -A ORIGIN=() PORT=() NOTE=()
declare -A UNIT_NEEDED=()
# earlier ports of our own running units: run/UNIT.ports holds "entry=port" lines
declare -A OWN=()
for f in "$RUN"/*.ports; do
  [ -e "$f" ] || continue
  u=$(basename "$f" .ports)
  alive "$u" || { rm -f "$f" "$RUN/$u.pid"; continue; }
  while IFS== read -r e p; do [ -n "$e" ] && OWN[$e]=$p; done <"$f"
done

for line in "${CATALOGUE[@]}"; do
  IFS='|' read -r entry unit cands prog _ <<<"$line"
  # 1. ours from an earlier run
  if [ -n "${OWN[$entry]:-}" ] && tcp_listening "${OWN[$entry]}"; then
    PORT[$entry]=${OWN[$entry]}; ORIGIN[$entry]=testenv
    log "$entry: our $unit already running on ${PORT[$entry]}"
    continue
  fi
  # 2. an existing server of the expected program on a candidate port: reuse it
  for p in $cands; do
    if listeners "$p" | grep -qxF -e "${prog//,/$'\n'}"; then
      PORT[$entry]=$p; ORIGIN[$entry]=existing
      log "$entry: reusing the $(listeners "$p" | head -1) already listening on $p (left alone)"
      break
    fi
  done
  [ -n "${PORT[$entry]:-}" ] && continue
  # 3. start our own on the first free candidate
  for p in $cands; do
    # a port another entry of this run has claimed is not free either
    claimed=0
    for e in "${!NEED[@]}"; do [ "${NEED[$e]}" = "$p" ] && claimed=1; done
    if [ "$claimed" = 0 ] && ! port_busy "$p"; then NEED[$entry]=$p; break; fi
  done
  if [ -z "${NEED[$entry]:-}" ]; then
    ORIGIN[$entry]=none; NOTE[$entry]="no free candidate port among: $cands"
    log "$entry: ${NOTE[$entry]}"
    continue
  fi
  PORT[$entry]=${NEED[$entry]}; ORIGIN[$entry]=testenv
  UNIT_NEEDED[$unit]=1
done

for unit in "${!UNIT_NEEDED[@]}"; do
  if alive "$unit"; then
    # our unit runs but does not serve an entry it should: it was started with
    # other ports; restart it with the full set is not attempted (keep it simple)
    log "$unit is running (pid $(cat "$RUN/$unit.pid")) but lacks a port; run testenv/down.sh first"
    for e in "${!NEED[@]}"; do
      for line in "${CATALOGUE[@]}"; do
        IFS='|' read -r en un _ <<<"$line"
        [ "$en" = "$e" ] && [ "$un" = "$unit" ] && { ORIGIN[$e]=none; NOTE[$e]="$unit running with other ports"; }
      done
    done
    continue
  fi
  "svc_$unit"
  : >"$RUN/$unit.ports"
  for line in "${CATALOGUE[@]}"; do
    IFS='|' read -r en un _ <<<"$line"
    [ "$un" = "$unit" ] && [ -n "${NEED[$en]:-}" ] && echo "$en=${NEED[$en]}" >>"$RUN/$unit.ports"
  done
done

# wait (max 90 s) for every port we expect
deadline=$((SECONDS + 90))
while :; do
  waiting=""
  for e in "${!PORT[@]}"; do tcp_listening "${PORT[$e]}" || waiting+=" $e:${PORT[$e]}"; done
  [ -z "$waiting" ] && break
  if ((SECONDS >= deadline)); then log "still not listening after 90 s:$waiting"; break; fi
  sleep 0.5
done

# ---------------------------------------------------------------- servers.json
# {"generated", "host", "servers": [{name, port, transport, tls, service, product,
#   package, package_version, version, version_on_wire, origin, listening, note}]}
# origin: "testenv" (started by up.sh, stopped by down.sh), "existing" (a server
# that was already listening, e.g. the shared lab: reused, never touched), "none".
# version = upstream part of the installed package version (what the scanner
# must report when version_on_wire is true).
json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
bad=0
{
  printf '{\n "generated": "%s",\n "host": "%s",\n "servers": [' "$(date -Is)" "$IP"
  sep=""
  for line in "${CATALOGUE[@]}"; do
    IFS='|' read -r entry unit cands prog pkg svc product tls onwire <<<"$line"
    IFS='|' read -r pname pver <<<"$(pkg_version "$pkg")"
    port=${PORT[$entry]:-0}
    listening=false
    [ "$port" != 0 ] && tcp_listening "$port" && listening=true
    [ "$listening" = true ] || bad=1
    printf '%s\n  {"name": %s, "port": %s, "transport": "tcp", "tls": %s, "service": %s, "product": %s, "package": %s, "package_version": %s, "version": %s, "version_on_wire": %s, "origin": %s, "listening": %s, "note": %s}' \
      "$sep" "$(json_str "$entry")" "$port" "$tls" "$(json_str "$svc")" "$(json_str "$product")" \
      "$(json_str "$pname")" "$(json_str "$pver")" "$(json_str "$(upstream "$pver")")" "$onwire" \
      "$(json_str "${ORIGIN[$entry]:-none}")" "$listening" "$(json_str "${NOTE[$entry]:-}")"
    sep=","
  done
  printf '\n ]\n}\n'
} >"$RUN/servers.json.tmp" && mv "$RUN/servers.json.tmp" "$RUN/servers.json"

log "wrote $RUN/servers.json"
for line in "${CATALOGUE[@]}"; do
  IFS='|' read -r entry _ <<<"$line"
  port=${PORT[$entry]:-0}
  st=DOWN; [ "$port" != 0 ] && tcp_listening "$port" && st=up
  printf '[testenv]   %-13s %-6s %-5s %s\n' "$entry" "$port" "$st" "${ORIGIN[$entry]:-none}"
done
exit $bad
