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

@test "an enabled OCI application container whose application is in a pod" {
  # Left in place on purpose: after.bats checks that the application
  # answers in the pod made again.
  make_fixtures
  use_fixtures
  sdme rm -f appsurvivor >/dev/null 2>&1 || true
  sdme pod rm -f rapod >/dev/null 2>&1 || true
  sdme fs rm rweb rbase >/dev/null 2>&1 || true
  sdme fs import -q rbase "$FIX_IMG_BASE"
  sdme fs import -q rweb "$FIX_IMG_WEB" --base-fs=rbase
  sdme pod new rapod
  sdme create -r rweb --oci-pod=rapod appsurvivor
  sdme enable appsurvivor
}
