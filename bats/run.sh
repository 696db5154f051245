#!/bin/bash
# Run the bats suite in a fresh test host.
#
#   bats/run.sh [FILTER]     FILTER: a bats --filter regex (optional)
#   SUITES="import.bats ..." bats/run.sh    only these files (no reboot phase)
#
# Unpacks the cached test host (building it the first time), boots it with
# this checkout bind-mounted at /src, installs bin/sdme there, runs
# bats/*.bats and bats/reboot/before.bats inside, restarts the test host,
# runs bats/reboot/after.bats (what must survive a reboot), and powers it
# off. Exits non-zero if any
# test failed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TH="$REPO/bats/testhost/testhost.sh"
ROOT=${SDME_TESTHOST_ROOT:-/var/tmp/sdme-testhost/root}
FILTER=${1:-}
[ -x "$REPO/bin/sdme" ] || { echo "run.sh: build bin/sdme first (make)" >&2; exit 1; }

cleanup() { "$TH" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$TH" stop >/dev/null 2>&1 || true
"$TH" unpack "$ROOT"

# Runs bats inside and tallies its TAP output into the closing line.
passed=0 failed=0 skipped=0
suite() {
  local out rc=0
  out=$(mktemp)
  "$TH" run --setenv=BATS_FILTER="$FILTER" bash -c 'cd /src/bats && bats --tap ${BATS_FILTER:+--filter "$BATS_FILTER"} "$@"' _ "$@" | tee "$out" || rc=$?
  local p f s
  read -r p f s < <(awk '/^ok .* # skip/{s++; next} /^ok /{p++} /^not ok /{f++} END{print p+0, f+0, s+0}' "$out")
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  if [ "$rc" != 0 ] && ! grep -q '^not ok' "$out"; then
    echo "run.sh: bats exited with status $rc without a failed test" >&2
    failed=$((failed + 1))
  fi
  rm -f "$out"
}
"$TH" boot "$ROOT"
suite ${SUITES:-$(cd "$REPO/bats" && ls *.bats)}
if [ -z "$FILTER" ] && [ -z "${SUITES:-}" ]; then
  suite reboot/before.bats
  "$TH" stop
  "$TH" boot "$ROOT"
  suite reboot/after.bats
fi
echo "bats: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
