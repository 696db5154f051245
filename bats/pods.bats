#!/usr/bin/env bats
# Pods: network namespaces that containers share (sdme pod, sdme-pod,
# --pod, io.sdme's pod methods).
load helpers

VL=/run/sdme/io.sdme
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

remove_pods() {
  local p
  for p in $(ls "$DATADIR/pods" 2>/dev/null); do sdme pod rm -f "$p" >/dev/null 2>&1 || true; done
}

setup_file() { remove_all; remove_pods; }
teardown() { remove_all; remove_pods; ip link del sdme-podt 2>/dev/null || true; }

# links NAME: the network devices container NAME sees, by netlink (its
# /sys/class/net lists the host's: nspawn mounts sysfs as for the host's
# network when it joins a namespace by path).
links() { sdme exec "$1" ip -o link | awk -F': ' '{print $2}'; }

# serve NAME PORT: an HTTP server on the container's 127.0.0.1, serving
# /srv/www/index.txt (NAME), as a service of the guest's own systemd.
serve() {
  sdme exec "$1" sh -c "mkdir -p /srv/www && echo hello-from-$1 > /srv/www/index.txt"
  sdme exec "$1" systemd-run --unit=podweb python3 -m http.server "$2" --bind 127.0.0.1 --directory /srv/www
}

# fetch_from NAME PORT: NAME asks 127.0.0.1:PORT, retrying while the
# server starts.
fetch_from() {
  local i
  for i in $(seq 50); do
    sdme exec "$1" curl -sf --max-time 2 "http://127.0.0.1:$2/index.txt" && return 0
    sleep 0.2
  done
  return 1
}

@test "pod new makes a network namespace with loopback up; ls and ls --json list it" {
  run sdme pod new p1
  assert_success
  assert_output p1
  findmnt -n /run/sdme/pods/p1/netns >/dev/null
  nsenter --net=/run/sdme/pods/p1/netns ip -o link show lo | grep -q 'LOOPBACK,UP'
  [ "$(nsenter --net=/run/sdme/pods/p1/netns ip -o link | wc -l)" = 1 ]
  [ "$(stat -c %a "$DATADIR/pods")" = 700 ]
  [ "$(stat -c %a /run/sdme/pods)" = 700 ]
  [ "$(stat -c %a /run/sdme)" = 755 ]
  run sdme pod ls
  assert_success
  assert_line --regexp '^p1 +yes +- +[0-9]{4}-'
  run sdme pod ls --json
  assert_success
  [ "$(echo "$output" | jq -c '[.[] | {name, active, containers}]')" = '[{"name":"p1","active":true,"containers":[]}]' ]
  echo "$output" | jq -e '.[0].created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' >/dev/null
  run sdme pod new p1
  assert_failure
  assert_output --partial 'pod "p1": already exists'
  run sdme pod new Bad
  assert_failure
  assert_output --partial Bad
  [ ! -e "$DATADIR/pods/Bad" ]
}

@test "two containers in a pod talk over 127.0.0.1, which the host does not share" {
  ip link add sdme-podt type veth peer name sdme-podtp
  sdme pod new web
  sdme create --pod=web pa
  sdme create --pod=web pb
  sdme start pa pb
  serve pa 8123
  run fetch_from pb 8123
  assert_success
  assert_output hello-from-pa
  # The pod's network is loopback alone, and not the host's.
  run links pa
  assert_output lo
  run curl -sf --max-time 2 http://127.0.0.1:8123/index.txt
  assert_failure
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="pa") | .pod')" = web ]
  grep -q -- '--network-namespace-path=/run/sdme/pods/web/netns' /etc/systemd/system/sdme@pa.service.d/sdme.conf
  run sdme pod ls --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="web") | .containers')" = '["pa","pb"]' ]
}

@test "pod rm is refused while containers are in the pod, naming them; -f removes them first" {
  sdme pod new busy
  sdme create --pod=busy ua
  sdme create --pod=busy ub
  sdme start ua
  run sdme pod rm busy
  assert_failure
  assert_output --partial 'pod "busy": used by containers ua, ub'
  assert_output --partial -- --force
  [ -d "$DATADIR/pods/busy" ]
  findmnt -n /run/sdme/pods/busy/netns >/dev/null
  run sdme pod rm -f busy
  assert_success
  assert_output busy
  assert_no_leftovers ua
  assert_no_leftovers ub
  [ ! -e "$DATADIR/pods/busy" ]
  [ ! -e /run/sdme/pods/busy ]
  run sdme pod rm busy
  assert_failure
  assert_output --partial 'pod "busy": not found'
}

@test "an unknown or invalid pod is refused at create, naming it" {
  run sdme create --pod=nopod x1
  assert_failure
  assert_output --partial 'pod "nopod": not found'
  assert_output --partial "sdme pod ls"
  assert_no_leftovers x1
  run sdme new --pod=Bad-Pod x2
  assert_failure
  assert_output --partial 'Bad-Pod'
  assert_no_leftovers x2
}

@test "a container of a pod makes the pod's namespace again if it is gone (as after a reboot)" {
  sdme pod new gone
  sdme create --pod=gone g1
  umount /run/sdme/pods/gone/netns
  rm -rf /run/sdme/pods/gone
  [ "$(sdme pod ls --json | jq -r '.[] | select(.name=="gone") | .active')" = false ]
  sdme start g1
  [ "$(sdme pod ls --json | jq -r '.[] | select(.name=="gone") | .active')" = true ]
  run links g1
  assert_output lo
  run sdme exec g1 ip -o link show lo
  assert_output --partial LOOPBACK,UP
}

@test "the sdme-pod applet is sdme pod" {
  [ "$(readlink /usr/local/bin/sdme-pod)" = sdme ]
  run sdme-pod new ap1
  assert_success
  assert_output ap1
  run sdme-pod ls
  assert_line --regexp '^ap1 +yes'
  run sdme-pod --help
  assert_output --partial 'sdme-pod [command]'
  run sdme-pod rm ap1
  assert_success
  run sdme-pod ls --json
  assert_output '[]'
}

@test "io.sdme: CreatePod, ListPods, RemovePod, and Create with a pod" {
  run vl CreatePod '{"name":"vp"}'
  assert_success
  [ "$(echo "$output" | jq -c '.pod | {name, active, containers}')" = '{"name":"vp","active":true,"containers":[]}' ]
  run vl CreatePod '{"name":"vp"}'
  assert_failure
  assert_output --partial io.sdme.PodExists
  run vl CreatePod '{"name":"Vp"}'
  assert_output --partial io.sdme.InvalidName
  run vl Create '{"name":"vc","pod":"vp"}'
  assert_success
  [ "$(vl List '{"name":"vc"}' | jq -r .container.pod)" = vp ]
  run vl Create '{"name":"vc2","pod":"nope"}'
  assert_failure
  assert_output --partial io.sdme.NoSuchPod
  assert_no_leftovers vc2
  # One definition: ListPods's pod is what pod ls --json prints.
  [ "$(vl ListPods '{"name":"vp"}' | jq -cS .pod)" = "$(sdme pod ls --json | jq -cS '.[] | select(.name=="vp")')" ]
  [ "$(vl ListPods '{"name":"vp"}' | jq -c .pod.containers)" = '["vc"]' ]
  sdme pod new vq
  run varlinkctl call --more --json=short "$VL" io.sdme.ListPods '{}'
  assert_success
  [ "$(echo "$output" | tr -d '\036' | jq -r .pod.name | tr '\n' ' ')" = "vp vq " ]
  run vl ListPods
  assert_failure
  run vl RemovePod '{"name":"vp"}'
  assert_failure
  assert_output --partial io.sdme.PodInUse
  assert_output --partial 'used by container vc'
  run vl RemovePod '{"name":"vp","force":true}'
  assert_success
  assert_no_leftovers vc
  run vl ListPods '{"name":"vp"}'
  assert_failure
  assert_output --partial io.sdme.NoSuchPod
  run vl RemovePod '{"name":"vq"}'
  assert_success
  run varlinkctl call --more --json=short "$VL" io.sdme.ListPods '{}'
  assert_output --partial io.sdme.NoSuchPod
  # Reading is open to every user; changing is not.
  sdme pod new vr
  run sudo -u tester varlinkctl call --json=short "$VL" io.sdme.RemovePod '{"name":"vr"}'
  assert_failure
  run sudo -u tester varlinkctl call --json=short "$VL" io.sdme.CreatePod '{"name":"vs"}'
  assert_failure
  [ ! -e "$DATADIR/pods/vs" ]
}
