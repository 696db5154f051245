#!/bin/bash
# Runs inside the test host. With 500 host clones created, in one run:
#   start/stop  sdme start, then sdme stop, of 10 clones in one command
#               against one clone: systemd boots the 10 side by side, so on
#               two cores 10 should take at most 3x one.
#   ps, List    sdme ps and io.sdme.List (varlinkctl, through sdme.socket)
#               with 10 of the 500 running
#   create      sdme create of the 501st clone
set -euo pipefail
RUNS=${RUNS:-3}
N=500
VL=/run/sdme/io.sdme
TEN=$(printf 'sc%d ' $(seq 10))
ERR=$(mktemp)
. "$(dirname "$0")/lib.sh"
# timed CMD...: runs CMD, sets T to its seconds; a failure ends the bench.
timed() {
  local t0; t0=$(now)
  "$@" >/dev/null 2>"$ERR" || { cat "$ERR" >&2; exit 1; }
  T=$(echo "$(now) - $t0" | bc)
}
cleanup() {
  ls /var/lib/sdme/state | grep '^sc' | xargs -r sdme rm -f >/dev/null 2>&1 || true
  rm -f "$ERR"
}
trap cleanup EXIT

t0=$(now)
seq "$N" | xargs -P 4 -I{} sdme create sc{} >/dev/null 2>"$ERR" || { cat "$ERR" >&2; exit 1; }
made=$(echo "$(now) - $t0" | bc)
# A first boot does work the later ones skip.
timed sdme start $TEN; timed sdme stop $TEN

start1=() stop1=() start10=() stop10=()
for _ in $(seq "$RUNS"); do
  timed sdme start sc1; start1+=("$T")
  timed sdme stop sc1; stop1+=("$T")
  timed sdme start $TEN; start10+=("$T")
  [ "$(systemctl is-active $(printf 'sdme@%s.service ' $TEN) | grep -cx active)" = 10 ] ||
    { echo "start of 10: not all running" >&2; exit 1; }
  timed sdme stop $TEN; stop10+=("$T")
done

sdme start $TEN >/dev/null 2>&1
sdme_list() { varlinkctl call --more "$VL" io.sdme.List '{}'; }
sdme_list >/dev/null   # the service up and warm
[ "$(sdme_list | grep -c '"name"')" -ge "$N" ] || { echo "io.sdme.List did not list $N containers" >&2; exit 1; }
ps=() list=() create=()
for _ in $(seq 11); do
  timed sdme ps; ps+=("$T")
  timed sdme_list; list+=("$T")
done
for _ in $(seq "$RUNS"); do
  timed sdme create sc$((N + 1)); create+=("$T")
  sdme rm sc$((N + 1)) >/dev/null 2>&1
done

m() { printf '%s\n' "$@" | median; }
S1=$(m "${start1[@]}") S10=$(m "${start10[@]}") P1=$(m "${stop1[@]}") P10=$(m "${stop10[@]}")
say() { printf '%-37s %s\n' "$1:" "$2"; }
echo "runs: $RUNS (medians; ps and List: 11), $N host clones (created in $(ms "$made"), 4 at a time)"
say "sdme start, 1 clone" "$(ms "$S1")"
say "sdme start, 10 clones in one command" "$(ms "$S10")"
say "start ratio 10/1" "$(ratio_of "$S10" "$S1")   target <= 3x"
say "sdme stop, 1 clone" "$(ms "$P1")"
say "sdme stop, 10 clones in one command" "$(ms "$P10")"
say "stop ratio 10/1" "$(ratio_of "$P10" "$P1")"
say "sdme ps, $N (10 running)" "$(ms "$(m "${ps[@]}")")"
say "io.sdme.List via varlinkctl, $N" "$(ms "$(m "${list[@]}")")"
say "sdme create of the $((N + 1))st" "$(ms "$(m "${create[@]}")")   target < 30 ms"
