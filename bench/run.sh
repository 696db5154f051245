#!/bin/bash
# Benchmarks, run in a fresh test host: see bench/inside.sh (container
# lifecycle), bench/import.sh (imports) and bench/varlink.sh (the io.sdme
# service) for what is measured. Prints
# medians and the ratios against the floors and peers.
#   bench/run.sh [RUNS] [IMPORT_RUNS]   (default 11 lifecycle runs, 3 of imports)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export NAME=sdme-bench
TH="$REPO/bats/testhost/testhost.sh"
ROOT=/var/tmp/sdme-bench/root
trap '"$TH" stop >/dev/null 2>&1 || true' EXIT
"$TH" unpack "$ROOT"
"$TH" boot "$ROOT"
# A benchmark that fails does not keep the others from running.
rc=0
"$TH" run --setenv=RUNS="${1:-11}" /src/bench/inside.sh || rc=$?
"$TH" run --setenv=RUNS="${2:-3}" /src/bench/import.sh || rc=$?
"$TH" run /src/bench/varlink.sh || rc=$?
exit "$rc"
