#!/bin/bash
# Benchmarks, run in a fresh test host: see bench/inside.sh for what is
# measured. Prints medians and the ratios against the floors and peers.
#   bench/run.sh [RUNS]      (default 11 runs of each figure)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export NAME=sdme-bench
TH="$REPO/bats/testhost/testhost.sh"
ROOT=/var/tmp/sdme-bench/root
trap '"$TH" stop >/dev/null 2>&1 || true' EXIT
"$TH" unpack "$ROOT"
"$TH" start "$ROOT" --bind-ro="$REPO":/src
"$TH" exec /src/bats/install-sdme.sh
"$TH" run --setenv=RUNS="${1:-11}" /src/bench/inside.sh
