#!/usr/bin/env bats
# The container lifecycle on host clones, against the test host's systemd.
load helpers

setup_file() { remove_all; }
teardown_file() { remove_all; }

@test "create prints the name on stdout and leaves a stopped container" {
  run --separate-stderr sdme create life1
  assert_success
  assert_output life1
  [ "$stderr" = "creating 'life1'" ]
  run sdme ps
  assert_line --regexp '^life1 +stopped +/ \(host\) '
  [ -d $DATADIR/containers/life1/upper ]
  run systemctl is-active sdme@life1.service
  assert_output inactive
}

@test "start boots systemd to running; machinectl lists it" {
  run --separate-stderr sdme start life1
  assert_success
  assert_output life1
  run sdme exec life1 systemctl is-system-running
  assert_output running
  run sdme exec life1 cat /proc/1/comm
  assert_output systemd
  run machinectl list --no-legend
  assert_output --partial life1
  run sdme ps --json
  assert_success
  [ "$(jq -r '.[] | select(.name=="life1") | .state' <<<"$output")" = running ]
  [ "$(jq -r '.[] | select(.name=="life1") | .rootfs' <<<"$output")" = "" ]
}

@test "starting a running container does nothing" {
  run --separate-stderr sdme start life1
  assert_success
  run sdme ps
  assert_line --regexp '^life1 +running'
}

@test "the clone is a machine of its own: hostname, machine-id, fstab, D-Bus, units" {
  run sdme exec life1 hostname
  assert_output life1
  host_id=$(cat /etc/machine-id)
  run sdme exec life1 cat /etc/machine-id
  assert_success
  [ -n "$output" ] && [ "$output" != "$host_id" ]
  run sdme exec life1 grep -vc '^#' /etc/fstab
  assert_output 0
  run sdme exec life1 busctl --no-pager get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager Version
  assert_output --partial '"257'
  run sdme exec life1 systemctl is-enabled systemd-resolved.service
  assert_output --partial masked
}

@test "writes inside the container leave the host unchanged" {
  sdme exec life1 sh -c 'echo inside > /etc/sdme-cow-test; rm -f /etc/debian_version; echo x > /src/sdme-cow-test'
  [ ! -e /etc/sdme-cow-test ]
  [ -e /etc/debian_version ]
  [ ! -e /src/sdme-cow-test ]
  [ "$(cat $DATADIR/containers/life1/upper/etc/sdme-cow-test)" = inside ]
  run sdme exec life1 cat /etc/sdme-cow-test
  assert_output inside
}

@test "separate host filesystems below / are visible, copy-on-write" {
  # /src is a filesystem of its own in the test host (a bind mount).
  run sdme exec life1 cat /src/bats/helpers.bash
  assert_success
  run sdme exec life1 test -e /src/sdme-cow-test
  assert_success
  [ -e $DATADIR/containers/life1/submounts/src/upper/sdme-cow-test ]
}

@test "opaque directories start empty; the lower's units and logs do not leak" {
  run sdme exec life1 sh -c 'ls /var/log | wc -l'
  [ "$output" -lt 5 ]
  run sdme exec life1 test -e /etc/systemd/system/timers.target.wants/apt-daily.timer
  assert_failure
}

@test "stop halts the guest and unmounts the overlay" {
  run --separate-stderr sdme stop life1
  assert_success
  assert_output life1
  run sdme ps
  assert_line --regexp '^life1 +stopped'
  ! grep -q /containers/life1/merged /proc/self/mountinfo
  run machinectl list --no-legend
  refute_output --partial life1
  # state survives the stop
  sdme start life1
  run sdme exec life1 cat /etc/sdme-cow-test
  assert_output inside
}

@test "stop --term and stop --kill" {
  run sdme stop --term life1
  assert_success
  run systemctl is-active sdme@life1.service
  assert_output inactive
  sdme start life1
  run sdme stop --kill life1
  assert_success
  run sdme ps
  assert_line --regexp '^life1 +stopped'
  ! grep -q /containers/life1/merged /proc/self/mountinfo
  run sdme stop --term --kill life1
  assert_failure 2
}

@test "stopping a stopped container succeeds" {
  run --separate-stderr sdme stop life1
  assert_success
}

@test "restart boots the container again" {
  sdme start life1
  old=$(machinectl show life1 -p Leader --value)
  run sdme restart life1
  assert_success
  new=$(machinectl show life1 -p Leader --value)
  [ -n "$new" ] && [ "$new" != "$old" ]
  run sdme exec life1 systemctl is-system-running
  assert_output running
}

@test "rm stops a running container and removes everything" {
  run --separate-stderr sdme rm life1
  assert_success
  assert_output life1
  assert_no_leftovers life1
  run machinectl list --no-legend
  refute_output --partial life1
}

@test "new without a name makes one up, boots and runs the command" {
  run --separate-stderr sdme new -- hostname
  assert_success
  name=${lines[0]}
  [[ "$name" =~ ^[a-z][a-z0-9-]*$ ]]
  [ "${lines[1]}" = "$name" ]
  [[ "$stderr" == *"creating '$name'"* ]]
  [[ "$stderr" == *"starting '$name'"* ]]
  [[ "$stderr" == *"joining '$name'"* ]]
  run sdme ps
  assert_line --regexp "^$name +running"
  sdme rm -f "$name"
}

@test "new keeps the container when the command fails, and exits with its status" {
  run sdme new keep1 -- sh -c 'exit 3'
  assert_failure 3
  run sdme ps
  assert_line --regexp '^keep1 +running'
  sdme rm -f keep1
}

@test "new removes the container when it cannot boot" {
  # An opaque /usr leaves the clone without an init.
  run sdme new broken1 -o /usr -- true
  assert_failure
  assert_output --partial "failed to boot"
  assert_output --partial "removing 'broken1'"
  assert_no_leftovers broken1
}

@test "start of a container that cannot boot says why, shows its log and keeps it" {
  sdme create broken2 -o /usr
  run sdme start broken2
  assert_failure 1
  assert_output --partial "container \"broken2\" failed to boot"
  assert_output --partial "log lines"
  run sdme ps
  assert_line --regexp '^broken2 +(failed|stopped)'
  ! grep -q /containers/broken2/merged /proc/self/mountinfo
  sdme rm broken2
  assert_no_leftovers broken2
}

@test "start waits at most the timeout" {
  sdme create slow1
  # A boot that never finishes: the guest's systemd waits for a job that hangs.
  mkdir -p $DATADIR/containers/slow1/upper/etc/systemd/system/multi-user.target.wants
  printf '[Unit]\nBefore=multi-user.target\n[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n' \
    > $DATADIR/containers/slow1/upper/etc/systemd/system/hang.service
  ln -s ../hang.service $DATADIR/containers/slow1/upper/etc/systemd/system/multi-user.target.wants/hang.service
  run sdme start -t 3 slow1
  assert_failure
  assert_output --partial "did not boot within 3s"
  run systemctl is-active sdme@slow1.service
  refute_output active
  sdme rm slow1
  assert_no_leftovers slow1
}

@test "logs shows the container's boot" {
  sdme create logs1
  sdme start logs1
  run sdme logs logs1
  assert_success
  assert_output --partial "logs1"
  run sdme logs logs1 -n 2
  [ "${#lines[@]}" -le 3 ]
  sdme stop logs1
  run sdme logs logs1
  assert_success
  timeout 2 sdme logs -f logs1 > /tmp/logs-follow || true
  [ -s /tmp/logs-follow ]
  sdme rm logs1
}
