#!/bin/bash
# Build the sdme test host: Debian trixie (systemd 257) with the tools the bats
# suite needs, plus a nested "base" rootfs at /var/lib/machines/base, packed as
# a tarball that testhost.sh unpacks and boots.
#
#   build.sh OUT.tar.zst
#
# Needs on the outer host: debootstrap and zstd. The mirror is taken from this
# machine's apt sources (override with MIRROR=). Network steps are retried,
# because a mirror hiccup should not fail a CI run.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: build.sh OUT.tar.zst}")
SUITE=${SUITE:-trixie}
W=$(mktemp -d "${TMPDIR:-/var/tmp}/sdme-testhost-build.XXXXXX")
cleanup() { umount "$W/rootfs/proc" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

apt_mirror() {
  awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep . ||
  awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^https?:/){print $i; exit}}' /etc/apt/sources.list 2>/dev/null | head -1
}
MIRROR=${MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "build.sh: no Debian mirror in the apt sources; set MIRROR=" >&2; exit 1; }

retry() { local i; for i in 1 2 3; do "$@" && return 0; echo "build.sh: attempt $i failed: $*" >&2; sleep 5; done; return 1; }

HOST_PKGS=dbus,systemd,systemd-container,iproute2
BASE_PKGS=dbus,systemd
# debootstrap cannot resolve virtual packages (skopeo -> container-network-stack),
# so everything beyond the minimum goes through apt afterwards.
# apache2-utils (htpasswd -B), libcap2-bin (setcap), pigz and dosfstools are
# for bats/fixtures/make.sh.
EXTRA_PKGS="procps less sudo util-linux ca-certificates curl jq bats bats-assert bats-support
bats-file debootstrap qemu-utils fdisk e2fsprogs fuse3 skopeo umoci docker-registry
busybox-static xz-utils zstd bzip2 file socat tinyproxy python3 bc
apache2-utils libcap2-bin pigz dosfstools"

ROOT=$W/rootfs BASE=$W/base
t0=$(date +%s)
mkdir -p "$W/cache-host" "$W/cache-base"
# Independent trees, each with its own deb cache: two debootstraps filling one
# cache at once race on the same files.
retry debootstrap --variant=minbase --cache-dir="$W/cache-host" --include=$HOST_PKGS "$SUITE" "$ROOT" "$MIRROR" >"$W/host.log" 2>&1 &
p1=$!
retry debootstrap --variant=minbase --cache-dir="$W/cache-base" --include=$BASE_PKGS "$SUITE" "$BASE" "$MIRROR" >"$W/base.log" 2>&1 &
p2=$!
wait $p1 || { tail -20 "$W/host.log"; exit 1; }
wait $p2 || { tail -20 "$W/base.log"; exit 1; }
echo "build.sh: debootstrap $(( $(date +%s) - t0 ))s"

mount -t proc proc "$ROOT/proc"
retry chroot "$ROOT" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo $EXTRA_PKGS)" >"$W/apt.log" 2>&1 \
  || { tail -20 "$W/apt.log"; exit 1; }
chroot "$ROOT" apt-get clean
# Services from the extras start only when a test asks: a host clone of the
# test host would otherwise start them again on the shared network.
chroot "$ROOT" systemctl disable docker-registry.service tinyproxy.service >/dev/null 2>&1 || true
umount "$ROOT/proc"
echo "build.sh: apt $(( $(date +%s) - t0 ))s"

mkdir -p "$ROOT/var/lib/machines"
mv "$BASE" "$ROOT/var/lib/machines/base"
for r in "$ROOT" "$ROOT/var/lib/machines/base"; do
  chroot "$r" passwd -d root >/dev/null
  ln -sf /dev/null "$r/etc/systemd/system/systemd-modules-load.service"  # no modules here
  rm -f "$r/etc/resolv.conf"; : > "$r/etc/resolv.conf"
done
echo testhost > "$ROOT/etc/hostname"
echo base > "$ROOT/var/lib/machines/base/etc/hostname"
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$ROOT/etc/systemd/system/$u"
done
# An unprivileged user, for the not-root and join-as-$SUDO_USER tests.
chroot "$ROOT" useradd -m -s /bin/bash tester
# Device nodes nspawn does not provide (no udev in the test host): loop and fuse.
{
  echo 'c /dev/fuse         0666 root root - 10:229'
  echo 'c /dev/loop-control 0660 root disk - 10:237'
  for i in $(seq 0 31); do echo "b /dev/loop$i 0660 root disk - 7:$i"; done
} > "$ROOT/etc/tmpfiles.d/sdme-testhost-dev.conf"
# The local OCI registry listens on loopback only, without auth.
cat > "$ROOT/etc/docker/registry/config.yml" <<'T'
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: /var/lib/docker-registry}
  delete: {enabled: true}
http: {addr: "127.0.0.1:5000"}
T
mkdir -p "$(dirname "$OUT")"
tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' --acls -I 'zstd -T0 -3' -cf "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
echo "build.sh: packed $(du -h "$OUT" | cut -f1) in $(( $(date +%s) - t0 ))s"
