#!/bin/bash
# Runs inside the test host, with podman installed (bench/run.sh does it).
# OCI applications, in one run, on the fixtures' sdme/base (a 240 MB Debian
# with systemd) and sdme/web (busybox httpd as a non-root user, port 8090):
#   first answer  sdme create + start -r web until the first HTTP answer
#                 (sdme new is the same plus a login), of which the systemd
#                 boot is the part until start returns, against
#                 raw nspawn: systemd-run -p Type=notify systemd-nspawn --boot
#                 of the same layers (app over base, the same service) until
#                 the same answer, and
#                 podman run -d --net=host of the same image until it answers
#                 (no systemd in it: it starts the application alone)
#   import        sdme fs import --base-fs of the application
#                 vs podman pull, and skopeo copy + umoci unpack
#   disk          three applications on one base, against three full copies
#                 (base + application each, as the original sdme stores them)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-5}
/src/bats/fixtures/make.sh >/dev/null
. /var/tmp/sdme-fixtures/env
D=/var/lib/sdme
W=/var/lib/sdme-bench-oci
URL=http://127.0.0.1:8090/
PODMAN=(podman --cgroup-manager=cgroupfs)
rm -rf "$W"; mkdir -p "$W"
cleanup() {
  for c in $(ls $D/state 2>/dev/null); do sdme rm -f "$c" >/dev/null 2>&1 || true; done
  for r in web web2 web3 base; do sdme fs rm "$r" >/dev/null 2>&1 || true; done
  "${PODMAN[@]}" rm -af >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
cleanup; mkdir -p "$W"

# Inside the nspawn test host podman needs these: nspawn's seccomp filter
# denies keyctl and bpf, which crun uses for keyrings and cgroup devices.
mkdir -p /etc/containers
printf '[containers]\nkeyring = false\n' > /etc/containers/containers.conf

# until_answer: wait for the first HTTP answer on $URL (10 s at most).
until_answer() {
  local i
  for i in $(seq 2000); do
    curl -sf --max-time 1 -o /dev/null "$URL" && return 0
    sleep 0.005
  done
  return 1
}

sdme fs import -q base "$FIX_IMG_BASE" >/dev/null

declare -A t
add() { t[$1]+="$2 "; }

# --- import ---------------------------------------------------------------------
sdme_app_import() { sdme fs import -q -f web "$FIX_IMG_WEB" --base-fs=base; }
podman_pull() { "${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true; "${PODMAN[@]}" pull -q --tls-verify=false "$FIX_IMG_WEB"; }
podman_pull_base() { "${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true; "${PODMAN[@]}" pull -q --tls-verify=false "$FIX_IMG_BASE"; }
skopeo_umoci() {
  rm -rf "$W/oci" "$W/bundle"
  skopeo copy -q --src-tls-verify=false "docker://$FIX_IMG_WEB" "oci:$W/oci:latest"
  umoci unpack --image "$W/oci:latest" "$W/bundle"
}
for i in $(seq "$RUNS"); do
  add imp-sdme "$(time_of sdme_app_import)"
  add imp-podman "$(time_of podman_pull)"
  add imp-skopeo "$(time_of skopeo_umoci)"
done
"${PODMAN[@]}" pull -q --tls-verify=false "$FIX_IMG_WEB" >/dev/null

# --- first answer ---------------------------------------------------------------
sdme_first() {
  sdme create -r web "$1" >/dev/null
  local t0 t1 t2
  t0=$(now)
  sdme start "$1" >/dev/null
  t1=$(now)
  until_answer || return 1
  t2=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t0" | bc)"
}
# The same layers and service under nspawn alone: the floor.
raw_first() {
  local n=$1 m=$W/$1
  mkdir -p "$m/upper" "$m/work" "$m/merged"
  mount -t overlay overlay -o "lowerdir=$D/fs/web:$D/fs/base,upperdir=$m/upper,workdir=$m/work" "$m/merged"
  systemd-run -q --unit="raw-$n" -p Type=notify -p Delegate=yes -p KillMode=mixed -p Slice=machine.slice \
    systemd-nspawn --quiet --keep-unit --boot --notify-ready=yes --machine="$n" --directory="$m/merged" \
    --bind-ro=/usr/local/bin/sdme:/run/sdme/sdme
  until_answer
}
raw_stop() { systemctl stop "raw-$1" 2>/dev/null || true; umount "$W/$1/merged" 2>/dev/null || true; rm -rf "${W:?}/$1"; }
podman_first() { "${PODMAN[@]}" run -d -q --name "$1" --net=host --cgroups=disabled "$FIX_IMG_WEB" >/dev/null && until_answer; }

for i in $(seq "$RUNS"); do
  read -r boot answer < <(sdme_first "sb$i" || echo "failed:1 failed:1")
  add sdme-boot "$boot"
  add sdme-first "$answer"
  sdme rm -f "sb$i" >/dev/null
  add raw-first "$(time_of raw_first "rb$i")"
  raw_stop "rb$i"
  add podman-first "$(time_of podman_first "pb$i")"
  "${PODMAN[@]}" rm -f "pb$i" >/dev/null 2>&1 || true
done

# --- disk -------------------------------------------------------------------------
sdme fs import -q web2 "$FIX_IMG_WEB" --base-fs=base
sdme fs import -q web3 "$FIX_IMG_NEEDSENV" --base-fs=base
shared=$(du -sk "$D/fs/base" "$D/fs/web" "$D/fs/web2" "$D/fs/web3" | awk '{s+=$1} END {print s}')
base=$(du -sk "$D/fs/base" | cut -f1)
apps=$((shared - base))
copies=$((3 * base + apps))

m() { printf '%s\n' ${t[$1]} | median; }
line() { printf '%-52s %10s\n' "$1" "$(seconds "$(m "$2")")"; }
echo "runs: $RUNS (medians); base $(du -sh "$D/fs/base" | cut -f1), application $(du -sh "$D/fs/web" | cut -f1)"
line "sdme fs import --base-fs (application)" imp-sdme
line "podman pull (application)" imp-podman
line "skopeo copy + umoci unpack (application)" imp-skopeo
line "sdme create+start until the first HTTP answer" sdme-first
line "  of which the boot (start returns: READY=1)" sdme-boot
line "raw nspawn, same layers and service, first answer" raw-first
line "podman run -d --net=host, first answer" podman-first
echo "import     sdme/podman pull:       $(ratio_of "$(m imp-sdme)" "$(m imp-podman)")"
echo "import     sdme/skopeo+umoci:      $(ratio_of "$(m imp-sdme)" "$(m imp-skopeo)")"
echo "start      sdme/raw nspawn:        $(ratio_of "$(m sdme-first)" "$(m raw-first)")   (sdme adds the unit: its drop-in, a daemon-reload, the mounts as ExecStartPre)"
echo "start      sdme/podman run:        $(ratio_of "$(m sdme-first)" "$(m podman-first)")   (podman boots no systemd)"
echo "start      boot share of sdme:     $(awk -v b="$(m sdme-boot)" -v f="$(m sdme-first)" 'BEGIN{printf "%.0f%%", 100*b/f}')"
echo "disk       3 apps on one base:     $((shared / 1024)) MiB, 3 full copies: $((copies / 1024)) MiB ($(awk -v a=$shared -v b=$copies 'BEGIN{printf "%.2fx", a/b}'))"
