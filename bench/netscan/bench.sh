#!/usr/bin/env bash
# bench.sh [run|loopback] — portrait's SYN scanner side by side with nmap, masscan and zmap,
# in one run, against the private target namespace of netns.sh (built if missing):
#   A: all 65,535 ports of 198.18.0.2 (5 open: 22 80 443 8080 31337)
#   B: 198.19.0.0/16 x port 80 (all 65,536 open: the namespace's kernel owns the /16)
# Each run is timed with /usr/bin/time (wall seconds, peak RSS) and its open ports are
# compared with the truth (found / missed / extra). Only 198.18.0.0/15 inside the
# namespace is ever probed: every target must route out of ptveth0 (netns.sh guard).
# Env: REPS (3), PT_RATES ("500000 2000000"), RATES for masscan/zmap ("100000 500000"),
#      WAIT (masscan --wait / zmap -c, 2), OUT (results dir), PORTRAIT (binary; built if unset).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
H=ptveth0 TIP=198.18.0.2 HIP=198.18.0.1 NET=198.19.0.0/16
HMAC=02:00:c6:12:00:11 TMAC=02:00:c6:12:00:12
EXTRA="22 443 8080 31337"
REPS=${REPS:-3}
PT_RATES=${PT_RATES:-"500000 2000000"}
RATES=${RATES:-"100000 500000"}
WAIT=${WAIT:-2}
OUT=${OUT:-/run/portrait-bench/out}
PY=/usr/bin/python3
die() { echo "bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root"

build() {
  if [ -z "${PORTRAIT:-}" ]; then
    PORTRAIT=$OUT/portrait
    (cd "$REPO" && go build -o "$PORTRAIT" ./cmd/portrait) || die "build failed"
  fi
}

bench() { # ID TOOL RATE TRUTH COUNT_FN -- CMD... (@ in CMD = this run's file prefix)
  local id=$1 tool=$2 rate=$3 truth=$4 count=$5 i; shift 6
  for i in $(seq "$REPS"); do
    local f="$OUT/$id.$i" t m rc found miss extra
    local cmd=("${@//@/$f}")
    printf '%s\n' "${cmd[*]}" >"$f.cmd"
    /usr/bin/time -f '%e %M %U %S' -o "$f.time" timeout 300 "${cmd[@]}" >"$f.stdout" 2>"$f.stderr"; rc=$?
    read -r t m u s < <(tail -1 "$f.time")
    local cpu; cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
    "$count" "$f" | sort -u >"$f.res"
    found=$(comm -12 "$f.res" "$truth" | wc -l)
    miss=$(comm -13 "$f.res" "$truth" | wc -l)
    extra=$(comm -23 "$f.res" "$truth" | wc -l)
    printf '%-7s %-8s %-8s %3s %8s %8s %7s %7s %5s %5s %3s %6s\n' "$id" "$tool" "$rate" "$i" "$t" "$m" \
      "$found" "$(wc -l <"$truth")" "$miss" "$extra" "$rc" "$cpu" | tee -a "$OUT/runs.txt"
  done
}
c_portrait() { $PY -c '
import json,sys
for l in open(sys.argv[1]+".jsonl"):
    r=json.loads(l)
    if r.get("type")=="port" and r.get("state")=="open": print("%s:%d"%(r["host"],r["port"]))' "$1"; }
c_nmap() { awk '/Ports:/{ip=$2; split($0,a,/Ports: /); split(a[2],p,/, /); for(i in p){split(p[i],f,"/"); if(f[2]=="open") print ip":"f[1]}}' "$1.gnmap"; }
c_masscan() { awk '$1=="open"{print $4":"$3}' "$1.list"; }
c_zmap() { awk 'NF{print $1":80"}' "$1.csv"; }

summary() {
  $PY - "$OUT/runs.txt" <<'PYEOF' | tee "$OUT/summary.txt"
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
ids = list(dict.fromkeys(r[0] for r in rows))
print("%-7s %-8s %-8s %7s %7s %7s %9s %9s %7s %13s" % ("id", "tool", "rate", "wall_s", "min_s", "cpu_s", "rss_kib", "found_med", "truth", "found_range"))
for i in ids:
    g = [r for r in rows if r[0] == i]; w = [float(r[4]) for r in g]; f = [int(r[6]) for r in g]
    c = [float(r[11]) for r in g]
    print("%-7s %-8s %-8s %7.2f %7.2f %7.2f %9d %9d %7s %13s" % (i, g[0][1], g[0][2], st.median_low(w), min(w), st.median_low(c),
          max(int(r[5]) for r in g), st.median_low(f), g[0][7], "%d-%d" % (min(f), max(f))))
PYEOF
}

# masscan 1.3.2's receive thread blocks in pcap until a packet arrives (masscan#144): a
# 10 pps UDP trickle from the namespace to 198.18.0.1:9 lets it end on time.
waker_start() {
  setsid ip netns exec ptbench "$PY" -c "import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
while True: s.sendto(b'w',('$HIP',9)); time.sleep(0.1)" portrait-bench-waker </dev/null >/dev/null 2>&1 &
  echo $! >"$OUT/waker.pid"
}
waker_stop() {
  local p; p=$(cat "$OUT/waker.pid" 2>/dev/null) || return 0
  grep -q portrait-bench-waker "/proc/$p/cmdline" 2>/dev/null && kill "$p"
  rm -f "$OUT/waker.pid"
}

header() { printf '%-7s %-8s %-8s %3s %8s %8s %7s %7s %5s %5s %3s %6s\n' id tool rate rep wall_s rss_kib found truth miss extra rc cpu_s | tee "$OUT/runs.txt"; }

prepare() {
  if [ "$OUT" = /run/portrait-bench/out ]; then rm -rf "$OUT"
  elif [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then die "OUT=$OUT is not empty"; fi
  mkdir -p "$OUT"
  build
}

run() {
  "$HERE/netns.sh" up >/dev/null || die "netns.sh up failed"
  "$HERE/netns.sh" guard >/dev/null || die "guard failed"
  prepare
  local r a_truth="$OUT/truth_a" b_truth="$OUT/truth_b" have_masscan=0 have_zmap=0
  command -v masscan >/dev/null && have_masscan=1
  command -v zmap >/dev/null && have_zmap=1
  for p in 80 $EXTRA; do echo "$TIP:$p"; done | sort >"$a_truth"
  $PY -c 'import ipaddress;print("\n".join(f"{a}:80" for a in ipaddress.ip_network("'$NET'")))' | sort >"$b_truth"
  local PT=("$PORTRAIT" scan --scan syn --no-discover --no-fingerprint --no-profile --no-vuln --no-risk --no-workspace --no-progress -o jsonl --output-file @.jsonl)
  local MS=(--adapter "$H" --adapter-ip "$HIP" --adapter-mac "$HMAC" --router-mac "$TMAC" --wait "$WAIT")
  : >"$OUT/zmap-empty.conf"; : >"$OUT/zmap-blocklist"; echo "$NET" >"$OUT/zmap-allowlist"
  local ZM=(-C "$OUT/zmap-empty.conf" -b "$OUT/zmap-blocklist" -w "$OUT/zmap-allowlist" -n 65536
    -i "$H" -S "$HIP" --source-mac "$HMAC" -G "$TMAC" -c "$WAIT" -q --disable-syslog)
  waker_start; trap waker_stop EXIT
  header
  # A: one host, every port.
  for r in $PT_RATES; do bench "a-p$((r/1000))k" portrait "$r" "$a_truth" c_portrait -- "${PT[@]}" --rate "$r" -p- "$TIP"; done
  bench a-n nmap T5 "$a_truth" c_nmap -- nmap -sS -T5 -Pn -n -p- "$TIP" -oG @.gnmap
  if [ $have_masscan = 1 ]; then
    for r in $RATES; do bench "a-m$((r/1000))k" masscan "$r" "$a_truth" c_masscan -- masscan "$TIP" -p1-65535 --rate "$r" "${MS[@]}" -oL @.list; done
  fi
  "$HERE/netns.sh" guard >/dev/null || die "guard failed"
  # B: a /16, one port.
  for r in $PT_RATES; do bench "b-p$((r/1000))k" portrait "$r" "$b_truth" c_portrait -- "${PT[@]}" --rate "$r" -p 80 "$NET"; done
  bench b-n nmap min100k "$b_truth" c_nmap -- nmap -sS -T5 -Pn -n -p80 --min-rate 100000 "$NET" -oG @.gnmap
  if [ $have_masscan = 1 ]; then
    for r in $RATES; do bench "b-m$((r/1000))k" masscan "$r" "$b_truth" c_masscan -- masscan "$NET" -p80 --rate "$r" "${MS[@]}" -oL @.list; done
  fi
  if [ $have_zmap = 1 ]; then
    for r in $RATES; do bench "b-z$((r/1000))k" zmap "$r" "$b_truth" c_zmap -- zmap "${ZM[@]}" -p 80 -r "$r" -o @.csv; done
  fi
  waker_stop
  echo; echo "summary (median of $REPS; found min-max):"; summary
  echo "results in $OUT"
}

# loopback: every port of 127.0.0.1 (the lab's listeners), portrait vs nmap.
loopback() {
  prepare
  local truth="$OUT/truth_lo"
  ss -Hltn | awk '{print $4}' | grep '^127\.0\.0\.1:' | sort -u >"$truth"
  header
  bench lo-p portrait nocap "$truth" c_portrait -- "$PORTRAIT" scan --scan syn --no-discover --no-fingerprint --no-profile --no-vuln --no-risk --no-workspace --no-progress -o jsonl --output-file @.jsonl -p- 127.0.0.1
  bench lo-n nmap T5 "$truth" c_nmap -- nmap -sS -T5 -Pn -n -p- 127.0.0.1 -oG @.gnmap
  echo; summary
}

case "${1:-run}" in
  run) run ;; loopback) loopback ;;
  *) die "usage: $0 run|loopback" ;;
esac
