#!/usr/bin/env bash
# bench/lab.sh - portrait against nmap -sV on the shared lab, in one run.
#
# Scans the lab's TCP ports (truth.json "tcp_ports") on 127.0.0.1 with
#   portrait scan 127.0.0.1 -p <ports> -o jsonl
#   nmap -sV -Pn -n --version-intensity 7 -p <ports> 127.0.0.1 -oX <file>
# timing each with date +%s.%N, scores both with the lab's score.py against
# its truth.json, and prints the two summaries side by side (service, product
# and exact-version accuracy, wall time, time ratio) plus the ports where the
# two scanners disagree. Files go to bench/results/<UTC time>/ (gitignored;
# bench/results/latest points at the newest run).
#
# With --nmap-mode it also runs portrait in nmap mode (--nmap-probes on the
# system's nmap-service-probes, --nmap-answer only, --nmap-services) and
# prints how often that run gives the same service, product and version as
# nmap -sV did in the same bench run, port by port.
#
# Usage: bash bench/lab.sh [LAB_DIR] [--udp] [--no-nmap] [--nmap-mode]
#   LAB_DIR    the lab folder (truth.json, score.py); default ../shared/lab
#              relative to the repository
#   --udp      also the UDP ports (truth.json "udp_ports"): portrait --scan udp,
#              nmap -sU -sV
#   --no-nmap  portrait only (nmap takes ~2.5 minutes on the lab)
#   --nmap-mode  also portrait in nmap mode, and its agreement with nmap -sV
#              (NMAP_DATA=/usr/share/nmap holds nmap-service-probes and
#              nmap-services; nmap's files are never part of the repository)
# PORTRAIT=/path/to/binary uses that binary instead of building ./cmd/portrait.
# Only 127.0.0.1 is ever scanned.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
TARGET=127.0.0.1   # never anything else

LAB="$REPO/../shared/lab"
UDP=0
NMAP=1
NMAP_MODE=0
NMAP_DATA=${NMAP_DATA:-/usr/share/nmap}
for a in "$@"; do
  case "$a" in
    --udp) UDP=1 ;;
    --nmap-mode) NMAP_MODE=1 ;;
    --no-nmap) NMAP=0 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    -*) echo "lab.sh: unknown option $a" >&2; exit 2 ;;
    *) LAB=$a ;;
  esac
done
LAB="$(cd "$LAB" && pwd)"
TRUTH="$LAB/truth.json"
SCORE="$LAB/score.py"
[ -r "$TRUTH" ] && [ -r "$SCORE" ] || { echo "lab.sh: $LAB has no truth.json / score.py" >&2; exit 2; }

OUT="$REPO/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
ln -sfn "$OUT" "$REPO/bench/results/latest"

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TRUTH" "$1"; }
TCP_PORTS=$(field tcp_ports)
UDP_PORTS=$(field udp_ports)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

if [ -n "${PORTRAIT:-}" ]; then   # a given binary (e.g. an older build to compare)
  echo "[bench] using PORTRAIT=$PORTRAIT"
else
  echo "[bench] building portrait"
  (cd "$REPO" && go build -o "$OUT/portrait" ./cmd/portrait)
  PORTRAIT="$OUT/portrait"
fi


run_portrait() {  # $1 = tcp|udp
  local tr=$1 ports extra=() t0 t1
  if [ "$tr" = tcp ]; then ports=$TCP_PORTS; else ports=U:${UDP_PORTS//,/,U:}; extra=(--scan udp); fi
  echo "[bench] portrait $tr: ${ports//,/ }" | fold -s -w 120
  t0=$(now)
  "$PORTRAIT" scan "$TARGET" "${extra[@]}" -p "$ports" -o jsonl >"$OUT/portrait-$tr.jsonl" 2>"$OUT/portrait-$tr.stderr" ||
    echo "[bench] portrait $tr exited $? (see $OUT/portrait-$tr.stderr)"
  t1=$(now)
  secs "$t0" "$t1" >"$OUT/portrait-$tr.time"
  echo "[bench] portrait $tr: $(cat "$OUT/portrait-$tr.time") s"
}

run_nmap() {      # $1 = tcp|udp
  local tr=$1 ports extra=() t0 t1
  if [ "$tr" = tcp ]; then ports=$TCP_PORTS; else ports=$UDP_PORTS; extra=(-sU); fi
  echo "[bench] nmap $tr (this takes a while)"
  t0=$(now)
  nmap "${extra[@]}" -sV -Pn -n --version-intensity 7 -p "$ports" "$TARGET" -oX "$OUT/nmap-$tr.xml" \
    >"$OUT/nmap-$tr.txt" 2>&1 || echo "[bench] nmap $tr exited $?"
  t1=$(now)
  secs "$t0" "$t1" >"$OUT/nmap-$tr.time"
  echo "[bench] nmap $tr: $(cat "$OUT/nmap-$tr.time") s"
}

score() {         # $1 = name (portrait-tcp...), $2 = result file
  python3 "$SCORE" "$TRUTH" "$2" --time "$(cat "$OUT/$1.time")" --json "$OUT/$1.summary.json" >"$OUT/$1.score.txt"
}

run_nmap_mode() {
  local t0 t1
  echo "[bench] portrait in nmap mode (--nmap-answer only) tcp"
  t0=$(now)
  "$PORTRAIT" scan "$TARGET" -p "$TCP_PORTS" -o jsonl --nmap-probes "$NMAP_DATA/nmap-service-probes" \
    --nmap-answer only --nmap-services "$NMAP_DATA/nmap-services" \
    >"$OUT/portrait-nmapmode-tcp.jsonl" 2>"$OUT/portrait-nmapmode-tcp.stderr" ||
    echo "[bench] portrait nmap mode exited $? (see $OUT/portrait-nmapmode-tcp.stderr)"
  t1=$(now)
  secs "$t0" "$t1" >"$OUT/portrait-nmapmode-tcp.time"
  echo "[bench] portrait nmap mode: $(cat "$OUT/portrait-nmapmode-tcp.time") s"
  score "portrait-nmapmode-tcp" "$OUT/portrait-nmapmode-tcp.jsonl"
}

TRS=(tcp)
[ "$UDP" = 1 ] && TRS+=(udp)
for tr in "${TRS[@]}"; do
  run_portrait "$tr"
  score "portrait-$tr" "$OUT/portrait-$tr.jsonl"
  if [ "$NMAP" = 1 ]; then
    if command -v nmap >/dev/null; then
      run_nmap "$tr"
      score "nmap-$tr" "$OUT/nmap-$tr.xml"
    else
      echo "[bench] nmap not installed (apt-get install nmap); portrait only"
      NMAP=0
    fi
  fi
done

if [ "$NMAP_MODE" = 1 ] && [ "$NMAP" = 1 ]; then
  run_nmap_mode
fi

python3 - "$OUT" "$NMAP" "${TRS[@]}" <<'PY' | tee "$OUT/summary.txt"
import json, os, sys
out, with_nmap, trs = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]

def load(name):
    p = os.path.join(out, name + ".summary.json")
    return json.load(open(p)) if os.path.exists(p) else None

def pct(s, key, num, den):
    if not s or s.get(key) is None:
        return "n/a"
    c = s["counts"]
    return "%5.1f%% (%d/%d)" % (100.0 * s[key], c[num], c[den] if den in c else s["ports"])

for tr in trs:
    p, n = load("portrait-" + tr), load("nmap-" + tr) if with_nmap else None
    print()
    print("== %s: %d lab ports on 127.0.0.1 ==" % (tr.upper(), p["ports"]))
    fmt = "%-28s %-22s %-22s"
    print(fmt % ("", "portrait", "nmap -sV" if n else "(nmap not run)"))
    rows = [
        ("reported open", lambda s: "%d/%d" % (s["reported_open"], s["ports"])),
        ("service name", lambda s: pct(s, "service_accuracy", "svc", "n")),
        ("  behaviour only", lambda s: pct(s, "service_accuracy_behaviour_only", "svc_behaviour", "n")),
        ("product", lambda s: pct(s, "product_accuracy", "prod", "n")),
        ("exact version (on wire)", lambda s: pct(s, "exact_version_accuracy", "vexact", "vwire")),
        ("wrong versions", lambda s: str(s["wrong_version"])),
        ("wall time", lambda s: "%.2f s" % s["wall_time_s"]),
    ]
    for label, f in rows:
        print(fmt % (label, f(p), f(n) if n else ""))
    if n and p["wall_time_s"]:
        print(fmt % ("time ratio nmap/portrait", "%.1fx faster" % (n["wall_time_s"] / p["wall_time_s"]), ""))
    if not n:
        continue
    # where the two disagree, port by port
    nr = {(r["transport"], r["port"]): r for r in n["rows"]}
    diff = []
    for r in p["rows"]:
        o = nr.get((r["transport"], r["port"]))
        if not o:
            continue
        a = (r["service_ok"], r["product_ok"], r["version_grade"] == "exact")
        b = (o["service_ok"], o["product_ok"], o["version_grade"] == "exact")
        if a != b:
            diff.append((r, o))
    if diff:
        print()
        print("ports where they differ (S/P/V: + right, - not):")
        mark = lambda r: "%s%s%s" % ("+" if r["service_ok"] else "-", "+" if r["product_ok"] else "-",
                                     "+" if r["version_grade"] == "exact" else "-")
        for r, o in diff:
            desc = lambda x: ("%s %s %s" % (x["service"] or "(%s)" % x["state"], x["product"] or "",
                                            x["version"] or "")).strip()[:38]
            print("  %5d/%s %-30s portrait %s %-38s nmap %s %s" % (
                r["port"], r["transport"], ("%s %s" % (r["truth_product"], r["truth_version"]))[:30],
                mark(r), desc(r), mark(o), desc(o)))

# nmap mode: the same answer as nmap -sV, port by port (service without the
# "ssl/" tunnel prefix and with nmap's "?" of an uncertain guess dropped;
# product and version as printed)
m, n = load("portrait-nmapmode-tcp"), load("nmap-tcp") if with_nmap else None
if m and n:
    norm = lambda v: (v or "").strip()
    svc = lambda v: norm(v).rstrip("?")
    nr = {(r["transport"], r["port"]): r for r in n["rows"]}
    same, rows = 0, []
    for r in m["rows"]:
        o = nr.get((r["transport"], r["port"]))
        if not o:
            continue
        a = (svc(r["service"]), norm(r["product"]), norm(r["version"]))
        b = (svc(o["service"]), norm(o["product"]), norm(o["version"]))
        if a == b:
            same += 1
        else:
            rows.append((r["port"], a, b))
    total = same + len(rows)
    print()
    print("== nmap mode (--nmap-answer only): same service/product/version as nmap -sV ==")
    print("agreement: %.1f%% (%d/%d ports)   wall time %.2f s vs nmap %.2f s (%.1fx faster)" % (
        100.0 * same / total, same, total, m["wall_time_s"], n["wall_time_s"], n["wall_time_s"] / m["wall_time_s"]))
    for port, a, b in rows:
        print("  %5d  portrait %-45s nmap %s" % (port, " | ".join(a)[:45], " | ".join(b)))
print()
print("files: %s" % out)
PY
