# Shared by every bats file; runs inside the test host, as root.
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

DATADIR=/var/lib/sdme

# remove_all removes every container, whatever state it is in.
remove_all() {
  local n
  for n in $(ls "$DATADIR/state" 2>/dev/null); do sdme rm -f "$n" >/dev/null 2>&1 || true; done
}

# assert_no_leftovers checks that nothing of container $1 remains.
assert_no_leftovers() {
  [ ! -e "$DATADIR/state/$1" ] || fail "state file of $1 left behind"
  [ ! -e "$DATADIR/containers/$1" ] || fail "directory of $1 left behind"
  [ ! -e "/etc/systemd/system/sdme@$1.service.d" ] || fail "drop-in of $1 left behind"
  ! grep -q "/containers/$1/" /proc/self/mountinfo || fail "mounts of $1 left behind"
}

# The import fixtures (bats/fixtures/README.md): make_fixtures builds them
# once per test host, use_fixtures puts their variables in a test's scope.
FIX=/var/tmp/sdme-fixtures
make_fixtures() { /src/bats/fixtures/make.sh; }
use_fixtures() { . "$FIX/env"; }

# remove_everything removes every container and every imported rootfs
# (applications first: a base goes only once no application uses it).
remove_everything() {
  local r pass
  remove_all
  for pass in apps all; do
    for r in $(ls "$DATADIR/fs" 2>/dev/null); do sdme fs rm "$r" >/dev/null 2>&1 || true; done
  done
}

# opaque PATH: the overlay's opaque attribute of PATH (no getfattr here).
opaque() { python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$1"; }
