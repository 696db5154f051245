# io.sdme over varlink: the real sdme.socket and sdme.service (installed by
# install-sdme.sh), driven by the real varlinkctl.
load helpers

VL=/run/sdme/io.sdme

setup_file() {
  remove_all
  make_fixtures
}

setup() { use_fixtures; }
teardown() { remove_everything; }

# seq: varlinkctl --more prints JSON-SEQ; drop the record separators.
records() { tr -d '\036'; }

# vl METHOD [JSON]: varlinkctl call, short JSON on stdout.
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

@test "varlinkctl info and introspect; the interface file validates" {
  run varlinkctl info "$VL"
  assert_success
  assert_output --partial io.sdme
  run varlinkctl introspect "$VL" io.sdme
  assert_success
  assert_output --partial "method ImportRootfs("
  run varlinkctl validate-idl /src/io.sdme.varlink
  assert_success
}

@test "create, start, list, stop, remove through varlink; the CLI sees the same state" {
  run vl Create '{"name":"vl1"}'
  assert_success
  assert_output '{"name":"vl1"}'
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="vl1") | .state')" = stopped ]
  run vl Start '{"name":"vl1"}'
  assert_success
  run sdme exec vl1 systemctl is-system-running --wait
  assert_output --regexp '^(running|degraded)$'
  # One definition: the reply's container is what ps --json prints.
  [ "$(vl List '{"name":"vl1"}' | jq -cS .container)" = "$(sdme ps --json | jq -cS '.[] | select(.name=="vl1")')" ]
  sdme create vl2
  run varlinkctl call --more --json=short "$VL" io.sdme.List '{}'
  assert_success
  [ "$(echo "$output" | records | jq -r '.container.name' | sort | tr '\n' ' ')" = "vl1 vl2 " ]
  run vl Restart '{"name":"vl1"}'
  assert_success
  run vl Stop '{"name":"vl1","mode":"term"}'
  assert_success
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="vl1") | .state')" = stopped ]
  run vl Enable '{"name":"vl2"}'
  assert_success
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="vl2") | .enabled')" = true ]
  run vl Disable '{"name":"vl2"}'
  assert_success
  run vl Remove '{"name":"vl1"}'
  assert_success
  assert_no_leftovers vl1
}

@test "errors have systemd-style names, and bad parameters name the field" {
  sdme create vlerr
  run vl Start '{"name":"nosuch"}'
  assert_failure
  assert_output --partial io.sdme.NoSuchContainer
  run vl Create '{"name":"vlerr"}'
  assert_failure
  assert_output --partial io.sdme.ContainerExists
  run vl Create '{"name":"Bad_Name"}'
  assert_failure
  assert_output --partial io.sdme.InvalidName
  run vl Create '{"rootfs":"nosuch"}'
  assert_failure
  assert_output --partial io.sdme.NoSuchRootfs
  run vl Start '{"nmae":"vlerr"}'
  assert_failure
  assert_output --partial org.varlink.service.InvalidParameter
  assert_output --partial nmae
  run vl Start '{"name":5}'
  assert_failure
  assert_output --partial '"parameter":"name"'
  run vl Start '{}'
  assert_failure
  assert_output --partial '"parameter":"name"'
  run vl Stop '{"name":"vlerr","mode":"nicely"}'
  assert_failure
  assert_output --partial '"parameter":"mode"'
  run varlinkctl call "$VL" io.sdme.List '{}'
  assert_failure
  assert_output --partial org.varlink.service.ExpectedMore
  run vl NoSuchMethod
  assert_failure
  assert_output --partial org.varlink.service.MethodNotFound
  run vl RemoveRootfs '{"name":"nosuch"}'
  assert_failure
  assert_output --partial io.sdme.NoSuchRootfs
  # advice is worded for clients, as a method: never as the CLI's commands
  : > "$DATADIR/state/vlhalf"
  run vl Start '{"name":"vlhalf"}'
  assert_failure
  assert_output --partial io.sdme.BadState
  assert_output --partial 'remove it with Remove'
  refute_output --partial 'sdme '
  run sdme start vlhalf
  assert_output --partial "remove it with 'sdme rm vlhalf'"
  vl Remove '{"name":"vlhalf"}'
}

@test "a call without parameters means {} (as systemd 259 clients send it)" {
  run bash -c "printf '{\"method\":\"io.sdme.GetConfig\"}\0' | socat -t 5 - UNIX-CONNECT:$VL | tr -d '\0'"
  assert_success
  assert_output --partial '"datadir":"/var/lib/sdme"'
}

@test "settings: GetConfig is config get --json; SetConfig is config set" {
  [ "$(vl GetConfig | jq -cS .)" = "$(sdme config get --json | jq -cS .)" ]
  run vl SetConfig '{"key":"boot_timeout","value":"77"}'
  assert_success
  [ "$(sdme config get boot_timeout)" = 77 ]
  run vl SetConfig '{"key":"boot_timeout","value":"soon"}'
  assert_failure
  assert_output --partial io.sdme.InvalidArgument
  sdme config set boot_timeout 60
}

@test "import from the local registry streams progress with --more; fs ls --json has the same shape" {
  run varlinkctl call --more --json=short "$VL" io.sdme.ImportRootfs "{\"source\":\"$FIX_REGISTRY/sdme/small\",\"name\":\"vlimp\",\"ociMode\":\"base\"}"
  assert_success
  assert_output --partial '"progress":'
  assert_output --partial '"log":{"message":'
  [ "$(echo "$output" | records | tail -1 | jq -r .rootfs.name)" = vlimp ]
  [ "$(vl ListRootfs '{"name":"vlimp"}' | jq -cS .rootfs)" = "$(sdme fs ls --json | jq -cS '.[] | select(.name=="vlimp")')" ]
  run vl ImportRootfs "{\"source\":\"$FIX_REGISTRY/sdme/small\",\"name\":\"vlimp\"}"
  assert_failure
  assert_output --partial io.sdme.RootfsExists
  run vl ImportRootfs "{\"source\":\"$FIX_REGISTRY/sdme/small:nosuchtag\",\"name\":\"vlimp2\"}"
  assert_failure
  assert_output --partial io.sdme.TransferFailed
  sdme create -r vlimp vlc
  run vl RemoveRootfs '{"name":"vlimp"}'
  assert_failure
  assert_output --partial io.sdme.RootfsInUse
  sdme rm vlc
  run vl RemoveRootfs '{"name":"vlimp"}'
  assert_success
}

@test "a client that hangs up mid-import: the import still completes" {
  timeout 0.3 varlinkctl call --more "$VL" io.sdme.ImportRootfs "{\"source\":\"$FIX_HTTP/slow/small.tar.gz\",\"name\":\"vlslow\"}" >/dev/null 2>&1 || true
  for _ in $(seq 100); do [ -d "$DATADIR/fs/vlslow" ] && break; sleep 0.2; done
  [ -d "$DATADIR/fs/vlslow" ] || fail "the import did not finish"
  run bash -c "ls -A $DATADIR/fs | grep -E '^\.vlslow\.import-' || true"
  assert_output ""
}

@test "a non-root caller may list but not change anything" {
  sdme create vlro
  run sudo -u tester varlinkctl call --more --json=short "$VL" io.sdme.List '{}'
  assert_success
  assert_output --partial vlro
  run sudo -u tester varlinkctl call "$VL" io.sdme.Remove '{"name":"vlro"}'
  assert_failure
  assert_output --partial org.varlink.service.PermissionDenied
  run sudo -u tester varlinkctl call "$VL" io.sdme.SetConfig '{"key":"boot_timeout","value":"5"}'
  assert_failure
  assert_output --partial PermissionDenied
  [ -e "$DATADIR/state/vlro" ]
}

@test "malformed and oversized messages cost only their own connection" {
  printf '{garbage\0' | socat -t 2 - UNIX-CONNECT:$VL || true
  head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' a | socat -t 2 - UNIX-CONNECT:$VL >/dev/null 2>&1 || true
  for i in $(seq 300); do socat -u /dev/null UNIX-CONNECT:$VL & done 2>/dev/null
  wait
  run varlinkctl info "$VL"
  assert_success
  run vl GetConfig
  assert_success
}

@test "the service exits when idle, and the socket starts it again" {
  mkdir -p /run/systemd/system/sdme.service.d
  printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/sdme varlink --idle-timeout=2s\n' > /run/systemd/system/sdme.service.d/idle.conf
  systemctl daemon-reload
  systemctl stop sdme.service
  run vl GetConfig
  assert_success
  [ "$(systemctl is-active sdme.service)" = active ]
  s=
  for _ in $(seq 50); do
    s=$(systemctl is-active sdme.service || true)
    [ "$s" = inactive ] && break
    sleep 0.2
  done
  assert_equal "$s" inactive
  run vl GetConfig
  assert_success
  rm -r /run/systemd/system/sdme.service.d
  systemctl daemon-reload
}

@test "varlinkctl can run sdme itself (the exec: transport)" {
  run varlinkctl call --json=short /usr/local/bin/sdme io.sdme.GetConfig '{}'
  assert_success
  assert_output --partial '"datadir":"/var/lib/sdme"'
}

@test "a slow import does not hold up other clients; stopping the service cancels it cleanly" {
  sdme create vlbusy
  varlinkctl call -E "$VL" io.sdme.ImportRootfs "{\"source\":\"$FIX_HTTP/slow/base.tar.zst\",\"name\":\"vlbig\"}" >/dev/null 2>&1 &
  for _ in $(seq 100); do ls -A "$DATADIR/fs" 2>/dev/null | grep -q '^\.vlbig\.import-' && break; sleep 0.1; done
  t0=$(date +%s%N)
  run varlinkctl call --json=short "$VL" io.sdme.List '{"name":"vlbusy"}'
  t1=$(date +%s%N)
  assert_success
  assert_output --partial '"name":"vlbusy"'
  [ $(( (t1 - t0) / 1000000 )) -lt 2000 ] || fail "List took $(( (t1 - t0) / 1000000 )) ms during an import"
  systemctl stop sdme.service
  wait || true
  [ ! -e "$DATADIR/fs/vlbig" ]
  run bash -c "ls -A $DATADIR/fs | grep -E '^\.vlbig\.' || true"
  assert_output ""
}

@test "two clients changing one container are serialised: the second is told it is busy" {
  sdme create vlc2
  vl GetConfig >/dev/null   # the service is up
  vl Start '{"name":"vlc2"}' >/dev/null 2>&1 &
  # Start holds the container's lock until the boot is done.
  for _ in $(seq 100); do [ "$(systemctl is-active sdme@vlc2.service)" = activating ] && break; sleep 0.02; done
  run vl Start '{"name":"vlc2"}'
  wait
  assert_failure
  assert_output --partial io.sdme.Busy
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="vlc2") | .state')" = running ]
}
