#!/bin/bash
# Benchmarks, run in a fresh test host: see bench/inside.sh (container
# lifecycle), bench/import.sh (imports), bench/varlink.sh (the io.sdme
# service), bench/scale.sh (500 containers, batches of 10), bench/oci.sh
# (OCI applications against podman) and bench/build.sh (sdme fs build
# against the same by hand) for what is measured. Prints medians
# and the ratios against the floors and peers.
#   bench/run.sh [RUNS] [IMPORT_RUNS] [SCALE_RUNS] [OCI_RUNS] [BUILD_RUNS]
#                                     (default 11 lifecycle runs, 3 of imports, 3 at scale, 5 of oci, 3 of build)
#   BENCHES="scale" bench/run.sh      only these (default: inside import varlink scale oci build)
#   NAME, SDME_TESTHOST_ROOT          the test host's name and root, as for bats/run.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export NAME=${NAME:-sdme-bench}
TH="$REPO/bats/testhost/testhost.sh"
ROOT=${SDME_TESTHOST_ROOT:-/var/tmp/sdme-bench/root}
trap '"$TH" stop >/dev/null 2>&1 || true' EXIT
"$TH" unpack "$ROOT"
# podman, the peer of the application benchmarks and of the registry
# import, from the test host's own Debian mirror: installed into the fresh
# copy before it boots, since the test host itself has no network.
if [[ " ${BENCHES:-oci import} " == *" oci "* || " ${BENCHES:-oci import} " == *" import "* ]]; then
  # The chroot resolves names with this machine's resolver.
  mount -t proc proc "$ROOT/proc"
  mount --bind /etc/resolv.conf "$ROOT/etc/resolv.conf"
  chroot "$ROOT" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman crun netavark conmon" >"$ROOT/var/tmp/podman-install.log" 2>&1 ||
    { echo "run.sh: could not install podman; its figures will show as failed:" >&2; tail -5 "$ROOT/var/tmp/podman-install.log" >&2; }
  umount "$ROOT/etc/resolv.conf" "$ROOT/proc"
fi
"$TH" boot "$ROOT"
# A benchmark that fails does not keep the others from running.
rc=0
for b in ${BENCHES:-inside import varlink scale oci build}; do
  case $b in
  inside) "$TH" run --setenv=RUNS="${1:-11}" /src/bench/inside.sh || rc=$? ;;
  import) "$TH" run --setenv=RUNS="${2:-3}" /src/bench/import.sh || rc=$? ;;
  varlink) "$TH" run /src/bench/varlink.sh || rc=$? ;;
  scale) "$TH" run --setenv=RUNS="${3:-3}" /src/bench/scale.sh || rc=$? ;;
  oci) "$TH" run --setenv=RUNS="${4:-5}" /src/bench/oci.sh || rc=$? ;;
  build) "$TH" run --setenv=RUNS="${5:-3}" /src/bench/build.sh || rc=$? ;;
  *) echo "run.sh: no benchmark $b" >&2; exit 2 ;;
  esac
done
exit "$rc"
