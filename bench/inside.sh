#!/bin/bash
# Runs inside the test host. In one run, so the figures share the machine's
# mood, it measures:
#   create      sdme create of a host clone
#   create+spec the same with 5 binds, 5 env values and every limit
#   start       sdme start until the guest reports ready (is-system-running
#               says running), against
#   raw         systemd-run -p Type=notify systemd-nspawn --boot
#               --notify-ready=yes on the same overlay tree, until ready:
#               the floor sdme's start is compared with.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-11}
D=/var/lib/sdme

create=() createspec=() start=() raw=()
spec=()
for b in 1 2 3 4 5; do
  mkdir -p "/srv/bench-bind$b"
  spec+=(-b "/srv/bench-bind$b:/mnt/bind$b" -e "BENCH_VAR$b=value $b")
done
spec+=(--memory 1G --cpus 1.5 --cpu-weight 200 --tasks-max 4096)
for i in $(seq "$RUNS"); do
  n=bench$i
  create+=("$(time_of sdme create "$n")")
  createspec+=("$(time_of sdme create "spec$n" "${spec[@]}")")
  sdme rm "spec$n" >/dev/null 2>&1 || true
  failed "${create[-1]}" >/dev/null && continue # nothing to start

  # raw nspawn on this container's own layers, as the unit would run it
  m=$D/containers/$n/merged
  mount -t overlay overlay -o "lowerdir=/,upperdir=$D/containers/$n/upper,workdir=$D/containers/$n/work" "$m"
  raw+=("$(time_of systemd-run -q --unit="raw-$n" -p Type=notify -p Delegate=yes -p KillMode=mixed -p Slice=machine.slice \
    systemd-nspawn --quiet --keep-unit --boot --notify-ready=yes --machine="$n" --directory="$m")")
  [ "$(systemctl -M "$n" is-system-running)" = running ] || echo "# raw $n: not running" >&2
  systemctl stop "raw-$n" 2>/dev/null || true
  umount "$m" 2>/dev/null || true

  start+=("$(time_of sdme start "$n")")
  [ "$(systemctl -M "$n" is-system-running)" = running ] || echo "# sdme $n: not running" >&2
  sdme rm -f "$n" >/dev/null 2>&1
done

c=$(printf '%s\n' "${create[@]}" | median)
cs=$(printf '%s\n' "${createspec[@]}" | median)
s=$(printf '%s\n' "${start[@]}" | median)
r=$(printf '%s\n' "${raw[@]}" | median)
echo "runs: $RUNS (medians)"
echo "sdme create (host clone):            $(ms "$c")   target < 30 ms"
echo "  with 5 binds, 5 env values, limits: $(ms "$cs")   target < 30 ms"
echo "sdme start until running:            $(ms "$s")"
echo "raw nspawn via systemd-run, running: $(ms "$r")"
echo "start ratio sdme/raw:                $(ratio_of "$s" "$r")   target <= 1.15x"
