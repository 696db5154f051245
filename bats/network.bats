#!/usr/bin/env bats
# Container networking: the host's network by default, or a network of the
# container's own with a veth, a bridge, a zone and port forwards.
load helpers

VL=/run/sdme/io.sdme
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

setup_file() { remove_all; }
teardown_file() {
  remove_all
  ip link del sdmebr0 2>/dev/null || true
}

# links NAME: the network interfaces inside the container.
links() { sdme exec "$1" ls /sys/class/net | tr '\n' ' '; }

@test "by default a container shares the host's network, and the host's resolver" {
  sdme create nh1
  sdme start nh1
  [ "$(links nh1)" = "$(ls /sys/class/net | tr '\n' ' ')" ]
  [ "$(readlink $DATADIR/containers/nh1/upper/etc/systemd/system/systemd-resolved.service)" = /dev/null ]
  sdme rm -f nh1
}

@test "--private-network: loopback only, and a resolver of its own allowed" {
  sdme create np1 --private-network
  sdme start np1
  [ "$(links np1)" = "lo " ]
  [ ! -e $DATADIR/containers/np1/upper/etc/systemd/system/systemd-resolved.service ]
  [ "$(sdme ps --json | jq -c '.[] | select(.name=="np1") | .privateNetwork')" = true ]
  sdme rm -f np1
}

@test "--network-veth: host0 inside, ve-NAME on the host" {
  # Without networkd on the host, nothing configures the host's end: said.
  run --separate-stderr sdme create nv1 --network-veth
  assert_success
  [[ "$stderr" == *"warning: systemd-networkd.service is not running on this host: the host's end of the container's link (ve-nv1) gets no address"* ]]
  # And again at each start: the link is never silently without addresses.
  run --separate-stderr sdme start nv1
  assert_success
  [[ "$stderr" == *"warning: systemd-networkd.service is not running on this host"* ]]
  [ "$(links nv1)" = "host0 lo " ]
  ip link show ve-nv1
  sdme rm -f nv1
  run ip link show ve-nv1
  assert_failure
}

@test "--port implies the private network and the veth it needs" {
  sdme create npt1 --port 8080:80 -p udp:5353
  run sdme ps --json
  [ "$(jq -c '.[] | select(.name=="npt1") | [.privateNetwork, .networkVeth, .ports]' <<<"$output")" = \
    '[true,true,[{"protocol":"tcp","host":8080,"container":80},{"protocol":"udp","host":5353,"container":5353}]]' ]
  grep -q -- '--port=tcp:8080:80 --port=udp:5353:5353' /etc/systemd/system/sdme@npt1.service.d/sdme.conf
  sdme start npt1
  [ "$(links npt1)" = "host0 lo " ]
  sdme rm -f npt1
}

@test "--network-bridge and --network-zone put the veth on a bridge" {
  ip link add sdmebr0 type bridge
  sdme create nb1 --network-bridge sdmebr0
  sdme create nz1 --network-zone tz
  sdme start nb1 nz1
  [ "$(links nb1)" = "host0 lo " ]
  [ "$(basename "$(readlink /sys/class/net/vb-nb1/master)")" = sdmebr0 ]
  [ "$(basename "$(readlink /sys/class/net/vb-nz1/master)")" = vz-tz ]
  sdme rm -f nb1 nz1
}

@test "bad network options are refused at create, naming the value; nothing is made" {
  local bad
  while IFS= read -r bad; do
    run --separate-stderr sdme create nbad $bad
    [ "$status" = 2 ] || fail "create $bad: status $status, $stderr"
    [[ "$stderr" == *"${bad##* }"* ]] || fail "create $bad: the error does not name it: $stderr"
    assert_no_leftovers nbad
  done <<'EOF2'
--network-bridge nosuchbr
--network-bridge sdme/br
--network-zone abcdefghijklm
--network-zone tz --network-bridge lo
--network-bridge 123
--port 0
--port http
--port 70000
--port sctp:80
--port 1:2:3
--port 80 --port 80:81
EOF2
  [ "$(sdme ps --json | jq length)" = 0 ]
  # A pod is the whole network.
  sdme pod new netpod
  run --separate-stderr sdme create nbad --pod netpod --network-veth
  [ "$status" = 2 ]
  [[ "$stderr" == *'pod "netpod"'*"--pod"* ]]
  assert_no_leftovers nbad
  sdme pod rm netpod
  # One host port, one container.
  sdme create np2 -p 8090:80
  run --separate-stderr sdme create nbad -p 8090:81
  [ "$status" = 2 ]
  [[ "$stderr" == *'container "np2" forwards host port tcp:8090 already'* ]]
  assert_no_leftovers nbad
  sdme create np3 -p udp:8090
  sdme rm np2 np3
}

@test "network options through io.sdme" {
  run vl Create '{"name":"nvl","ports":[{"protocol":"tcp","host":8081,"container":80}]}'
  assert_success
  [ "$(jq -r '.warnings[0]' <<<"$output")" != null ]
  run vl List '{"name":"nvl"}'
  [ "$(jq -c '.container | [.privateNetwork, .networkVeth, .ports[0].host]' <<<"$output")" = '[true,true,8081]' ]
  run vl Create '{"name":"nvbad","networkZone":"has space"}'
  assert_output --partial io.sdme.InvalidArgument
  assert_no_leftovers nvbad
  sdme rm nvl
}

# addr4 NAME IFACE: the container's IPv4 address on IFACE, waiting for DHCP.
addr4() {
  local a i
  for i in $(seq 100); do
    a=$(sdme exec "$1" ip -4 -o addr show "$2" 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -1)
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.2
  done
  return 1
}

@test "a veth works end to end with the host's networkd: DHCP, a server reached by address and through --port, on loopback too" {
  systemctl start systemd-networkd
  run --separate-stderr sdme create nw1 --port 8080:80 --port udp:5353:5353
  assert_success
  [[ "$stderr" != *warning* ]]
  # networkd is enabled in the container, so host0 asks the host for DHCP.
  [ "$(readlink $DATADIR/containers/nw1/upper/etc/systemd/system/multi-user.target.wants/systemd-networkd.service)" = \
    /usr/lib/systemd/system/systemd-networkd.service ]
  sdme start nw1
  # Name servers: the host's resolv.conf (no resolved on this host) ...
  run sdme exec nw1 cat /etc/resolv.conf
  assert_output "$(cat /etc/resolv.conf)"
  # ... and none of the host's own network configuration.
  [ "$(opaque $DATADIR/containers/nw1/upper/etc/systemd/network)" = y ]
  ip=$(addr4 nw1 host0)
  sdme exec nw1 systemd-run --unit=web --property=WorkingDirectory=/etc python3 -m http.server 80
  run curl -sf --retry 20 --retry-delay 0 --retry-all-errors --max-time 2 "http://$ip/hostname"
  assert_success
  assert_output nw1
  # The forward answers on the host's address at the veth's end.
  hostip=$(ip -4 -o addr show ve-nw1 | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$hostip" ]
  run curl -sf --retry 20 --retry-delay 0 --retry-all-errors --max-time 2 "http://$hostip:8080/hostname"
  assert_success
  assert_output nw1
  # And on the host's loopback, which nspawn's forwarding cannot reach.
  [ "$(systemctl is-active sdme-ports-nw1.service)" = active ]
  run curl -sf --max-time 5 "http://127.0.0.1:8080/hostname"
  assert_success
  assert_output nw1
  # UDP too: an echo server in the container, asked from the host's
  # loopback (one session) and from ::1 (another).
  sdme exec nw1 systemd-run --unit=udpecho socat UDP-LISTEN:5353,fork,reuseaddr EXEC:cat
  for dst in 127.0.0.1 '[::1]'; do
    got=
    for _ in $(seq 20); do
      got=$(echo "hello $dst" | socat -T1 - "UDP:$dst:5353" 2>/dev/null || true)
      if [ -n "$got" ]; then break; fi
      sleep 0.2
    done
    [ "$got" = "hello $dst" ]
  done
  # Killed, the container takes its forwards with it: the host's port 8080
  # is the host's again (nspawn undoes them once its container is gone).
  ip addr add 10.99.0.1/32 dev lo
  echo host >/tmp/hostname
  systemd-run --unit=hostweb --property=WorkingDirectory=/tmp python3 -m http.server --bind 10.99.0.1 8080
  sdme rm -f nw1
  run curl -sf --retry 20 --retry-delay 0 --retry-all-errors --max-time 2 "http://10.99.0.1:8080/hostname"
  assert_output host
  # The loopback proxy went with the container.
  run systemctl is-active sdme-ports-nw1.service
  assert_failure
  systemctl stop hostweb
  ip addr del 10.99.0.1/32 dev lo
  systemctl stop systemd-networkd systemd-networkd.socket
}
