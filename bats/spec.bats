#!/usr/bin/env bats
# The container spec: binds, env and limits on create and through io.sdme,
# `sdme set`, and state files of other versions.
load helpers

VL=/run/sdme/io.sdme
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

setup_file() {
  remove_all
  mkdir -p /srv/spec-rw /srv/spec-ro /srv/spec-host
  echo from-host >/srv/spec-ro/file
}
teardown_file() {
  remove_all
  rm -rf /srv/spec-rw /srv/spec-ro /srv/spec-host
}

# prop NAME PROPERTY: the value systemd has for the container's unit.
prop() { systemctl show -P "$2" "sdme@$1.service"; }

@test "binds: rw is writable, ro is read-only inside; both show the host's files" {
  run sdme create sb1 -b /srv/spec-rw:/data --bind /srv/spec-ro:/ro:ro
  assert_success
  sdme start sb1
  run sdme exec sb1 sh -c 'echo hi >/data/new && cat /data/new'
  assert_success
  assert_output hi
  [ "$(cat /srv/spec-rw/new)" = hi ]
  run sdme exec sb1 cat /ro/file
  assert_output from-host
  run sdme exec sb1 sh -c 'echo x >/ro/other'
  assert_failure
  assert_output --partial "Read-only file system"
  [ ! -e /srv/spec-ro/other ]
  run sdme exec sb1 findmnt -n -o OPTIONS /ro
  assert_output --regexp '(^|,)ro(,|$)'
  sdme rm -f sb1
}

@test "a bind on a host clone shows the host's directory, not the overlay's copy" {
  sdme create sb2 -b /srv/spec-host:/srv/spec-host
  sdme start sb2
  sdme exec sb2 sh -c 'echo inside >/srv/spec-host/w'
  # The write reached the host, not the container's upper layer.
  [ "$(cat /srv/spec-host/w)" = inside ]
  [ ! -e $DATADIR/containers/sb2/upper/srv/spec-host/w ]
  # And the host's later changes are seen inside at once.
  echo later >/srv/spec-host/late
  run sdme exec sb2 cat /srv/spec-host/late
  assert_output later
  sdme rm -f sb2
}

@test "env values with awkward characters reach PID 1 unchanged" {
  local v='two words "dq" '\''sq'\'' 100% $HOME ${X} back\slash'
  run sdme create se1 -e "AWK=$v" --env PLAIN=1 -e EMPTY=
  assert_success
  sdme start se1
  run sdme exec se1 sh -c 'tr "\0" "\n" </proc/1/environ'
  assert_line "AWK=$v"
  assert_line PLAIN=1
  assert_line EMPTY=
  [ "$(sdme ps --json | jq -r '.[] | select(.name=="se1") | .env[0]')" = "AWK=$v" ]
  sdme rm -f se1
}

@test "bad binds, env and limits are refused at create, naming the value; nothing is made" {
  local bad
  while IFS= read -r bad; do
    run --separate-stderr sdme create sbad $bad
    [ "$status" = 2 ] || fail "create $bad: status $status, $stderr"
    # It names the value as given, or for a size the field.
    local flag=${bad%% *}
    [[ "$stderr" == *"${bad#* }"* || "$stderr" == *"${flag#--}"* && "$flag" == --* ]] ||
      fail "create $bad: the error does not name it: $stderr"
    assert_no_leftovers sbad
  done <<'EOF'
-b /nonexistent-spec:/data
-b srv:/data
-b /srv/spec-rw:data
-b /srv/spec-rw/../spec-ro:/data
-b /srv/spec-rw:/a/../b
-b /srv/spec-rw
-b /srv/spec-rw:/data:rx
-b /srv/spec-rw:/
-e NOVALUE
-e 1BAD=x
-e BAD-NAME=x
-e A=1|2
--memory 12Q
--memory 1K
--memory -5
--cpus zero
--cpus 0.001
--cpus -1
--cpus 0.125
--cpu-weight 0
--cpu-weight 10001
--tasks-max many
--tasks-max 0
EOF
  # nspawn would read a backslash as an escape; the error quotes the path.
  run --separate-stderr sdme create sbad -b '/srv/spec\rw:/data'
  [ "$status" = 2 ]
  [[ "$stderr" == *'spec\\rw'*"'\\'"* ]]
  assert_no_leftovers sbad
  # A newline in a value cannot go through the here-document.
  run --separate-stderr sdme create sbad -e $'NL=a\nb'
  [ "$status" = 2 ]
  assert_no_leftovers sbad
  [ "$(sdme ps --json | jq length)" = 0 ]
}

@test "limits are properties of the unit; set changes them for the next start" {
  run sdme create sl1 --memory 512M --cpus 0.5 --cpu-weight 200 --tasks-max 300
  assert_success
  systemctl daemon-reload
  [ "$(prop sl1 MemoryMax)" = 536870912 ]
  [ "$(prop sl1 CPUQuotaPerSecUSec)" = 500ms ]
  [ "$(prop sl1 CPUWeight)" = 200 ]
  [ "$(prop sl1 TasksMax)" = 300 ]
  run --separate-stderr sdme set sl1 --memory 1G --cpus none
  assert_success
  [[ "$stderr" == *"apply when it starts"* ]]
  [ "$(prop sl1 MemoryMax)" = 1073741824 ]
  [ "$(prop sl1 CPUQuotaPerSecUSec)" = infinity ]
  [ "$(prop sl1 CPUWeight)" = 200 ]
  sdme start sl1
  [ "$(prop sl1 MemoryMax)" = 1073741824 ]
  [ "$(prop sl1 TasksMax)" = 300 ]
  run sdme ps --json
  [ "$(jq -c '.[] | select(.name=="sl1") | .limits' <<<"$output")" = '{"memory":1073741824,"cpuWeight":200,"tasksMax":300}' ]
}

@test "set on a running container applies at once, and survives a restart" {
  run --separate-stderr sdme set sl1 --memory 768M --tasks-max none --cpus 2
  assert_success
  [[ "$stderr" == *"running: the new limits apply now"* ]]
  [ "$(prop sl1 MemoryMax)" = 805306368 ]
  [ "$(prop sl1 TasksMax)" = 16384 ]
  [ "$(prop sl1 CPUQuotaPerSecUSec)" = 2s ]
  # Where the test host has the cgroup files, they hold the new values.
  local cg=/sys/fs/cgroup$(prop sl1 ControlGroup)
  if [ -e "$cg/memory.max" ]; then [ "$(cat "$cg/memory.max")" = 805306368 ]; fi
  if [ -e "$cg/pids.max" ]; then [ "$(cat "$cg/pids.max")" = 16384 ]; fi
  sdme restart sl1
  [ "$(prop sl1 MemoryMax)" = 805306368 ]
  [ "$(prop sl1 CPUQuotaPerSecUSec)" = 2s ]
  run sdme set sl1 --memory 1
  [ "$status" = 2 ]
  assert_output --partial "memory"
  run sdme set sl1
  [ "$status" = 2 ]
  sdme rm -f sl1
}

@test "a new container of the same name does not inherit run-time limits" {
  sdme create sl2 --memory 512M
  sdme set sl2 --memory 600M
  sdme rm sl2
  sdme create sl2
  systemctl daemon-reload
  [ "$(prop sl2 MemoryMax)" = infinity ]
  sdme rm sl2
}

@test "a state file written before the spec still starts" {
  sdme create old1
  # As issues 2-4 wrote it, and their drop-in (no TasksMax): start rewrites it.
  printf 'CREATED=1764300000\nENABLED=no\nMASKED_SERVICES=systemd-resolved.service\nNAME=old1\nOPAQUE_DIRS=/etc/systemd/system,/var/log\nROOTFS=\n' >$DATADIR/state/old1
  sed -i '/^TasksMax=/d' /etc/systemd/system/sdme@old1.service.d/sdme.conf
  run sdme start old1
  assert_success
  run sdme exec old1 systemctl is-system-running --wait
  assert_output --regexp '^(running|degraded)$'
  [ "$(prop old1 TasksMax)" = 16384 ]
  sdme rm -f old1
}

@test "a state file with settings this version does not know is refused at start, naming them" {
  sdme create unk1
  echo KUBE=yes >>$DATADIR/state/unk1
  echo KUBE_YAML_HASH=65536 >>$DATADIR/state/unk1
  run --separate-stderr sdme start unk1
  [ "$status" = 1 ]
  [[ "$stderr" == *"KUBE, KUBE_YAML_HASH"* ]]
  [ "$(systemctl is-active sdme@unk1.service)" != active ]
  run vl Start '{"name":"unk1"}'
  assert_failure
  assert_output --partial io.sdme.BadState
  # Listing and removing still work.
  run sdme ps
  assert_line --regexp '^unk1 +stopped'
  sdme rm unk1
  assert_no_leftovers unk1
}

@test "binds, env and limits through io.sdme: Create, List, SetLimits" {
  run vl Create '{"name":"svl","binds":[{"host":"/srv/spec-ro","container":"/ro","readOnly":true}],"env":["A=b c"],"limits":{"memory":536870912,"cpus":0.25}}'
  assert_success
  run vl List '{"name":"svl"}'
  assert_success
  [ "$(jq -c .container.binds <<<"$output")" = '[{"host":"/srv/spec-ro","container":"/ro","readOnly":true}]' ]
  [ "$(jq -c .container.env <<<"$output")" = '["A=b c"]' ]
  # varlinkctl writes floats in exponent form (2.5...e-01): compare numbers.
  [ "$(jq -c '.container.limits | [.memory, .cpus == 0.25, .cpuWeight]' <<<"$output")" = '[536870912,true,null]' ]
  # The CLI sees the same.
  [ "$(sdme ps --json | jq -c '.[] | select(.name=="svl") | .limits')" = '{"memory":536870912,"cpus":0.25}' ]
  run vl SetLimits '{"name":"svl","memory":0,"cpuWeight":50}'
  assert_success
  assert_output '{"running":false}'
  [ "$(prop svl MemoryMax)" = infinity ]
  [ "$(prop svl CPUWeight)" = 50 ]
  sdme start svl
  run sdme exec svl cat /ro/file
  assert_output from-host
  run vl SetLimits '{"name":"svl","tasksMax":500}'
  assert_output '{"running":true}'
  [ "$(prop svl TasksMax)" = 500 ]
  sdme rm -f svl
}

@test "io.sdme refuses bad spec values as the CLI does, and creates nothing" {
  local p
  for p in '"binds":[{"host":"/nonexistent-spec","container":"/d"}]' '"env":["1X=y"]' '"env":["A=x\ny"]' \
    '"limits":{"cpuWeight":20000}' '"limits":{"memory":1}' '"opaqueDirs":["relative"]'; do
    run vl Create "{\"name\":\"svbad\",$p}"
    assert_failure
    assert_output --partial io.sdme.InvalidArgument
    assert_no_leftovers svbad
  done
  run vl Create '{"name":"svbad","limits":{"memory":-1}}'
  assert_failure
  assert_output --partial InvalidParameter
  sdme create svok
  run vl SetLimits '{"name":"svok","cpus":0.001}'
  assert_output --partial io.sdme.InvalidArgument
  run vl SetLimits '{"name":"nosuch","cpus":1}'
  assert_output --partial io.sdme.NoSuchContainer
  sdme rm svok
}

@test "enable refuses what start refuses; rm removes a boot link the state does not know" {
  sdme create unk2
  echo HAS_PROBES=yes >>$DATADIR/state/unk2
  run --separate-stderr sdme enable unk2
  [ "$status" = 1 ]
  [[ "$stderr" == *HAS_PROBES* ]]
  [ ! -e /etc/systemd/system/machines.target.wants/sdme@unk2.service ]
  sdme rm unk2
  # An enable killed before it wrote the state: the link exists, the state
  # says not enabled.
  sdme create en1
  systemctl enable sdme@en1.service
  grep -q ENABLED=no $DATADIR/state/en1
  sdme rm en1
  [ ! -e /etc/systemd/system/machines.target.wants/sdme@en1.service ]
}

@test "a run-time limit left behind (a set killed midway) does not outlast the spec" {
  sdme create sl3 --memory 512M
  sdme start sl3
  systemctl set-property --runtime sdme@sl3.service MemoryMax=700M CPUWeight=5
  [ "$(prop sl3 MemoryMax)" = 734003200 ]
  # The drop-in sets every limit and sorts after systemd's 50-*.conf.
  systemctl daemon-reload
  sdme restart sl3
  [ "$(prop sl3 MemoryMax)" = 536870912 ]
  [ "$(prop sl3 CPUWeight)" = "[not set]" ] || [ "$(prop sl3 CPUWeight)" = 100 ]
  sdme rm -f sl3
}

@test "env values are root's: the drop-in is 0600, and other users list names only" {
  sdme create se2 -e SECRET=hunter2 -e OTHER=x
  [ "$(stat -c %a /etc/systemd/system/sdme@se2.service.d/sdme.conf)" = 600 ]
  run --separate-stderr sudo -u tester varlinkctl call --json=short "$VL" io.sdme.List '{"name":"se2"}'
  assert_success
  [ "$(jq -c .container.env <<<"$output")" = '["SECRET","OTHER"]' ]
  refute_output --partial hunter2
  run vl List '{"name":"se2"}'
  [ "$(jq -c .container.env <<<"$output")" = '["SECRET=hunter2","OTHER=x"]' ]
  sdme rm se2
}

@test "a bound path that is gone fails the start as the container's state, naming it" {
  mkdir -p /srv/spec-gone
  sdme create sg1 -b /srv/spec-gone:/gone
  rmdir /srv/spec-gone
  run --separate-stderr sdme start sg1
  [ "$status" = 1 ]
  [[ "$stderr" == *"/srv/spec-gone"*"does not exist"* ]]
  run vl Start '{"name":"sg1"}'
  assert_output --partial io.sdme.BadState
  sdme rm sg1
}

# bit N of the hexadecimal capability mask in /proc/1/status field $2 of
# container $1: 1 if the capability is in it.
capbit() {
  local mask
  mask=$(sdme exec "$1" awk -v f="$2:" '$1 == f {print $2}' /proc/1/status)
  echo $(( (0x$mask >> $3) & 1 ))
}

@test "security options: capabilities dropped and added, no new privileges, a read-only root, a system call filter" {
  sdme create sec0
  sdme create sec1 --drop-capability net_raw --capability CAP_SYS_TIME --no-new-privileges \
    --read-only --system-call-filter '~sethostname' --system-call-filter '~@swap'
  sdme start sec0 sec1
  # CAP_NET_RAW is 13, CAP_SYS_TIME 25: in nspawn's default set, and not.
  [ "$(capbit sec0 CapBnd 13)" = 1 ] && [ "$(capbit sec1 CapBnd 13)" = 0 ]
  [ "$(capbit sec0 CapBnd 25)" = 0 ] && [ "$(capbit sec1 CapBnd 25)" = 1 ]
  run sdme exec sec0 awk '$1 == "NoNewPrivs:" {print $2}' /proc/1/status
  assert_output 0
  run sdme exec sec1 awk '$1 == "NoNewPrivs:" {print $2}' /proc/1/status
  assert_output 1
  # The filtered system call fails; without the filter it works.
  sdme exec sec0 hostname changed0
  run sdme exec sec1 hostname changed1
  assert_failure
  # The root is read-only, /run (a tmpfs) is not.
  sdme exec sec0 touch /usr/sec-ok
  run sdme exec sec1 touch /usr/sec-nope
  assert_failure
  sdme exec sec1 touch /run/sec-ok
  run sdme ps --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="sec1") | [.dropCapabilities, .capabilities, .noNewPrivileges, .readOnly, .systemCallFilter]')" = \
    '[["CAP_NET_RAW"],["CAP_SYS_TIME"],true,true,["~sethostname","~@swap"]]' ]
  grep -qx 'DROP_CAPS=CAP_NET_RAW' $DATADIR/state/sec1
  sdme rm -f sec0 sec1
}

@test "bad security options are refused at create, naming the value" {
  for bad in "--drop-capability CAP_FLY" "--capability nope" "--system-call-filter @nonsense" \
      "--system-call-filter ~" "--drop-capability net_raw --capability CAP_NET_RAW"; do
    run sdme create secbad $bad
    assert_failure 2
    [[ "$output" == *FLY* || "$output" == *nope* || "$output" == *nonsense* || "$output" == *'"~"'* || "$output" == *CAP_NET_RAW* ]]
    [ ! -e "$DATADIR/state/secbad" ]
  done
  # The test host's kernel has no AppArmor: a profile is refused, saying so.
  [ ! -e /sys/kernel/security/apparmor/profiles ]
  run sdme create secbad --apparmor-profile sdme-default
  assert_failure 2
  assert_output --partial 'apparmor-profile "sdme-default": this kernel has no AppArmor'
  run sdme create secbad --apparmor-profile '../x'
  assert_failure 2
  assert_output --partial "a profile name is"
  [ ! -e "$DATADIR/state/secbad" ]
  run vl Create '{"name":"secbad","systemCallFilter":["@nonsense"]}'
  assert_output --partial io.sdme.InvalidArgument
  run vl Create '{"name":"secvl","readOnly":true,"dropCapabilities":["sys_ptrace"]}'
  assert_success
  run vl List '{"name":"secvl"}'
  [ "$(echo "$output" | jq -c '[.container.readOnly, .container.dropCapabilities]')" = '[true,["CAP_SYS_PTRACE"]]' ]
  sdme rm secvl
}
