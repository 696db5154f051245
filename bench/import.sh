#!/bin/bash
# Runs inside the test host. Import throughput, in one run, on the same
# Debian rootfs (the test host's /var/lib/machines/base), against the
# physical floors and the peers:
#   directory      sdme fs import DIR            vs  cp -a
#   .tar.zst       sdme fs import F.tar.zst      vs  tar -x with zstd, importctl import-tar
#   .tar.gz        sdme fs import F.tar.gz       vs  tar -x with gzip, importctl import-tar
#   registry       sdme fs import 127.0.0.1:5000/sdme/base
#                                                vs  skopeo copy to an OCI layout + umoci unpack,
#                                                    and podman pull (where podman is installed)
# Every target is on the same filesystem; page caches are warm for all, and
# dirty pages of the previous step are written out before each timing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
/src/bats/fixtures/make.sh
. /var/tmp/sdme-fixtures/env
SRC=/var/lib/machines/base
W=/var/lib/sdme-bench
rm -rf "$W"; mkdir -p "$W"
trap 'rm -rf "$W"; for r in $(ls /var/lib/sdme/fs); do sdme fs rm "$r" >/dev/null 2>&1 || true; done' EXIT

sdme_import() { sdme fs import -q -f "$1" "$2"; }
cp_a() { rm -rf "$W/cp"; cp -a "$SRC" "$W/cp"; }
tar_x() { rm -rf "$W/tar"; mkdir "$W/tar"; tar -C "$W/tar" --numeric-owner --xattrs --xattrs-include='*' -I "$1" -xf "$2"; }
# sdme's import is on disk when it returns (it syncs before the rootfs
# appears), so the floors are measured with and without the same sync.
cp_a_sync() { cp_a && sync; }
tar_x_sync() { tar_x "$@" && sync; }
importctl_tar() { importctl -q --class=machine --force import-tar "$1" bench-imp; }
skopeo_umoci() {
  rm -rf "$W/oci" "$W/bundle"
  skopeo copy -q --src-tls-verify=false "docker://$FIX_REGISTRY/sdme/base" "oci:$W/oci:latest"
  umoci unpack --image "$W/oci:latest" "$W/bundle"
}
podman_pull() {
  podman --cgroup-manager=cgroupfs rmi -af >/dev/null 2>&1 || true
  podman --cgroup-manager=cgroupfs pull -q --tls-verify=false "$FIX_REGISTRY/sdme/base"
}
have_importctl=$(command -v importctl >/dev/null && echo yes || echo no)
have_podman=$(command -v podman >/dev/null && echo yes || echo no)
if [ "$have_podman" = yes ]; then
  # nspawn's seccomp filter denies keyctl, which podman's runtime uses.
  mkdir -p /etc/containers
  [ -e /etc/containers/containers.conf ] || printf '[containers]\nkeyring = false\n' > /etc/containers/containers.conf
fi

declare -A t
add() { t[$1]+="$2 "; }
for i in $(seq "$RUNS"); do
  add sdme-dir "$(time_of sdme_import b-dir "$SRC")"
  add cp "$(time_of cp_a)"
  add cp-sync "$(time_of cp_a_sync)"
  add sdme-zst "$(time_of sdme_import b-zst "$FIX/base.tar.zst")"
  add tar-zst "$(time_of tar_x zstd "$FIX/base.tar.zst")"
  add tar-zst-sync "$(time_of tar_x_sync zstd "$FIX/base.tar.zst")"
  add sdme-gz "$(time_of sdme_import b-gz "$FIX/base.tar.gz")"
  add tar-gz "$(time_of tar_x gzip "$FIX/base.tar.gz")"
  add tar-gz-sync "$(time_of tar_x_sync gzip "$FIX/base.tar.gz")"
  if [ "$have_importctl" = yes ]; then
    add importctl-zst "$(time_of importctl_tar "$FIX/base.tar.zst")"
    add importctl-gz "$(time_of importctl_tar "$FIX/base.tar.gz")"
  fi
  add sdme-reg "$(time_of sdme_import b-reg "$FIX_REGISTRY/sdme/base")"
  add skopeo "$(time_of skopeo_umoci)"
  [ "$have_podman" = no ] || add podman "$(time_of podman_pull)"
done
[ "$have_podman" = no ] || podman --cgroup-manager=cgroupfs rmi -af >/dev/null 2>&1 || true
machinectl remove bench-imp >/dev/null 2>&1 || true

m() { printf '%s\n' ${t[$1]} | median; }
ratio() { ratio_of "$(m "$1")" "$(m "$2")"; }
line() { printf '%-44s %10s\n' "$1" "$(seconds "$(m "$2")")"; }
echo "runs: $RUNS (medians), rootfs $(du -sh "$SRC" | cut -f1) in $(find "$SRC" | wc -l) entries"
line "sdme fs import DIR" sdme-dir
line "cp -a" cp
line "cp -a + sync" cp-sync
line "sdme fs import .tar.zst" sdme-zst
line "tar -x (zstd)" tar-zst
line "tar -x (zstd) + sync" tar-zst-sync
line "sdme fs import .tar.gz" sdme-gz
line "tar -x (gzip)" tar-gz
line "tar -x (gzip) + sync" tar-gz-sync
if [ "$have_importctl" = yes ]; then
  line "importctl import-tar .tar.zst" importctl-zst
  line "importctl import-tar .tar.gz" importctl-gz
fi
line "sdme fs import 127.0.0.1:5000/sdme/base" sdme-reg
line "skopeo copy + umoci unpack" skopeo
[ "$have_podman" = no ] || line "podman pull" podman
echo "directory   sdme/cp -a:          $(ratio sdme-dir cp)   target <= 1.2x   (durable: sdme/cp -a + sync $(ratio sdme-dir cp-sync))"
echo ".tar.zst    sdme/tar -x:         $(ratio sdme-zst tar-zst)   target <= 1.2x   (durable: sdme/tar -x + sync $(ratio sdme-zst tar-zst-sync))"
echo ".tar.gz     sdme/tar -x:         $(ratio sdme-gz tar-gz)   target <= 1.2x   (durable: sdme/tar -x + sync $(ratio sdme-gz tar-gz-sync))"
if [ "$have_importctl" = yes ]; then
  echo ".tar.zst    sdme/importctl:      $(ratio sdme-zst importctl-zst)   target < 1x"
  echo ".tar.gz     sdme/importctl:      $(ratio sdme-gz importctl-gz)   target < 1x"
fi
echo "registry    sdme/skopeo+umoci:   $(ratio sdme-reg skopeo)   target < 1x"
[ "$have_podman" = no ] || echo "registry    sdme/podman pull:    $(ratio sdme-reg podman)"
