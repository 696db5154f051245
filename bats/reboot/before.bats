#!/usr/bin/env bats
# Runs last, right before bats/run.sh restarts the test host; after.bats
# then checks what survived.
load ../helpers

@test "an enabled container that was never started (booted after the reboot)" {
  # Left in place on purpose: after.bats checks it is running.
  sdme rm -f survivor >/dev/null 2>&1 || true
  sdme create survivor
  sdme enable survivor
  run systemctl is-enabled sdme@survivor.service
  assert_output enabled
}
