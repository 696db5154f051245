# What strangers can make root do: hostile names and values over the
# socket anyone may open, a data directory others could reach, image trees
# that point at host files, FIFOs and devices, a guest's own root, damaged
# state. docs/security.md is the threat model these tests encode.
load helpers

VL=/run/sdme/io.sdme

# vl METHOD [JSON]: varlinkctl call as root, short JSON on stdout.
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

# A small tree to import as a rootfs: enough for create -r, not to boot.
tiny_tree() {
  rm -rf "$1"
  mkdir -p "$1/etc" "$1/usr/lib"
  printf 'ID=tiny\nPRETTY_NAME="Tiny"\n' > "$1/usr/lib/os-release"
}

setup_file() { remove_everything; }

teardown() {
  remove_everything
  sdme config set datadir "$DATADIR" >/dev/null 2>&1 || true
}

@test "a data directory that exists at 0755 is made private; its trees are out of others' reach" {
  remove_everything
  chmod 0755 "$DATADIR" "$DATADIR"/* 2>/dev/null || true
  tiny_tree /var/tmp/tiny
  install -m 4755 /usr/bin/id /var/tmp/tiny/suid-id
  sdme fs import tiny /var/tmp/tiny
  [ "$(stat -c %a "$DATADIR")" = 700 ]
  for d in state containers fs locks; do
    [ "$(stat -c %a "$DATADIR/$d")" = 700 ] || fail "$DATADIR/$d is $(stat -c %a "$DATADIR/$d")"
  done
  [ -u "$DATADIR/fs/tiny/suid-id" ] # the image keeps its setuid binary...
  run sudo -u tester "$DATADIR/fs/tiny/suid-id" -u
  assert_failure # ...which nobody else can reach
  run sudo -u tester ls "$DATADIR/fs"
  assert_failure
}

@test "a store replaced under the running service is made private again" {
  vl List '{}' >/dev/null 2>&1 || true # the service has seen the store
  mount -t tmpfs -o mode=0755 tmpfs "$DATADIR"
  run vl Create '{"name":"memo"}'
  modes=$(stat -c %a "$DATADIR" "$DATADIR/containers" "$DATADIR/containers/memo" | tr '\n' ' ')
  vl Remove '{"name":"memo"}' || true
  umount "$DATADIR"
  assert_success
  [ "$modes" = "700 700 700 " ] || fail "modes after the store was replaced: $modes"
}

@test "a data directory that others could change is refused, and nothing is made in it" {
  # Owned by another user.
  install -d -o tester -m 0700 /var/tmp/theirs
  sdme config set datadir /var/tmp/theirs
  run sdme create x
  assert_failure 1
  assert_output --partial "belongs to uid"
  assert_output --partial "/var/tmp/theirs"
  [ -z "$(ls -A /var/tmp/theirs)" ] || fail "sdme wrote into it"
  # Below a directory others may write.
  install -d -m 0777 /var/tmp/open
  sdme config set datadir /var/tmp/open/sdme
  run sdme fs ls
  assert_failure 1
  assert_output --partial "writable by its group or by others"
  [ ! -e /var/tmp/open/sdme ]
  # Missing, in a sticky world-writable directory: anyone could make it first.
  sdme config set datadir /var/tmp/not-yet
  run sdme ps
  assert_failure 1
  [ ! -e /var/tmp/not-yet ]
  # The same refusal over varlink.
  run vl ListRootfs '{"name":"x"}'
  assert_failure
  assert_output --partial io.sdme.Failed
  assert_output --partial "writable by its group or by others"
  sdme config set datadir "$DATADIR"
  rm -rf /var/tmp/theirs /var/tmp/open
}

@test "image trees cannot make root open devices, FIFOs or host files" {
  tiny_tree /var/tmp/hostile
  rm /var/tmp/hostile/usr/lib/os-release
  # etc/os-release is a FIFO (opening it would block forever),
  # usr/lib/os-release a character device (the host's /dev/zero; a
  # watchdog's would arm it), and the dbus path an absolute symlink to a
  # host file.
  mkfifo /var/tmp/hostile/etc/os-release
  mknod /var/tmp/hostile/usr/lib/os-release c 1 5
  echo 'PRETTY_NAME="HOST SECRET"' > /root/secret-os-release
  mkdir -p /var/tmp/hostile/usr/bin
  ln -s /usr/bin/dbus-daemon /var/tmp/hostile/usr/bin/dbus-broker
  run timeout -k 5 60 sdme fs import hostile /var/tmp/hostile
  assert_success
  assert_output --partial "has no os-release"
  assert_output --partial "has no D-Bus daemon"
  # An os-release that points at a host file names nothing of the host.
  rm /var/tmp/hostile/etc/os-release /var/tmp/hostile/usr/lib/os-release
  ln -s /root/secret-os-release /var/tmp/hostile/etc/os-release
  run timeout -k 5 60 sdme fs import -f hostile /var/tmp/hostile
  assert_success
  run sdme fs ls
  refute_output --partial "HOST SECRET"
  rm -rf /var/tmp/hostile /root/secret-os-release
}

@test "creating on a rootfs reads its unit directory inside the rootfs" {
  tiny_tree /var/tmp/units
  # etc/systemd leads, on the host, to a directory with a mount unit; in
  # the tree it leads nowhere. A FIFO stands where the other tree's unit
  # directory should be: listing it through host paths would block.
  mkdir -p /run/sdme-hostunits/system
  touch /run/sdme-hostunits/system/sdme-hostonly.mount
  ln -s /run/sdme-hostunits /var/tmp/units/etc/systemd
  sdme fs import units /var/tmp/units
  run timeout -k 5 60 sdme create -r units un1
  assert_success
  [ ! -e "$DATADIR/containers/un1/upper/etc/systemd/system/sdme-hostonly.mount" ] ||
    fail "a unit of the host was masked from the rootfs's symlink"
  rm /var/tmp/units/etc/systemd
  mkdir -p /var/tmp/units/etc/systemd
  mkfifo /var/tmp/units/etc/systemd/system
  sdme fs import -f units2 /var/tmp/units
  run timeout -k 5 60 sdme create -r units2 -o /etc/systemd/system un2
  [ "$status" != 124 ] || fail "create blocked on the rootfs's FIFO"
  assert_success
  rm -rf /var/tmp/units /run/sdme-hostunits
}

@test "terminal escapes in an image's os-release never reach the terminal" {
  tiny_tree /var/tmp/escapes
  printf 'PRETTY_NAME="Evil\033]0;owned\007\033[2J\033[31mOS\302\233"\n' > /var/tmp/escapes/usr/lib/os-release
  run sdme fs import escapes /var/tmp/escapes
  assert_success
  [[ "$output" != *$'\033'* ]] || fail "the import summary holds an escape"
  run sdme fs ls
  [[ "$output" != *$'\033'* ]] || fail "fs ls holds an escape"
  assert_output --partial "Evil]0;owned[2J[31mOS"
  grep -q $'\033' "$DATADIR/fs/.escapes.meta" && fail "the record holds an escape"
  rm -rf /var/tmp/escapes
}

@test "join reads the guest's passwd inside the guest: a link to a host FIFO cannot hang it" {
  sdme create pw
  sdme start pw
  # In the guest, /etc/passwd leads to its own /run/passwd; on the host the
  # same path is a FIFO, which a read through host paths would block on.
  sdme exec pw sh -c 'cp /etc/passwd /run/passwd && ln -sf /run/passwd /etc/passwd'
  mkfifo /run/passwd
  # With join_as_sudo_user, join looks up $SUDO_USER in the guest's passwd.
  run timeout -k 5 60 env SUDO_USER=tester sdme join pw id -un </dev/null
  rm -f /run/passwd
  [ "$status" != 124 ] || fail "join blocked on a host FIFO"
  assert_success
}

@test "hostile names over varlink are InvalidName, and touch nothing outside the data directory" {
  for m in Start Stop Restart Enable Disable Remove; do
    for n in '../../../../tmp/sdme-evil' '../../../../etc/shadow' 'a/b' '.' ''; do
      run vl "$m" "{\"name\":\"$n\"}"
      assert_failure
      assert_output --partial io.sdme.InvalidName
      refute_output --partial 'root:'
    done
  done
  [ ! -e /var/tmp/sdme-evil.lock ] || fail "a lock file was made outside the data directory"
  [ ! -e /tmp/sdme-evil.lock ] || fail "a lock file was made outside the data directory"
  run vl List '{"name":"../../etc/shadow"}'
  refute_output --partial 'root:'
}

@test "opaque directories over varlink get the CLI's checks, in the engine" {
  for d in '/../..' '/etc/../..' 'relative' '/' '/a,b' '/a\nb'; do
    run vl Create "{\"name\":\"op\",\"opaqueDirs\":[\"$d\"]}"
    assert_failure
    assert_output --partial io.sdme.InvalidArgument
  done
  [ ! -e "$DATADIR/state/op" ] || fail "a container was made"
  run opaque "$DATADIR/containers"
  assert_failure
  run sdme create op -o /../..
  assert_failure 2
  run vl Create '{"name":"op","opaqueDirs":["/opt"]}'
  assert_success
  [ "$(opaque "$DATADIR/containers/op/upper/opt")" = y ]
}

@test "a datadir with a newline or overlay separators is refused everywhere it could be set" {
  run sdme config set datadir "$(printf '/var/lib/x\nExecStartPre=/bin/touch /tmp/pwned')"
  assert_failure 2
  for d in /var/lib/a,upperdir=/etc /var/lib/a:/etc; do
    run sdme config set datadir "$d"
    assert_failure 2
  done
  run vl SetConfig '{"key":"datadir","value":"/var/lib/x\nExecStartPre=/bin/touch /tmp/pwned"}'
  assert_failure
  assert_output --partial io.sdme.InvalidArgument
  # A config file edited by hand is held to the same rules.
  mkdir -p /root/.config/sdme
  cp /root/.config/sdme/sdmerc /root/sdmerc.saved 2>/dev/null || true
  printf 'datadir = "/var/lib/x\\nExecStartPre=/bin/touch /tmp/pwned"\n' > /root/.config/sdme/sdmerc
  run sdme create nl
  assert_failure 2
  run sdme ps
  assert_failure 2
  if [ -e /root/sdmerc.saved ]; then mv /root/sdmerc.saved /root/.config/sdme/sdmerc; else rm /root/.config/sdme/sdmerc; fi
  ! grep -rq pwned /etc/systemd/system/ || fail "a unit file holds the injected line"
  [ ! -e /tmp/pwned ]
}

@test "a damaged state file does not make a container unremovable" {
  sdme create dmg1
  sdme create dmg2
  printf 'garbage without an equals sign\n' >> "$DATADIR/state/dmg1"
  { printf 'NAME=dmg2\nX='; head -c 100000 /dev/zero | tr '\0' y; echo; printf 'no equals %0100000d\n' 0; } > "$DATADIR/state/dmg2"
  run sdme ps
  assert_success
  assert_line --regexp '^dmg1 +incomplete'
  run sdme rm dmg1
  assert_success
  assert_no_leftovers dmg1
  run vl Remove '{"name":"dmg2"}'
  assert_success
  assert_no_leftovers dmg2
}

@test "a guest that makes its files immutable can still be removed" {
  sdme create imm
  sdme start imm
  sdme exec imm sh -c 'mkdir /pinned && touch /pinned/file && chattr +i /pinned/file /pinned && touch /appendonly && chattr +a /appendonly'
  # Overlayfs since Linux 5.15 keeps these flags in an xattr of the upper
  # layer; older kernels (RHEL 9's 5.14) set them on the upper files
  # themselves, which stops even root's unlink. Do what those kernels do.
  chattr +i "$DATADIR/containers/imm/upper/pinned/file" "$DATADIR/containers/imm/upper/pinned"
  chattr +a "$DATADIR/containers/imm/upper/appendonly"
  run sdme rm -f imm
  assert_success
  assert_no_leftovers imm
}

@test "a reader listing in a loop never makes root's writes fail as busy" {
  tiny_tree /var/tmp/tiny
  sdme fs import tiny /var/tmp/tiny
  # A leftover of a dead import, which only a writer may collect.
  mkdir -p "$DATADIR/fs/.tiny.import-999999/rootfs"
  # Two unprivileged clients list as fast as the service answers, each on
  # a connection of its own, while root creates containers on the rootfs.
  cat > /var/tmp/lister.py <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect("/run/sdme/io.sdme")
call = json.dumps({"method": "io.sdme.ListRootfs", "parameters": {}, "more": True}).encode() + b"\0"
buf, end = b"", time.time() + float(sys.argv[1])
while time.time() < end:
    s.sendall(call)
    while True:
        while b"\0" not in buf:
            buf += s.recv(65536)
        msg, _, buf = buf.partition(b"\0")
        if not json.loads(msg).get("continues"):
            break
PY
  for _ in 1 2; do
    setpriv --reuid=nobody --regid=nogroup --clear-groups python3 /var/tmp/lister.py 60 &
  done
  failed=0
  for i in $(seq 40); do
    sdme create -r tiny "ro$i" >/dev/null 2>&1 || failed=$((failed + 1))
  done
  kill %1 %2 2>/dev/null; wait 2>/dev/null || true
  [ "$failed" = 0 ] || fail "$failed of 40 creates failed while a reader listed"
  [ -d "$DATADIR/fs/.tiny.import-999999" ] || fail "a reader collected a leftover"
  for i in $(seq 40); do sdme rm "ro$i" >/dev/null; done
  run sdme fs rm tiny
  assert_success
  ! ls -A "$DATADIR/fs" | grep -q import- || fail "the dead import's leftover stayed"
  rm -f /var/tmp/lister.py
}

@test "timeouts too long for a duration are refused, not wrapped around" {
  sdme create to
  run sdme start -t 99999999999 to
  assert_failure 2
  run sdme config set boot_timeout 9999999999999
  assert_failure 2
  run vl Start '{"name":"to","timeout":9223372036854775807}'
  assert_failure
  assert_output --partial timeout
}
