#!/usr/bin/env bash
# bench/lab2.sh - portrait against nmap -sV on lab2 (testenv/lab2), in one run.
#
# lab2 is a second ground truth: 28 real Debian 12 servers that the shared lab
# does not have (Dropbear, TinySSH, GNU inetutils ftpd, OpenSMTPD, GNU Mailutils
# imap4d/pop3d, HAProxy, Varnish, mini_httpd, webfs, Python http.server,
# gunicorn, Node.js, nginx with server_tokens off, Apache with ServerTokens Prod,
# Icecast, tinyproxy, Privoxy, Dante, Unbound, dnsmasq, NSD, rsyncd, git daemon,
# ngIRCd, Prosody, Redis with requirepass, Mosquitto with anonymous access), all
# on 127.0.0.1 high ports. It checks that the fingerprinting generalises rather
# than memorising the shared lab.
#
# Same run and report as bench/lab.sh (which this calls): portrait, then
#   nmap -sV -Pn -n --version-intensity 7 -p <lab2 ports> 127.0.0.1
# both timed and scored by the shared lab's score.py against
# testenv/lab2/truth.json; results in bench/results/<UTC time>/.
#
# Usage: bash bench/lab2.sh [--no-nmap]      (PORTRAIT=/path/to/binary as in lab.sh)
# The servers must be up: sudo bash testenv/lab2/up.sh (it also rewrites truth.json).
# Only 127.0.0.1 is ever scanned.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB2="$REPO/testenv/lab2"
SCORE="${SCORE:-$REPO/../shared/lab/score.py}"
for a in "$@"; do
  case "$a" in
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    --no-nmap) ;;
    *) echo "lab2.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ -r "$LAB2/truth.json" ] || { echo "lab2.sh: no $LAB2/truth.json: run sudo bash testenv/lab2/up.sh" >&2; exit 2; }
[ -r "$SCORE" ] || { echo "lab2.sh: no score.py at $SCORE (set SCORE=...)" >&2; exit 2; }
# lab.sh wants one folder holding truth.json and score.py
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
ln -s "$LAB2/truth.json" "$DIR/truth.json"
ln -s "$(cd "$(dirname "$SCORE")" && pwd)/$(basename "$SCORE")" "$DIR/score.py"
missing=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["missing"]))' "$LAB2/truth.json")
[ "$missing" = 0 ] || echo "[lab2] warning: truth.json lists $missing missing servers (re-run testenv/lab2/up.sh)"
bash "$REPO/bench/lab.sh" "$DIR" "$@"
