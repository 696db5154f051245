#!/bin/bash
# The sdme test host: Debian trixie with systemd as PID 1, booted under
# systemd-nspawn on a machine whose own PID 1 is not systemd (ours and CI's).
#
#   testhost.sh image              print the cached image path, building it if missing
#   testhost.sh unpack DIR         unpack a fresh copy of the image into DIR
#   testhost.sh start DIR [nspawn args...]   boot DIR and wait until it is up
#   testhost.sh boot DIR           start DIR with this checkout at /src and
#                                  install its bin/sdme (install-sdme.sh)
#   testhost.sh exec CMD...        run CMD in all namespaces of the test host
#   testhost.sh run CMD...         run CMD as a transient unit inside (systemd-run --pipe)
#   testhost.sh stop               power off and remove our cgroups
#
# Env: NAME (sdme-testhost), SDME_TESTHOST_CACHE (/var/cache/sdme-testhost),
#      NET=private|host (private: the test host has no network at all).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NAME=${NAME:-sdme-testhost}
STATE=/run/sdme-testhost/$NAME
CACHE=${SDME_TESTHOST_CACHE:-/var/cache/sdme-testhost}
NET=${NET:-private}

die() { echo "testhost.sh: $*" >&2; exit 1; }

need() {  # need PROGRAM PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install the Debian package $2 (apt-get install $2)"
}

# The image is keyed by the build script, so a change to it builds a new one.
image() {
  local key; key=$(sha256sum "$HERE/build.sh" | cut -c1-16)
  echo "$CACHE/testhost-$key.tar.zst"
}

cg_dirs() {  # cgroups we put nspawn in, so its subgroups are ours to remove
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo "/sys/fs/cgroup/$NAME"; return; fi
  [ -d /sys/fs/cgroup/unified ] && echo "/sys/fs/cgroup/unified/$NAME"
  [ -d /sys/fs/cgroup/systemd ] && echo "/sys/fs/cgroup/systemd/$NAME"
  return 0
}

leader() { cat "$STATE/leader" 2>/dev/null || die "test host $NAME is not running"; }

case "${1:-}" in
image)
  img=$(image)
  if [ ! -f "$img" ]; then
    need debootstrap debootstrap; need zstd zstd
    echo "testhost.sh: building $img (takes a minute or two)" >&2
    mkdir -p "$CACHE"
    "$HERE/build.sh" "$img" >&2
    find "$CACHE" -name 'testhost-*.tar.zst' ! -path "$img" -delete
  fi
  echo "$img"
  ;;
unpack)
  dir=${2:?unpack DIR}
  need zstd zstd
  img=$("$0" image)
  rm -rf "$dir"; mkdir -p "$dir"
  tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' --acls -I zstd -xf "$img"
  ;;
start)
  root=$(realpath "${2:?start DIR}"); shift 2
  need systemd-nspawn systemd-container; need nsenter util-linux
  [ ! -f "$STATE/nspawn.pid" ] || ! kill -0 "$(cat "$STATE/nspawn.pid")" 2>/dev/null ||
    die "test host $NAME is already running (testhost.sh stop)"
  mkdir -p "$STATE"
  args=(--quiet -D "$root" --boot --register=no --keep-unit --machine="$NAME"
        --capability=all --console=read-only)
  [ "$NET" = private ] && args+=(--private-network)
  # --keep-unit and --register=no: there is no systemd or machined outside.
  setsid bash -c 'for d in '"$(cg_dirs | tr '\n' ' ')"'; do mkdir -p $d; echo $$ > $d/cgroup.procs; done
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 exec systemd-nspawn "$@"' _ "${args[@]}" "$@" \
    >"$STATE/console.log" 2>&1 </dev/null &
  echo $! > "$STATE/nspawn.pid"
  L=
  for _ in $(seq 200); do   # the leader is nspawn's child running systemd
    L=$(ps -o pid= --ppid "$(cat "$STATE/nspawn.pid")" 2>/dev/null | head -1 | tr -d ' ' || true)
    [ -n "$L" ] && [ "$(cat "/proc/$L/comm" 2>/dev/null)" = systemd ] && break
    L=; sleep 0.1
  done
  [ -n "$L" ] || { tail -20 "$STATE/console.log" >&2; die "the test host did not start"; }
  echo "$L" > "$STATE/leader"
  s=
  for _ in $(seq 120); do
    s=$(timeout 60 nsenter -t "$L" -a -- systemctl is-system-running --wait 2>/dev/null) && break
    case "$s" in running|degraded) break;; esac
    sleep 0.25
  done
  echo "testhost.sh: $NAME is $s" >&2
  case "$s" in
  running) ;;
  degraded) nsenter -t "$L" -a -- systemctl --failed --no-legend >&2 || true ;;
  *) tail -20 "$STATE/console.log" >&2; die "the test host did not boot" ;;
  esac
  ;;
boot)
  "$0" start "${2:?boot DIR}" --bind-ro="$(cd "$HERE/../.." && pwd)":/src
  "$0" exec /src/bats/install-sdme.sh
  ;;
exec) shift; exec nsenter -t "$(leader)" -a -- "$@" ;;
run)
  shift
  exec nsenter -t "$(leader)" -a -- systemd-run --wait --pipe --quiet --collect \
    --service-type=exec -p Delegate=yes --setenv=TERM=dumb "$@"
  ;;
stop)
  P=$(cat "$STATE/nspawn.pid" 2>/dev/null || true)
  if [ -n "$P" ] && kill -0 "$P" 2>/dev/null; then
    nsenter -t "$(leader)" -a -- systemctl poweroff --no-block 2>/dev/null || kill -TERM "$P"
    for _ in $(seq 300); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$P" 2>/dev/null && { kill -KILL "$P"; sleep 0.5; }
  fi
  for d in $(cg_dirs); do
    [ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
    rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$STATE" "/run/systemd/nspawn/propagate/$NAME"
  ;;
*) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
