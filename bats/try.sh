#!/bin/bash
# make try: boot a fresh test host and run `sdme new` in it, so sdme can be
# tried on a machine without systemd as PID 1. On a terminal you land in the
# new container (exit the shell to leave; the test host is then powered
# off). Without a terminal, a short scripted demo runs instead.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export NAME=sdme-try
TH="$REPO/bats/testhost/testhost.sh"
ROOT=/var/tmp/sdme-try/root
trap '"$TH" stop >/dev/null 2>&1 || true' EXIT
"$TH" unpack "$ROOT"
"$TH" boot "$ROOT"
if [ -t 0 ] && [ -t 1 ]; then
  echo "try: you are root in the test host; 'sdme new' boots a clone of it" >&2
  "$TH" exec env TERM="${TERM:-xterm}" sdme new || true
  exit 0
fi
demo() { echo "\$ $*" >&2; "$@"; }
"$TH" exec bash -c "$(declare -f demo); set -e
demo sdme create demo
demo sdme start demo
demo sdme exec demo cat /etc/os-release
demo sdme exec demo systemctl is-system-running
demo sdme ps
demo sdme logs demo -n 5
demo sdme stop demo
demo sdme rm demo"
