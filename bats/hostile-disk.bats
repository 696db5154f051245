# Disk images made to hurt: a partition table whose numbers overflow, a
# root file system with a setuid-root program and a device node, and an
# image a user can change while sdme works on it. The crafted images come
# from fixtures/hostile-disk.py; the rest are built here from the import
# fixtures (fixtures/README.md).
load helpers

VL=/run/sdme/io.sdme
IMG=/var/tmp/sdme-hostile-disk   # root's alone: images here are used in place

setup_file() {
  make_fixtures
  rm -rf "$IMG"
  mkdir -m 0700 "$IMG"
  python3 /src/bats/fixtures/hostile-disk.py "$IMG"
  # small.raw plus a setuid-root program and the block device node of a
  # host's first disk, written into the image by debugfs (no mount).
  cp "$FIX/small.raw" "$IMG/suid.raw"
  debugfs -w -f - "$IMG/suid.raw" >/dev/null 2>&1 <<'EOF'
write /usr/bin/true suid-true
sif suid-true mode 0104755
sif suid-true uid 0
sif suid-true gid 0
mknod dev-sda b 8 0
sif dev-sda mode 060660
EOF
}

teardown_file() { rm -rf "$IMG" /home/tester/small.qcow2; }

setup() { use_fixtures; }
teardown() { remove_everything; }

# vl METHOD [JSON]: varlinkctl call, short JSON on stdout.
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

# assert_nothing_left: no staging directory, mount or loop device of an
# import remains.
assert_nothing_left() {
  run bash -c "ls -A '$DATADIR/fs' 2>/dev/null | grep -E '^\.[a-z0-9-]+\.(import|remove)-' || true"
  assert_output ""
  ! grep -q "$DATADIR/fs/\." /proc/self/mountinfo || fail "mounts left below the store"
  run bash -c "losetup -n -l -O BACK-FILE | grep -E '$DATADIR|$IMG|/home/tester' || true"
  assert_output ""
}

@test "a GPT whose entry count times entry size overflows is refused as corrupt" {
  run sdme fs import gptbomb "$IMG/gpt-overflow.raw"
  assert_failure 1
  assert_output --partial "gpt-overflow.raw: GPT header at LBA 1: 4294967295 entries of 4294967288 bytes"
  refute_output --partial panic
  [ ! -e "$DATADIR/fs/gptbomb" ]
  assert_nothing_left
}

@test "the same GPT through varlink: an error reply, and the same service goes on" {
  sdme create hdlist
  run vl List '{"name":"hdlist"}'
  assert_success
  pid=$(systemctl show -p MainPID --value sdme.service)
  [ "$pid" -gt 0 ] || fail "sdme.service is not running"
  run vl ImportRootfs "{\"source\":\"$IMG/gpt-overflow.raw\",\"name\":\"gptbomb\"}"
  assert_failure
  assert_output --partial io.sdme.TransferFailed
  assert_output --partial "GPT header at LBA 1"
  [ "$(systemctl show -p MainPID --value sdme.service)" = "$pid" ] || fail "sdme.service was restarted"
  run vl List '{"name":"hdlist"}'
  assert_success
  assert_output --partial '"name":"hdlist"'
  [ ! -e "$DATADIR/fs/gptbomb" ]
  assert_nothing_left
}

@test "a setuid-root program and a device node in a disk image arrive in the rootfs" {
  run sdme fs import suid "$IMG/suid.raw"
  assert_success
  R=$DATADIR/fs/suid
  [ "$(stat -c '%a %u %g' "$R/suid-true")" = "4755 0 0" ]
  [ "$(stat -c '%F %t:%T %a' "$R/dev-sda")" = "block special file 8:0 660" ]
  [ -f "$R/arch" ]
  assert_nothing_left
}

@test "while a disk image is mounted, the mount has its type and ro,nosuid,nodev,noexec" {
  sdme fs import --name mopts "$FIX/base.raw" -q &
  pid=$!
  line=
  for _ in $(seq 200); do
    line=$(grep " $DATADIR/fs/.mopts.import-[0-9]*/work/[^ ]*/root " /proc/self/mountinfo || true)
    [ -n "$line" ] && break
    sleep 0.05
  done
  wait $pid
  [ -n "$line" ] || fail "never saw the image mounted"
  echo "$line"
  # ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - FSTYPE SOURCE SUPER
  opts=$(echo "$line" | cut -d' ' -f6)
  for o in ro nosuid nodev noexec; do
    [[ ",$opts," == *",$o,"* ]] || fail "mount options $opts lack $o"
  done
  [[ "$line" == *" - ext4 /dev/loop"* ]] || fail "not mounted as ext4"
  [ -f "$DATADIR/fs/mopts/etc/os-release" ]
  assert_nothing_left
}

@test "a QCOW2 image in a user's home is copied before use, and imports" {
  qemu-img convert -f raw -O qcow2 "$FIX/small.raw" /home/tester/small.qcow2
  chown tester: /home/tester/small.qcow2
  run sdme fs import usercow /home/tester/small.qcow2
  assert_success
  assert_output --partial "copied /home/tester/small.qcow2 first: /home/tester"
  assert_output --partial "belongs to uid $(id -u tester)"
  [ "$(cat "$DATADIR/fs/usercow/arch")" = "$FIX_ARCH" ]
  assert_nothing_left
}

@test "a QCOW2 image only root can change is used in place" {
  qemu-img convert -f raw -O qcow2 "$FIX/small.raw" "$IMG/small.qcow2"
  run sdme fs import rootcow "$IMG/small.qcow2"
  assert_success
  refute_output --partial "copied"
  [ "$(cat "$DATADIR/fs/rootcow/arch")" = "$FIX_ARCH" ]
  assert_nothing_left
}
