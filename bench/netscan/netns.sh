#!/usr/bin/env bash
# netns.sh up|down|guard — the benchmark's private target: network namespace
# ptbench joined to this host by the veth pair ptveth0 (198.18.0.1, here) /
# ptveth1 (198.18.0.2, inside). Inside, the kernel owns all of 198.19.0.0/16
# (AnyIP: `ip route add local 198.19.0.0/16 dev lo`) and a listener accepts
# on 0.0.0.0:80 and 198.18.0.2:{22,443,8080,31337}. 198.18.0.0/15 is the range
# reserved for benchmarks (RFC 2544); nothing here touches another network.
set -u
NS=ptbench H=ptveth0 T=ptveth1
HIP=198.18.0.1 TIP=198.18.0.2 NET=198.19.0.0/16
HMAC=02:00:c6:12:00:11 TMAC=02:00:c6:12:00:12
EXTRA="22 443 8080 31337"
ST=/run/portrait-bench
PY=/usr/bin/python3
die() { echo "netns.sh: $*" >&2; exit 1; }
nsx() { ip netns exec "$NS" "$@"; }
[ "$(id -u)" = 0 ] || die "needs root"

listener_alive() {
  local p; p=$(cat "$ST/listener.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && grep -q portrait-bench-listener "/proc/$p/cmdline" 2>/dev/null
}

up() {
  mkdir -p "$ST"
  # Another bench (../shared netns-bench.sh) uses the same addresses: refuse to mix.
  local r; r=$(ip route show "$NET")
  if [ -n "$r" ] && ! grep -q "dev $H" <<<"$r"; then
    die "$NET is already routed ($r); take the other bench down first"
  fi
  ip netns list | grep -qw "^$NS" || ip netns add "$NS"
  if ! ip link show "$H" >/dev/null 2>&1; then
    ip link add "$H" address "$HMAC" type veth peer name "$T" address "$TMAC" netns "$NS"
  fi
  ip link set "$H" address "$HMAC" up
  ip addr replace "$HIP/24" dev "$H"
  nsx ip link set lo up
  nsx ip link set "$T" address "$TMAC" up
  nsx ip addr replace "$TIP/24" dev "$T"
  nsx ip route replace local "$NET" dev lo
  ip route replace "$NET" via "$TIP" dev "$H"
  for c in all default lo "$T"; do nsx sysctl -qw "net.ipv4.conf.$c.rp_filter=0"; done
  sysctl -qw "net.ipv4.conf.$H.rp_filter=0"
  nsx sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.tcp_syncookies=1
  if ! listener_alive; then
    cat >"$ST/listener.py" <<PYEOF
# portrait-bench-listener: accept-and-close on 0.0.0.0:80 and $TIP:{$EXTRA}
import socket, selectors
sel = selectors.DefaultSelector()
for h, p in [("0.0.0.0", 80)] + [("$TIP", int(x)) for x in "$EXTRA".split()]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((h, p)); s.listen(65535); s.setblocking(False); sel.register(s, selectors.EVENT_READ)
while True:
    for k, _ in sel.select():
        try: k.fileobj.accept()[0].close()
        except OSError: pass
PYEOF
    setsid ip netns exec "$NS" "$PY" "$ST/listener.py" portrait-bench-listener </dev/null >"$ST/listener.log" 2>&1 &
    echo $! >"$ST/listener.pid"
    for _ in $(seq 50); do
      [ "$(nsx ss -Hltn | wc -l)" -ge 5 ] && break; sleep 0.1
    done
  fi
  listener_alive || die "listener did not start: $(tail -1 "$ST/listener.log")"
  echo "up: $NS $H=$HIP/24 $T=$TIP/24 local $NET; listening: $(nsx ss -Hltn | awk '{print $4}' | tr '\n' ' ')"
}

down() {
  if listener_alive; then kill "$(cat "$ST/listener.pid")"; fi
  rm -f "$ST/listener.pid" "$ST/listener.py" "$ST/listener.log"
  ip netns list | grep -qw "^$NS" && ip netns del "$NS"
  ip link show "$H" >/dev/null 2>&1 && ip link del "$H"
  ip route del "$NET" via "$TIP" dev "$H" 2>/dev/null
  echo "down: $NS, $H removed"
}

# guard: refuse unless every benchmark target routes out of ptveth0.
guard() {
  listener_alive || die "not up (run: $0 up)"
  local a
  for a in "$TIP" 198.19.0.0 198.19.128.1 198.19.255.255; do
    ip route get "$a" | grep -q "dev $H " || die "route to $a does not use $H; refusing"
  done
}

case "${1:-}" in
  up) up ;; down) down ;; guard) guard && echo "guard: ok" ;;
  *) die "usage: $0 up|down|guard" ;;
esac
