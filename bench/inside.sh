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
RUNS=${RUNS:-11}
D=/var/lib/sdme
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END{printf "%.4f", a[int((NR+1)/2)]}'; }
ms() { awk -v s="$1" 'BEGIN{printf "%.1f ms", s*1000}'; }

create=() createspec=() start=() raw=()
spec=()
for b in 1 2 3 4 5; do
  mkdir -p "/srv/bench-bind$b"
  spec+=(-b "/srv/bench-bind$b:/mnt/bind$b" -e "BENCH_VAR$b=value $b")
done
spec+=(--memory 1G --cpus 1.5 --cpu-weight 200 --tasks-max 4096)
for i in $(seq "$RUNS"); do
  n=bench$i
  t0=$(now); sdme create "$n" >/dev/null 2>&1; t1=$(now)
  create+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); sdme create "spec$n" "${spec[@]}" >/dev/null 2>&1; t1=$(now)
  createspec+=("$(echo "$t1 - $t0" | bc)")
  sdme rm "spec$n" >/dev/null 2>&1

  # raw nspawn on this container's own layers, as the unit would run it
  m=$D/containers/$n/merged
  mount -t overlay overlay -o "lowerdir=/,upperdir=$D/containers/$n/upper,workdir=$D/containers/$n/work" "$m"
  t0=$(now)
  systemd-run -q --unit="raw-$n" -p Type=notify -p Delegate=yes -p KillMode=mixed -p Slice=machine.slice \
    systemd-nspawn --quiet --keep-unit --boot --notify-ready=yes --machine="$n" --directory="$m" >/dev/null
  t1=$(now)
  raw+=("$(echo "$t1 - $t0" | bc)")
  [ "$(systemctl -M "$n" is-system-running)" = running ] || echo "# raw $n: not running" >&2
  systemctl stop "raw-$n"; umount "$m" 2>/dev/null || true

  t0=$(now); sdme start "$n" >/dev/null 2>&1; t1=$(now)
  start+=("$(echo "$t1 - $t0" | bc)")
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
echo "start ratio sdme/raw:                $(awk -v s="$s" -v r="$r" 'BEGIN{printf "%.2fx", s/r}')   target <= 1.15x"
