#!/usr/bin/env bats
# Races and crashes: two creates of one name, sdme killed with SIGKILL.
load helpers

setup_file() { remove_all; }
teardown_file() { remove_all; }

@test "two concurrent creates of one name: exactly one wins" {
  for i in 1 2 3 4 5; do
    sdme create race$i >/tmp/race-a.out 2>&1 & a=$!
    sdme create race$i >/tmp/race-b.out 2>&1 & b=$!
    ra=0; rb=0; wait $a || ra=$?; wait $b || rb=$?
    [ $((ra == 0)) -ne $((rb == 0)) ] || fail "round $i: exits $ra and $rb"
    cat /tmp/race-a.out /tmp/race-b.out | grep -Eq 'already exists|being changed by another sdme' ||
      fail "round $i: the loser's error is unclear: $(cat /tmp/race-a.out /tmp/race-b.out)"
    run sdme ps
    assert_line --regexp "^race$i +stopped"
    sdme rm race$i
  done
}

@test "sdme killed with SIGKILL during create: ps works, rm cleans up" {
  for delay in 0 0.005 0.01 0.02 0.04 0.08 0.15; do
    sdme create kc >/dev/null 2>&1 & p=$!
    sleep $delay; kill -9 $p 2>/dev/null || true; wait $p || true
    run sdme ps
    assert_success
    if [ -e $DATADIR/state/kc ]; then
      run sdme rm kc
      assert_success
    fi
    assert_no_leftovers kc
  done
}

@test "an interrupted create shows as incomplete and rm removes it" {
  # What SIGKILL right after claiming the name leaves behind.
  : > $DATADIR/state/half1
  mkdir -p $DATADIR/containers/half1/upper
  run sdme ps
  assert_line --regexp '^half1 +incomplete'
  run sdme start half1
  assert_failure
  assert_output --partial "not fully created"
  run sdme rm half1
  assert_success
  assert_no_leftovers half1
}

@test "sdme killed with SIGKILL during start: the container still works" {
  sdme create ks
  for delay in 0.05 0.3; do
    sdme start ks >/dev/null 2>&1 & p=$!
    sleep $delay; kill -9 $p 2>/dev/null || true; wait $p || true
    run sdme ps
    assert_success
    assert_line --regexp '^ks +(starting|running|stopped)'
    # the boot goes on under systemd; start again just waits for it
    run sdme start ks
    assert_success
    run sdme exec ks systemctl is-system-running --wait
    assert_output running
    sdme stop ks
  done
  sdme rm ks
  assert_no_leftovers ks
}

@test "SIGINT during new removes the half-made container" {
  sdme new ctrlc -- true >/dev/null 2>&1 & p=$!
  sleep 0.3; kill -INT $p 2>/dev/null || true; wait $p || true
  # Either it had finished, or it cleaned up; never a broken container.
  if [ -e $DATADIR/state/ctrlc ]; then
    run sdme ps
    assert_line --regexp '^ctrlc +running'
    sdme rm -f ctrlc
  fi
  assert_no_leftovers ctrlc
}
