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

@test "an enabled container in a pod (the pod's namespace is gone after the reboot)" {
  # Left in place on purpose: after.bats checks the pod and its container.
  sdme rm -f podsurvivor >/dev/null 2>&1 || true
  sdme pod rm -f rpod >/dev/null 2>&1 || true
  sdme pod new rpod
  sdme create --pod=rpod podsurvivor
  sdme enable podsurvivor
  findmnt -n /run/sdme/pods/rpod/netns >/dev/null
}
