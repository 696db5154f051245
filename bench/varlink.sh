#!/bin/bash
# Runs inside the test host. With 50 containers created and 5 of them
# running, in one run:
#   io.sdme.List (all containers, through sdme.socket)  vs
#   io.systemd.Machine.List (machined, all machines)
# both called with varlinkctl, and the resident memory of the idle service.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-21}
VL=/run/sdme/io.sdme
MD=/run/systemd/machine/io.systemd.Machine
cleanup() { for i in $(seq 50); do sdme rm -f "vb$i" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
for i in $(seq 50); do sdme create "vb$i" >/dev/null 2>&1; done
for i in $(seq 5); do sdme start "vb$i" >/dev/null 2>&1; done

sdme_list() { varlinkctl call --more "$VL" io.sdme.List '{}'; }
machined_list() { varlinkctl call --more "$MD" io.systemd.Machine.List '{}'; }

sdme_list >/dev/null; machined_list >/dev/null || true   # both services up and warm
[ "$(sdme_list | grep -c '"name"')" -ge 50 ] || { echo "io.sdme.List did not list 50 containers" >&2; exit 1; }
s=() m=()
for _ in $(seq "$RUNS"); do
  s+=("$(time_of sdme_list)")
  m+=("$(time_of machined_list)")
done
pid=$(systemctl show -p MainPID --value sdme.service)
rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
S=$(printf '%s\n' "${s[@]}" | median)
M=$(printf '%s\n' "${m[@]}" | median)
echo "runs: $RUNS (medians), 50 containers, 5 running"
echo "io.sdme.List via varlinkctl:            $(ms "$S")"
echo "io.systemd.Machine.List via varlinkctl: $(ms "$M")"
echo "List ratio sdme/machined:               $(ratio_of "$S" "$M")   target <= 1.0x"
echo "idle service RSS:                       $((rss / 1024)) MiB ($rss KiB)   target < 20 MB"
