#!/bin/sh
# Make sure this Debian or Ubuntu machine has what testing sdme needs;
# install what is missing with apt-get, or say what to install.
#
#   deps.sh         what booting the test host needs (make bats, try, bench)
#   deps.sh unit    that and what the unit tests run as root (make test)
set -e
want="go:golang-go debootstrap:debootstrap zstd:zstd systemd-nspawn:systemd-container nsenter:util-linux"
if [ "${1:-}" = unit ]; then
  want="$want qemu-img:qemu-utils sfdisk:fdisk mkfs.ext4:e2fsprogs losetup:mount mkfs.cramfs:util-linux
    fusermount3:fuse3 mksquashfs:squashfs-tools mkfs.btrfs:btrfs-progs mkfs.xfs:xfsprogs mkfs.erofs:erofs-utils"
fi
missing=
for p in $want; do
  cmd=${p%%:*} pkg=${p#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x /usr/local/go/bin/"$cmd" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: installing$missing" >&2
  # Another apt-get (a parallel run, unattended-upgrades) may hold the
  # locks: wait for it rather than fail. install waits for dpkg's lock
  # itself; update is retried.
  lock="-o DPkg::Lock::Timeout=600"
  for i in 1 2 3 4 5 6 7 8 9 10; do
    apt-get $lock update -qq && break
    echo "deps.sh: apt-get update failed; trying again in 30s" >&2
    sleep 30
  done
  DEBIAN_FRONTEND=noninteractive apt-get $lock install -y -qq$missing >/dev/null
else
  echo "deps.sh: missing packages:$missing (run: sudo apt-get install$missing)" >&2
  exit 1
fi
