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

@test "an enabled container in a pod starts at boot, in the pod's namespace made again" {
  for _ in $(seq 100); do
    [ "$(systemctl is-active sdme@podsurvivor.service)" = active ] && break
    sleep 0.2
  done
  run sdme ps
  assert_line --regexp '^podsurvivor +running .* yes$'
  findmnt -n /run/sdme/pods/rpod/netns >/dev/null
  run sdme pod ls --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="rpod") | {active, containers}')" = '{"active":true,"containers":["podsurvivor"]}' ]
  run sdme exec podsurvivor ip -o link
  assert_output --regexp '^1: lo: <LOOPBACK,UP'
  [ "${#lines[@]}" = 1 ]
  # The pod still works: a new container in it reaches the survivor on
  # 127.0.0.1.
  sdme exec podsurvivor sh -c 'mkdir -p /srv/www && echo survived > /srv/www/index.txt'
  sdme exec podsurvivor systemd-run --unit=podweb python3 -m http.server 8124 --bind 127.0.0.1 --directory /srv/www
  sdme create --pod=rpod podpeer
  sdme start podpeer
  ok=
  for _ in $(seq 50); do
    if [ "$(sdme exec podpeer curl -sf --max-time 2 http://127.0.0.1:8124/index.txt)" = survived ]; then ok=1; break; fi
    sleep 0.2
  done
  [ -n "$ok" ]
  sdme pod rm -f rpod
  assert_no_leftovers podsurvivor
  assert_no_leftovers podpeer
  [ ! -e /run/sdme/pods/rpod ]
}

@test "an enabled OCI application container starts at boot, its application in the pod made again" {
  for _ in $(seq 100); do
    [ "$(systemctl is-active sdme@appsurvivor.service)" = active ] && break
    sleep 0.2
  done
  run sdme ps
  assert_line --regexp '^appsurvivor +running +rweb \(app\) .* yes$'
  findmnt -n /run/sdme/pods/rapod/netns >/dev/null
  sdme create --pod=rapod apppeer
  sdme start apppeer
  run sdme exec apppeer curl -sf --retry 50 --retry-delay 0 --retry-all-errors --max-time 2 http://127.0.0.1:8090/
  assert_output "hello from sdme/web"
  sdme pod rm -f rapod
  assert_no_leftovers appsurvivor
  sdme fs rm rweb rbase
}
