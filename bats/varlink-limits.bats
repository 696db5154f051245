# What clients may hold of the io.sdme service: users other than root get
# a share of the connections, small messages and an idle bound, so that
# they cannot deny the service to root; root's large messages do not pin
# memory; the unit bounds the service itself.
load helpers

VL=/run/sdme/io.sdme
CLIENT=/usr/local/bin/vlclient

setup_file() {
  # A raw varlink client: varlinkctl can neither hold connections open nor
  # send a message of a chosen size.
  cat > "$CLIENT" <<'PY'
#!/usr/bin/python3
"""vlclient hold N SECS | send BYTES | cutoff BYTES | idle SECS | big CONNS BYTES SECS"""
import socket, sys, time

VL = "/run/sdme/io.sdme"
GETINFO = b'{"method":"org.varlink.service.GetInfo"}\0'


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(VL)
    return s


def reply(s, timeout=10):
    """The next reply, or None if the service hung up."""
    s.settimeout(timeout)
    buf = b""
    try:
        while not buf.endswith(b"\0"):
            b = s.recv(65536)
            if not b:
                return None
            buf += b
    except (ConnectionResetError, BrokenPipeError):
        return None
    return buf[:-1].decode()


def call(s, msg):
    try:
        s.sendall(msg)
    except (ConnectionResetError, BrokenPipeError):
        return reply(s)
    return reply(s)


def sized(n):
    """A GetConfig call of n bytes (and its NUL): InvalidParameter pad."""
    head, tail = b'{"method":"io.sdme.GetConfig","parameters":{"pad":"', b'"}}'
    return head + b"a" * (n - len(head) - len(tail)) + tail + b"\0"


cmd, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
if cmd == "hold":  # open N connections, print how many are served, hold them
    conns = [connect() for _ in range(args[0])]
    print(sum(call(s, GETINFO) is not None for s in conns), flush=True)
    time.sleep(args[1])
elif cmd == "send":  # one call of BYTES; its reply, or "closed"
    print(call(connect(), sized(args[0])) or "closed")
elif cmd == "cutoff":  # BYTES without a NUL, connection kept open
    s = connect()
    try:
        s.sendall(b"a" * args[0])
    except (ConnectionResetError, BrokenPipeError):
        pass
    print("open" if reply(s, 10) is not None else "closed")
elif cmd == "idle":  # served once, then idle: seconds until closed, or "open"
    s = connect()
    assert call(s, GETINFO) is not None
    start = time.monotonic()
    try:
        s.settimeout(args[0])
        print("closed after %.1f" % (time.monotonic() - start) if s.recv(1) == b"" else "data")
    except socket.timeout:
        print("open")
elif cmd == "big":  # CONNS connections each send BYTES, hold them SECS
    conns = [connect() for _ in range(args[0])]
    for s in conns:
        s.sendall(sized(args[1]))
    print(sum(reply(s) is not None for s in conns), flush=True)
    time.sleep(args[2])
PY
  chmod 0755 "$CLIENT"
}

teardown_file() { rm -f "$CLIENT"; }

teardown() {
  local p
  for p in ${PIDS:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -e /run/systemd/system/sdme.service.d/limits.conf ]; then
    rm /run/systemd/system/sdme.service.d/limits.conf
    systemctl daemon-reload
    systemctl stop sdme.service
  fi
}

# as UID CMD...: run CMD as a user with no name and no groups.
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

# rss_kb: the service's resident memory.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$(systemctl show -p MainPID --value sdme.service)/status"; }

@test "users flooding the service with connections do not lock root out" {
  PIDS=
  for u in $(seq 2001 2008); do
    setpriv --reuid="$u" --regid="$u" --clear-groups "$CLIENT" hold 40 60 > "$BATS_TEST_TMPDIR/held.$u" &
    PIDS="$PIDS $!"
  done
  for u in $(seq 2001 2008); do
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/held.$u" ] && break; sleep 0.1; done
  done
  total=0
  for u in $(seq 2001 2008); do
    n=$(cat "$BATS_TEST_TMPDIR/held.$u")
    [ "$n" -le 32 ] || fail "uid $u holds $n connections, more than its 32"
    total=$((total + n))
  done
  [ "$total" -le 192 ] || fail "users hold $total connections, more than the 192 outside root's"
  [ "$total" -ge 32 ] || fail "users hold only $total connections"
  run "$CLIENT" hold 64 0
  assert_output 64
  run varlinkctl call "$VL" io.sdme.GetConfig '{}'
  assert_success
}

@test "one user holding 300 connections gets 32" {
  sudo -u tester "$CLIENT" hold 300 60 > "$BATS_TEST_TMPDIR/held" &
  PIDS=$!
  for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/held" ] && break; sleep 0.1; done
  assert_equal "$(cat "$BATS_TEST_TMPDIR/held")" 32
  run varlinkctl call "$VL" io.sdme.GetConfig '{}'
  assert_success
}

@test "a user's 1 MiB message costs its connection; root's is answered" {
  run as 65534 "$CLIENT" send 1000
  assert_output --partial org.varlink.service.InvalidParameter
  run as 65534 "$CLIENT" send $((1 << 20))
  assert_output closed
  run "$CLIENT" send $((1 << 20))
  assert_output --partial org.varlink.service.InvalidParameter
}

@test "root's message past 16 MiB is cut off while it is still being sent" {
  run "$CLIENT" cutoff $((17 << 20))
  assert_output closed
  run varlinkctl call "$VL" io.sdme.GetConfig '{}'
  assert_success
}

@test "a user's idle connection is closed after --client-idle-timeout; root's stays open" {
  mkdir -p /run/systemd/system/sdme.service.d
  printf '[Service]\nExecStart=\nExecStart=/usr/local/bin/sdme varlink --idle-timeout=30s --client-idle-timeout=2s\n' \
    > /run/systemd/system/sdme.service.d/limits.conf
  systemctl daemon-reload
  systemctl stop sdme.service
  run as 65534 "$CLIENT" idle 30
  assert_output --regexp '^closed after ([1-9]|1[0-9])\.'
  run "$CLIENT" idle 4
  assert_output open
}

@test "the unit bounds the service's memory and tasks" {
  run systemctl show sdme.service -p MemoryMax -p MemoryHigh -p TasksMax -p Environment
  assert_line MemoryMax=2147483648
  assert_line MemoryHigh=1610612736
  assert_line TasksMax=1024
  assert_output --partial GOMEMLIMIT=1GiB
}

@test "root's large messages do not pin memory while their connections stay open" {
  varlinkctl info "$VL" >/dev/null
  before=$(rss_kb)
  "$CLIENT" big 4 $((12 << 20)) 60 > "$BATS_TEST_TMPDIR/big" &
  PIDS=$!
  for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/big" ] && break; sleep 0.1; done
  assert_equal "$(cat "$BATS_TEST_TMPDIR/big")" 4
  for _ in $(seq 50); do
    after=$(rss_kb)
    [ $((after - before)) -lt 32768 ] && break
    sleep 0.1
  done
  [ $((after - before)) -lt 32768 ] || fail "RSS grew from $before to $after kB after 4 messages of 12 MiB"
}
