#!/usr/bin/env bats
# Runs after the test host was restarted (see bats/run.sh and before.bats).
load ../helpers

@test "an enabled container starts at boot" {
  for _ in $(seq 100); do
    [ "$(systemctl is-active sdme@survivor.service)" = active ] && break
    sleep 0.2
  done
  run sdme ps
  assert_line --regexp '^survivor +running .* yes$'
  run sdme exec survivor systemctl is-system-running --wait
  assert_output running
  sdme rm survivor
  assert_no_leftovers survivor
}
