#!/usr/bin/env bash
# testenv/lab2/down.sh - stop what up.sh started, and nothing else.
#
# up.sh starts every server under setsid, so each one leads its own session and
# process group, and writes that leader's pid to run/<name>.pid. For each pid
# file this script checks that the pid is still such a session leader (a
# recycled pid is never signalled), collects its process tree (descendants and
# members of its session: nsd, varnish and gunicorn fork workers), sends
# SIGTERM to the process group and to any sub-session leaders in the tree, waits
# up to 20 s, then SIGKILLs what is left of the recorded tree (same pid AND same
# start time). Never kills by name.
#
# Usage: bash testenv/lab2/down.sh            # everything up.sh started
#        bash testenv/lab2/down.sh nsd webfs  # only these (names = run/<name>.pid)
set -u
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$LAB/run"

names=("$@")
if ((${#names[@]} == 0)); then
  for f in "$RUN"/*.pid; do [ -e "$f" ] && names+=("$(basename "$f" .pid)"); done
fi

starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }
sid_of()    { ps -o sid= -p "$1" 2>/dev/null | tr -d ' '; }
tree() {  # pid + its descendants + every member of its session
  ps -eo pid=,ppid=,sid= | awk -v r="$1" '
    { pp[$1]=$2; sid[$1]=$3; pids[NR]=$1 }
    END { in_[r]=1; changed=1
      while (changed) { changed=0
        for (i in pids) { p=pids[i]
          if (!(p in in_) && ((pp[p] in in_) || sid[p]==r)) { in_[p]=1; changed=1 } } }
      for (p in in_) print p }'
}

declare -a RECORD=()
for n in "${names[@]}"; do
  f="$RUN/$n.pid"
  [ -s "$f" ] || { echo "[lab2 down] $n: no pid file"; continue; }
  pid=$(cat "$f")
  if ! kill -0 "$pid" 2>/dev/null; then echo "[lab2 down] $n: pid $pid not running"; rm -f "$f"; continue; fi
  if [ "$(sid_of "$pid")" != "$pid" ]; then
    echo "[lab2 down] $n: pid $pid is not the session leader up.sh started - leaving it alone"; rm -f "$f"; continue
  fi
  echo "[lab2 down] stopping $n (session $pid)"
  members=$(tree "$pid")
  for p in $members; do RECORD+=("$n $p $(starttime "$p")"); done
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for p in $members; do
    [ "$p" != "$pid" ] && [ "$(sid_of "$p")" = "$p" ] && kill -TERM -- "-$p" 2>/dev/null
  done
  rm -f "$f"
done

still() {
  local e n p st
  for e in "${RECORD[@]}"; do
    read -r n p st <<<"$e"
    [ -n "$st" ] && [ "$(starttime "$p")" = "$st" ] && echo "$n $p"
  done
}
for _ in $(seq 1 40); do [ -z "$(still)" ] && break; sleep 0.5; done
still | while read -r n p; do
  echo "[lab2 down] $n: pid $p still alive after 20 s -> SIGKILL"; kill -KILL "$p" 2>/dev/null
done
echo "[lab2 down] done"
