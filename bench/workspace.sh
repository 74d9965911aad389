#!/usr/bin/env bash
# bench/workspace.sh - what archiving a scan in the workspace costs.
#
# Runs the same 10,000-port scan of the lab (127.0.0.1 -p 1-10000, the full
# pipeline: port scan, fingerprints, -o jsonl) ROUNDS times without the
# workspace (--no-workspace) and ROUNDS times with it (results.jsonl with
# batched fsync, checkpoint, status.json, banner artifacts, SQLite index),
# alternating the two so that drift in the machine's load hits both alike,
# and prints each run, the medians and the overhead of the archive:
#   (median with - median without) / median without.
# The issue's bound: <= 10%.
#
# Usage: bash bench/workspace.sh [ROUNDS]      (default 9)
# PORTRAIT=/path/to/binary uses that binary instead of building ./cmd/portrait.
# Only 127.0.0.1 is scanned. The workspace is a temporary folder, removed at
# the end.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
ROUNDS="${1:-9}"
TARGET=127.0.0.1
PORTS=1-10000

BIN="${PORTRAIT:-}"
if [ -z "$BIN" ]; then
  BIN="$(mktemp -d)/portrait"
  (cd "$REPO" && go build -o "$BIN" ./cmd/portrait)
fi
WS="$(mktemp -d)"
trap 'rm -rf "$WS"' EXIT

run() { # $1 = label, rest = extra flags; prints seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" scan "$TARGET" -p "$PORTS" -o jsonl --no-progress "${@:2}" >/dev/null 2>"$WS/stderr" || {
    echo "scan failed:" >&2; cat "$WS/stderr" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) printf "%.3f", a[(NR+1)/2]; else printf "%.3f", (a[NR/2]+a[NR/2+1])/2}'; }

echo "portrait: $("$BIN" --version 2>/dev/null || echo "$BIN")"
echo "scan: $TARGET -p $PORTS -o jsonl, $ROUNDS rounds each, alternating; $(nproc) cores"
run warmup --no-workspace >/dev/null
without=() with=()
for i in $(seq 1 "$ROUNDS"); do
  a=$(run without --no-workspace)
  b=$(run with --workspace-dir "$WS")
  without+=("$a"); with+=("$b")
  printf "round %2d  without %6.3f s   with %6.3f s\n" "$i" "$a" "$b"
done
mw=$(printf '%s\n' "${without[@]}" | median)
mv=$(printf '%s\n' "${with[@]}" | median)
over=$(echo "($mv - $mw) * 100 / $mw" | bc -l)
printf "median    without %6.3f s   with %6.3f s   archive overhead %+.1f%% (bound: 10%%)\n" "$mw" "$mv" "$over"
scans=$(ls "$WS/scans" | wc -l)
size=$(du -sk "$WS" | cut -f1)
echo "workspace: $scans scans archived, ${size} KiB in all (index.db, results, banners)"
