#!/usr/bin/env bats
# Bad input and failure paths: clear errors, right exit codes, nothing left.
load helpers

setup_file() { remove_all; }
teardown_file() { remove_all; }

@test "unknown container" {
  for verb in start stop restart rm enable disable join logs; do
    run sdme $verb nosuchbox
    assert_failure 1
    assert_output --partial 'container "nosuchbox": not found'
  done
  run sdme exec nosuchbox true
  assert_failure 1
}

@test "duplicate name" {
  sdme create dup1
  run sdme create dup1
  assert_failure 1
  assert_output --partial 'container "dup1": already exists'
  sdme rm dup1
}

@test "a name taken by a machinectl image or a registered machine" {
  mkdir -p /var/lib/machines/img1
  run sdme create img1
  assert_failure 1
  assert_output --partial /var/lib/machines
  rmdir /var/lib/machines/img1
  assert_no_leftovers img1
}

@test "bad names are usage errors" {
  for n in Bad 1box -x 'a b' a_b "$(printf 'x%.0s' {1..65})"; do
    run sdme create -- "$n"
    assert_failure 2
    assert_output --partial "name"
  done
  run ls $DATADIR/state
  refute_output --partial Bad
}

@test "usage errors exit 2" {
  run sdme start
  assert_failure 2
  run sdme bogus-verb
  assert_failure 2
  run sdme ps --bogus-flag
  assert_failure 2
  run sdme create a b
  assert_failure 2
  run sdme config set boot_timeout
  assert_failure 2
}

@test "not root" {
  run runuser -u tester -- sdme ps
  assert_failure 1
  assert_output --partial "needs root"
  run runuser -u tester -- sdme create x
  assert_failure 1
  assert_output --partial "sudo"
}

@test "a missing program is named with its package" {
  d=$(mktemp -d)
  for p in mount umount rmdir; do ln -s "$(command -v $p)" "$d/$p"; done
  # The create fails after it claimed the name: its cleanup removes its
  # own files and nobody else's.
  sdme create keep1
  echo mine >$DATADIR/containers/keep1/upper/keep
  run env PATH="$d" /usr/local/bin/sdme create miss1
  assert_failure 1
  assert_output --partial "systemd-nspawn, systemd-run not found"
  assert_output --partial "systemd-container"
  assert_no_leftovers miss1
  [ "$(cat $DATADIR/containers/keep1/upper/keep)" = mine ]
  sdme rm keep1
  sdme create miss2
  sdme start miss2
  run env PATH="$d" /usr/local/bin/sdme exec miss2 true
  assert_output --partial "systemd-run not found"
  assert_output --partial "package systemd"
  run env PATH="$d" /usr/local/bin/sdme logs miss2
  assert_output --partial "journalctl not found"
  sdme rm -f miss2
  rm -rf "$d"
}

@test "prefix matching and ambiguity" {
  sdme create alpha-one
  sdme create alpha-two
  sdme create beta
  run --separate-stderr sdme start bet
  assert_success
  assert_output beta
  run sdme stop alpha
  assert_failure 2
  assert_output --partial '"alpha" matches 2 containers: alpha-one, alpha-two'
  # a prefix that names no one container is a usage error, as over varlink
  run sdme start alpha
  assert_failure 2
  assert_output --partial '"alpha" matches 2 containers: alpha-one, alpha-two'
  run sdme exec be hostname
  assert_output beta
  # an exact name wins over a longer one it prefixes
  sdme create alpha
  run --separate-stderr sdme rm alpha
  assert_output alpha
  sdme rm -f alpha-one alpha-two beta
}

@test "batch verbs go on after an error and fail at the end" {
  sdme create bat1
  sdme create bat2
  run --separate-stderr sdme rm bat1 nosuch bat2
  assert_failure 1
  assert_line bat1
  assert_line bat2
  [[ "$stderr" == *'container "nosuch": not found'* ]]
  [[ "$stderr" == *'1 of 3 containers could not be removed'* ]]
  assert_no_leftovers bat1
  assert_no_leftovers bat2
}

@test "opaque directory errors are usage errors" {
  run sdme create -o relative/dir opq1
  assert_failure 2
  run sdme create -o /a/../b opq1
  assert_failure 2
  assert_no_leftovers opq1
}

@test "-r with an unknown rootfs" {
  run sdme create -r nosuchfs fsx
  assert_failure 1
  assert_output --partial 'rootfs "nosuchfs": not found'
  assert_no_leftovers fsx
}

@test "unknown applet name" {
  ln -sf /usr/local/bin/sdme /tmp/sdme-bogus
  run /tmp/sdme-bogus
  assert_failure 2
  assert_output --partial "unknown applet"
  rm -f /tmp/sdme-bogus
}
