#!/usr/bin/env bats
# User namespaces and the hardened and strict profiles: what a process
# inside sees of its capabilities, privileges, IDs, system calls, root and
# network; files owned correctly on imported rootfs and host clones; an
# OCI application under --strict. The test host's kernel has no AppArmor.
load helpers

VL=/run/sdme/io.sdme
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

setup_file() {
  make_fixtures
  use_fixtures
  remove_everything
  sdme config set default_base_fs ''
  sdme fs import -q base "$FIX_IMG_BASE" >/dev/null
  mkdir -p /srv/userns-bind
  echo from-host >/srv/userns-bind/file
  chown 1000:1000 /srv/userns-bind /srv/userns-bind/file
}
setup() { use_fixtures; }
teardown() { remove_all; }
teardown_file() {
  remove_everything
  rm -rf /srv/userns-bind
}

# status NAME FIELD: a field of /proc/1/status inside container NAME.
status() { sdme exec "$1" awk -v f="$2:" '$1 == f {print $2}' /proc/1/status; }
# capbit NAME N: bit N of the container's capability bounding set.
capbit() { echo $(( (0x$(status "$1" CapBnd) >> $2) & 1 )); }
# uffd NAME: what userfaultfd for user-mode faults, which needs no
# privilege, gives inside container NAME: "ok", or the error.
uffd() {
  local nr
  case $(uname -m) in x86_64) nr=323 ;; aarch64) nr=282 ;; *) echo "no userfaultfd number for $(uname -m)"; return 1 ;; esac
  sdme exec "$1" perl -e "\$r = syscall($nr, 1); print \$r < 0 ? \"\$!\" : \"ok\""
}
# shift NAME: the host UID of the container's root.
shift_of() { sdme exec "$1" awk '{print $2}' /proc/self/uid_map; }

@test "--userns on an imported rootfs: root is an unprivileged host user, files are owned right inside, the rootfs is untouched" {
  sdme create -r base --userns --bind /srv/userns-bind:/data u1
  sdme create -r base plain1
  sdme start u1 plain1
  run sdme exec u1 cat /proc/self/uid_map
  assert_output --regexp '^ +0 +[0-9]+ +65536$'
  shift=$(shift_of u1)
  [ "$shift" -ge 524288 ] && [ $((shift % 65536)) = 0 ]
  grep -qx "USERNS_SHIFT=$shift" "$DATADIR/state/u1"
  # The image's files and sdme's own are root's inside...
  run sdme exec u1 stat -c '%u:%g %n' / /etc/passwd /etc/hostname /etc/machine-id /usr/bin/passwd
  assert_output "$(printf '0:0 /\n0:0 /etc/passwd\n0:0 /etc/hostname\n0:0 /etc/machine-id\n0:0 /usr/bin/passwd')"
  run sdme exec u1 stat -c %A /usr/bin/passwd
  assert_output -rwsr-xr-x
  # ...but a bound host directory is not idmapped: its owners are not
  # the container's, and its root cannot write there as the host's root.
  run sdme exec u1 stat -c %u /data/file
  assert_output 65534
  run sdme exec u1 sh -c 'echo hi > /data/by-root'
  assert_failure
  [ ! -e /srv/userns-bind/by-root ]
  # What the container writes lands shifted in its own layer, and the
  # rootfs it shares with other containers keeps its owners.
  sdme exec u1 sh -c 'touch /root/new && chown 1000:1000 /root/new'
  [ "$(stat -c %u "$DATADIR/containers/u1/upper/root/new")" = $((shift + 1000)) ]
  [ "$(stat -c %u:%g "$DATADIR/fs/base/etc/passwd")" = 0:0 ]
  # The root of the other container is the host's root, as before.
  run sdme exec plain1 cat /proc/self/uid_map
  assert_output --regexp '^ +0 +0 +4294967295$'
  run sdme exec u1 systemctl is-system-running
  assert_output running
  # A second container gets a range of its own; a restart keeps the range.
  sdme create -r base --userns u2
  [ "$(grep USERNS_SHIFT= "$DATADIR/state/u2")" != "USERNS_SHIFT=$shift" ]
  sdme stop u1 && sdme start u1
  [ "$(shift_of u1)" = "$shift" ]
  sdme stop u1
  run grep "/containers/u1/" /proc/self/mountinfo
  assert_failure # stop undoes the idmapped mounts too
}

@test "--userns on a host clone: the host's files are root's inside, the host's own are untouched" {
  sdme create --userns hc
  sdme start hc
  shift=$(shift_of hc)
  [ "$shift" != 0 ]
  run sdme exec hc stat -c '%u:%g' / /etc/passwd /usr/bin/su
  assert_output "$(printf '0:0\n0:0\n0:0')"
  sdme exec hc touch /etc/userns-clone
  [ ! -e /etc/userns-clone ]
  [ "$(stat -c %u "$DATADIR/containers/hc/upper/etc/userns-clone")" = "$shift" ]
  run sdme exec hc systemctl is-system-running
  assert_output running
}

@test "--hardened: user namespace, private network, no new privileges, four capabilities fewer" {
  sdme create -r base --hardened --system-call-filter '~userfaultfd' h
  sdme create -r base base0
  sdme start h base0
  [ "$(shift_of h)" != 0 ]
  [ "$(status h NoNewPrivs)" = 1 ] && [ "$(status base0 NoNewPrivs)" = 0 ]
  # CAP_NET_RAW 13, CAP_SYS_RAWIO 17, CAP_SYS_PTRACE 19, CAP_SYS_BOOT 22:
  # dropped; CAP_SYS_ADMIN 21 and CAP_NET_BIND_SERVICE 10 stay.
  for bit in 13 17 19 22; do
    [ "$(capbit h $bit)" = 0 ] || fail "capability $bit kept"
  done
  [ "$(capbit base0 13)" = 1 ] && [ "$(capbit base0 19)" = 1 ] && [ "$(capbit base0 22)" = 1 ]
  [ "$(capbit h 21)" = 1 ] && [ "$(capbit h 10)" = 1 ]
  # A filter given with the profile applies.
  run uffd h
  assert_output "Operation not permitted"
  run uffd base0
  assert_output ok
  # The network is the container's own: a loopback and nothing else.
  run sdme exec h ls /sys/class/net
  assert_output lo
  grep -qx HARDENED=yes "$DATADIR/state/h"
  run sdme exec h systemctl is-system-running
  assert_output running
}

@test "--strict: Docker's capabilities, Docker's system calls, says once that there is no AppArmor" {
  run --separate-stderr sdme create -r base --strict --read-only s
  assert_success
  [[ "$stderr" == *"no AppArmor"* ]]
  run --separate-stderr sdme start s
  assert_success
  [[ "$stderr" != *"AppArmor"* ]]
  [ "$(shift_of s)" != 0 ]
  [ "$(status s NoNewPrivs)" = 1 ]
  [ "$(status s Seccomp)" = 2 ]
  # Exactly Docker's set without CAP_NET_RAW, plus CAP_SYS_ADMIN and
  # CAP_NET_ADMIN: 0 1 3 4 5 6 7 8 10 12 18 21 27 29 31.
  want=0
  for bit in 0 1 3 4 5 6 7 8 10 12 18 21 27 29 31; do want=$((want | 1 << bit)); done
  [ $((0x$(status s CapBnd))) = "$want" ] || fail "CapBnd $(status s CapBnd), want $(printf %x $want)"
  # A system call of Docker's filter fails with EPERM; unfiltered, it works.
  run uffd s
  assert_output "Operation not permitted"
  sdme create -r base plain2 && sdme start plain2
  run uffd plain2
  assert_output ok
  # The root is read-only; the network private.
  run sdme exec s touch /usr/strict
  assert_failure
  run sdme exec s ls /sys/class/net
  assert_output lo
  run sdme ps --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="s") | [.strict, .hardened, .userns, .noNewPrivileges, (.systemCallFilter | length > 0), .privateNetwork]')" = \
    '[true,true,true,true,true,true]' ]
}

@test "an OCI application under --strict starts and serves, as its own user" {
  systemctl start systemd-networkd
  sdme fs import -q web "$FIX_IMG_WEB" --base-fs=base >/dev/null
  sdme create -r web --strict --port 9097:8090 app
  sdme start app
  run curl -sf --retry 20 --retry-delay 1 --retry-all-errors --max-time 2 http://127.0.0.1:9097/
  assert_output "hello from sdme/web"
  systemctl stop systemd-networkd systemd-networkd.socket
  shift=$(shift_of app)
  # The application runs as the image's user 1000, which is the host's
  # shift+1000, with no new privileges.
  pid=$(find /sys/fs/cgroup -path "*sdme@app.service*/sdme-oci-app.service/cgroup.procs" | head -1 | xargs cat | while read -r p; do
    [ "$(cat /proc/$p/comm)" != sdme ] && echo "$p"; done | head -1)
  [ -n "$pid" ]
  [ "$(awk '$1 == "Uid:" {print $2}' /proc/$pid/status)" = $((shift + 1000)) ]
  [ "$(awk '$1 == "NoNewPrivs:" {print $2}' /proc/$pid/status)" = 1 ]
  # The whole system came up under the profile (and CAP_NET_RAW stayed
  # for the DHCP client of the container's link).
  run sdme exec app systemctl is-system-running
  assert_output running
  [ "$(capbit app 13)" = 1 ]
  # Its volume is writable by it.
  sdme exec --oci app sh -c 'echo w > /data/written'
  run sdme exec --oci app cat /data/written
  assert_output w
  sdme rm -f app
  sdme fs rm web
}

@test "profiles and user namespaces over io.sdme; what does not go together is refused" {
  run vl Create '{"name":"vs","strict":true}'
  assert_success
  assert_output --partial "no AppArmor"
  run vl List '{"name":"vs"}'
  [ "$(echo "$output" | jq -c '[.container.strict, .container.userns, (.container.usernsShift > 0)]')" = '[true,true,true]' ]
  # The caller cannot choose the range.
  run vl Create '{"name":"vu","userns":true,"usernsShift":65536}'
  assert_success
  [ "$(grep USERNS_SHIFT= "$DATADIR/state/vu")" != USERNS_SHIFT=65536 ]
  run sdme create -r base --hardened --oci-pod p bad
  assert_failure 2
  assert_output --partial "user namespace"
  [ ! -e "$DATADIR/state/bad" ]
}
