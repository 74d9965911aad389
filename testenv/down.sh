#!/usr/bin/env bash
# testenv/down.sh - stop what testenv/up.sh started, and nothing else.
#
# up.sh starts each unit under setsid, so the recorded pid (run/UNIT.pid) leads
# its own session and process group. For each pid file this script:
#   - skips it unless that pid is still alive AND still its own session leader
#     (a recycled pid is never signalled);
#   - collects the unit's process tree (descendants by parent pid, plus every
#     member of its session: postfix's master and postgres children live there);
#   - sends SIGTERM to the process group and to sub-session leaders in the tree,
#     waits up to 20 s, then SIGKILLs what is left of exactly those processes
#     (same pid and same start time).
# Servers that up.sh merely reused (origin "existing", e.g. the shared lab) have
# no pid file here and are never touched. No pkill / killall.
#
# Usage: bash testenv/down.sh            # every unit up.sh started
#        bash testenv/down.sh redis ...  # only these units
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$HERE/run"

units=("$@")
if ((${#units[@]} == 0)); then
  for f in "$RUN"/*.pid; do [ -e "$f" ] && units+=("$(basename "$f" .pid)"); done
fi

starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
sid_of() { ps -o sid= -p "$1" 2>/dev/null | tr -d ' '; }
tree() {   # pid $1, its descendants, and the members of its session
  ps -eo pid=,ppid=,sid= | awk -v r="$1" '
    { pp[$1] = $2; sid[$1] = $3; n[NR] = $1 }
    END {
      in_[r] = 1
      do { changed = 0
        for (i in n) { p = n[i]
          if (!(p in in_) && ((pp[p] in in_) || sid[p] == r)) { in_[p] = 1; changed = 1 } }
      } while (changed)
      for (p in in_) print p }'
}

RECORD=()   # "unit pid starttime"
for u in "${units[@]}"; do
  f="$RUN/$u.pid"
  [ -s "$f" ] || { echo "[down] $u: no pid file"; continue; }
  pid=$(cat "$f")
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "[down] $u: pid $pid already gone"; rm -f "$f" "$RUN/$u.ports"; continue
  fi
  if [ "$(sid_of "$pid")" != "$pid" ]; then
    echo "[down] $u: pid $pid is not the session up.sh started; leaving it alone"
    rm -f "$f" "$RUN/$u.ports"; continue
  fi
  echo "[down] stopping $u (session $pid)"
  members=$(tree "$pid")
  for p in $members; do RECORD+=("$u $p $(starttime "$p")"); done
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for p in $members; do
    [ "$p" != "$pid" ] && [ "$(sid_of "$p")" = "$p" ] && kill -TERM -- "-$p" 2>/dev/null
  done
  rm -f "$f" "$RUN/$u.ports"
done

still() {
  local e u p st
  for e in "${RECORD[@]}"; do
    read -r u p st <<<"$e"
    [ -n "$st" ] && [ "$(starttime "$p")" = "$st" ] && echo "$u $p"
  done
}
for _ in $(seq 1 40); do
  [ -z "$(still)" ] && break
  sleep 0.5
done
still | while read -r u p; do
  echo "[down] $u: pid $p still alive after 20 s, sending SIGKILL"
  kill -KILL "$p" 2>/dev/null
done
echo "[down] done"
