# sdme fs import from every kind of source, and containers made of the
# results. The fixtures (registries, HTTP server, proxy, images, archives)
# come from bats/fixtures/make.sh; see bats/fixtures/README.md.
load helpers

setup_file() {
  make_fixtures
}

setup() { use_fixtures; }
teardown() { remove_everything; }

# boots R: a container made of rootfs R boots and runs a command.
boots() {
  sdme create -r "$1" "c-$1"
  sdme start "c-$1"
  run sdme exec "c-$1" cat /etc/os-release
  assert_success
  assert_output --partial "Debian GNU/Linux"
  run sdme exec "c-$1" systemctl is-system-running --wait
  assert_output --regexp '^(running|degraded)$'
  sdme rm -f "c-$1"
}

# wait_for_staging NAME: an import of NAME has started writing its tree.
wait_for_staging() {
  for _ in $(seq 100); do
    ls -A "$DATADIR"/fs/."$1".import-*/rootfs 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  fail "the import of $1 did not start"
}

# assert_no_loops: no loop device is backed by an image or a file of
# sdme's (loop devices are the whole machine's, so others may exist).
assert_no_loops() {
  run bash -c "losetup -n -l -O BACK-FILE | grep -E '$DATADIR|$FIX' || true"
  assert_output ""
}

# assert_store_clean: no staging directories or stray sidecars remain.
assert_store_clean() {
  run bash -c "ls -A '$DATADIR/fs' 2>/dev/null | grep -E '^\.[a-z0-9-]+\.(import|remove)-' || true"
  assert_output ""
  ! grep -q "$DATADIR/fs/\." /proc/self/mountinfo || fail "mounts left below the store"
}

@test "a directory imports and boots; fs ls shows it" {
  run sdme fs import deb /var/lib/machines/base
  assert_success
  assert_line deb
  boots deb
  run sdme fs ls
  assert_success
  assert_line --regexp '^deb +Debian GNU/Linux .* +/var/lib/machines/base +[0-9.]+ MiB +[0-9-]+ [0-9:]+$'
  run sdme fs ls --json
  assert_success
  [ "$(echo "$output" | jq -r '.[0].kind')" = directory ]
  [ "$(echo "$output" | jq -r '.[0].size')" -gt 100000000 ]
}

@test "tarballs import by content: plain, zstd, and zstd named .tar.gz" {
  sdme fs import plain "$FIX/base.tar"
  sdme fs import zst "$FIX/base.tar.zst"
  run sdme fs import --name mis "$FIX/base.misnamed.tar.gz"
  assert_success
  boots zst
  for r in plain mis; do
    cmp "$DATADIR/fs/$r/etc/os-release" /var/lib/machines/base/etc/os-release
    [ -u "$DATADIR/fs/$r/usr/bin/su" ] || fail "$r: setuid bit of su lost"
  done
}

@test "every compression is detected; a tree without systemd gets warnings" {
  for c in tar tar.gz tar.bz2 tar.xz tar.zst; do
    run sdme fs import "small-${c//./-}" "$FIX/small.$c"
    assert_success
    assert_output --partial "no systemd"
    [ "$(cat "$DATADIR/fs/small-${c//./-}/arch")" = amd64 ]
  done
}

@test "an http URL imports and boots, through the proxy from the environment" {
  before=$(wc -l < "$FIX_PROXY_LOG")
  run env http_proxy="$FIX_PROXY" sdme fs import web "$FIX_HTTP/base.tar.zst"
  assert_success
  tail -n +$((before + 1)) "$FIX_PROXY_LOG" | grep -q "GET $FIX_HTTP/base.tar.zst " || fail "the proxy did not see the download"
  boots web
}

@test "no_proxy bypasses the proxy; a dead proxy fails the download" {
  before=$(wc -l < "$FIX_PROXY_LOG")
  run env http_proxy="$FIX_PROXY" no_proxy=files.sdme.test sdme fs import bypass "$FIX_HTTP/small.tar"
  assert_success
  ! tail -n +$((before + 1)) "$FIX_PROXY_LOG" | grep -q "GET $FIX_HTTP/small.tar " || fail "no_proxy was not honoured"
  run env http_proxy=http://127.0.0.1:9 sdme fs import viaproxy "$FIX_HTTP/small.tar.gz"
  assert_failure 1
  assert_output --partial "download"
  [ ! -e "$DATADIR/fs/viaproxy" ]
  run env HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=files.sdme.test sdme fs import direct "$FIX_HTTP/small.tar.gz"
  assert_success
  run env all_proxy=http://127.0.0.1:9 sdme fs import viaall "$FIX_HTTP/small.tar.gz"
  assert_failure 1
}

@test "a URL that is not there is an error that names it" {
  run sdme fs import nothere "$FIX_HTTP/status/404"
  assert_failure 1
  assert_output --partial "404"
  assert_output --partial "$FIX_HTTP/status/404"
  assert_store_clean
}

@test "a registry image imports and boots; its digest is recorded" {
  run sdme fs import base "$FIX_REGISTRY/sdme/base"
  assert_success
  assert_output --partial "layer 1/1"
  boots base
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="base") | .digest')" = "$FIX_DIGEST_BASE" ]
  [ "$(echo "$output" | jq -r '.[] | select(.name=="base") | .kind')" = registry ]
}

@test "whiteouts and opaque directories give the right tree; caps and setuid survive" {
  sdme fs import layers "$FIX_REGISTRY/sdme/layers"
  R=$DATADIR/fs/layers
  run bash -c "cd $R && find srv/sdme | sort"
  assert_output "$(printf '%s\n' srv/sdme srv/sdme/caps srv/sdme/dir-to-file srv/sdme/file-to-dir srv/sdme/file-to-dir/inside \
    srv/sdme/hl-a srv/sdme/hl-b srv/sdme/kept srv/sdme/link srv/sdme/opaque srv/sdme/opaque/new srv/sdme/opaque-late \
    srv/sdme/opaque-late/new srv/sdme/owned srv/sdme/replaced-file srv/sdme/suid | sort)"
  [ "$(getcap "$R/srv/sdme/caps")" = "$R/srv/sdme/caps cap_net_raw=ep" ]
  [ "$(stat -c %a:%U "$R/srv/sdme/suid")" = 4755:root ]
  [ "$(stat -c %a:%u:%g "$R/srv/sdme/owned")" = 640:1000:1000 ]
  [ "$(cat "$R/srv/sdme/replaced-file")" = layer3 ]
  [ -f "$R/srv/sdme/dir-to-file" ] && [ "$(cat "$R/srv/sdme/file-to-dir/inside")" = layer3 ]
  [ "$(stat -c %i "$R/srv/sdme/hl-a")" = "$(stat -c %i "$R/srv/sdme/hl-b")" ]
  [ "$(readlink "$R/srv/sdme/link")" = kept ]
  [ ! -e "$R/etc/motd" ]
  [ -z "$(find "$R" -name '.wh.*')" ]
  boots layers
}

@test "a multi-arch index resolves to this machine's platform or --platform" {
  sdme fs import multi "$FIX_REGISTRY/sdme/multi"
  [ "$(cat "$DATADIR/fs/multi/arch")" = amd64 ]
  sdme fs import --platform linux/arm64 multi-arm "$FIX_REGISTRY/sdme/multi"
  [ "$(cat "$DATADIR/fs/multi-arm/arch")" = arm64 ]
  run sdme fs import --platform linux/s390x multi-s390 "$FIX_REGISTRY/sdme/multi"
  assert_failure 1
  assert_output --partial "no manifest for platform linux/s390x"
  assert_output --partial "linux/arm64"
  run sdme fs import --platform nonsense x "$FIX_REGISTRY/sdme/multi"
  assert_failure 2
  assert_store_clean
}

@test "a registry with basic auth: refused without credentials, works with the docker config" {
  run env HOME=/nonexistent sdme fs import private "$FIX_REGISTRY_AUTH/sdme/private"
  assert_failure 1
  assert_output --partial "refused access"
  mkdir -p /root/.docker
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$FIX_REGISTRY_AUTH" "$(printf sdme:secret | base64)" > /root/.docker/config.json
  run sdme fs import private "$FIX_REGISTRY_AUTH/sdme/private"
  rm -f /root/.docker/config.json
  assert_success
  [ -f "$DATADIR/fs/private/etc/os-release" ]
}

@test "plain HTTP to a registry off loopback only when the user allows it" {
  run sdme fs import remote "$FIX_REGISTRY_NAME/sdme/multi"
  assert_failure 1
  assert_output --partial "tls-verify"
  assert_store_clean
  run sdme fs import --tls-verify=false remote "$FIX_REGISTRY_NAME/sdme/multi"
  assert_success
  sdme config set insecure_registries "$FIX_REGISTRY_NAME"
  run sdme fs import remote2 "$FIX_REGISTRY_NAME/sdme/multi"
  sdme config set insecure_registries ""
  assert_success
}

@test "an unknown tag, a digest mismatch and a foreign media type are named errors" {
  run sdme fs import nope "$FIX_REGISTRY/sdme/base:no-such-tag"
  assert_failure 1
  assert_output --partial "no such repository or tag"
  run sdme fs import corrupt "$FIX_REGISTRY/sdme/corrupt"
  assert_failure 1
  assert_output --partial "digest"
  run sdme fs import artifact "$FIX_REGISTRY/sdme/artifact"
  assert_failure 1
  assert_output --partial "media type"
  [ -z "$(ls "$DATADIR/fs" 2>/dev/null | grep -v '^\.')" ]
  assert_store_clean
}

@test "OCI layouts import: a directory, a zstd tarball and an xz tarball" {
  sdme fs import ocidir "$FIX/base-oci"
  sdme fs import ocitar "$FIX/base.oci.tar.zst"
  run sdme fs import --oci-mode=base "$FIX/small.oci.tar.xz"
  assert_success
  assert_line small
  [ "$(cat "$DATADIR/fs/small/arch")" = amd64 ]
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="ocitar") | .kind')" = oci-layout ]
  boots ocitar
  boots ocidir
}

@test "a docker save archive imports and boots" {
  sdme fs import dock "$FIX/base.docker.tar"
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="dock") | .kind')" = docker-archive ]
  boots dock
}

@test "QCOW2 and raw disk images with a partition table import and boot" {
  run sdme fs import qcow "$FIX/base.qcow2"
  assert_success
  run sdme fs import raw "$FIX/base.raw"
  assert_success
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="qcow") | .kind')" = qcow2 ]
  [ "$(echo "$output" | jq -r '.[] | select(.name=="raw") | .kind')" = raw ]
  boots qcow
  boots raw
  assert_store_clean
  assert_no_loops
}

@test "a disk image over http imports" {
  run sdme fs import webdisk "$FIX_HTTP/base.qcow2"
  assert_success
  [ -f "$DATADIR/fs/webdisk/etc/os-release" ]
  assert_store_clean
}

@test "hostile archives never write outside the tree" {
  rm -rf /tmp/outside-target /escape /tmp/pwned
  mkdir -p /tmp/outside-target
  echo safe > /tmp/sdme-victim
  for a in dotdot abs symlink symlink-rel hardlink hardlink-symlink hardlink-write; do
    run sdme fs import "h-$a" "$FIX/hostile/$a.tar"
    echo "$a: $status $output"
    [ ! -e /tmp/outside-target/pwned ] || fail "$a wrote through a symlink"
    [ ! -e /escape ] && [ ! -e "$DATADIR/escape" ] && [ ! -e "$DATADIR/fs/escape" ] || fail "$a escaped"
    [ ! -e /tmp/pwned ] || fail "$a wrote /tmp/pwned"
    [ "$(stat -c %h /etc/shadow)" = 1 ] && [ "$(stat -c %h /etc/passwd)" = 1 ] || fail "$a linked to a host file"
    [ "$(cat /tmp/sdme-victim)" = safe ] || fail "$a wrote through a hard link"
  done
  run sdme fs import h-dotdot2 "$FIX/hostile/dotdot.tar"
  assert_failure 1
  assert_output --partial "../escape"
  assert_store_clean
}

@test "hostile OCI whiteouts never remove or create outside the tree" {
  for d in "$DATADIR" "$DATADIR/fs"; do mkdir -p "$d"; for f in escape victim x; do echo keep > "$d/$f"; done; done
  run sdme fs import h-wh "$FIX/hostile.oci.tar"
  assert_failure 1
  run sdme fs import h-reg "$FIX_REGISTRY/sdme/hostile"
  assert_failure 1
  for d in "$DATADIR" "$DATADIR/fs"; do
    for f in escape victim x; do [ "$(cat "$d/$f")" = keep ] || fail "$d/$f was changed"; rm "$d/$f"; done
  done
  assert_store_clean
}

@test "truncated archives and unknown files are errors that leave nothing" {
  run sdme fs import trunc "$FIX/hostile/truncated.tar.gz"
  assert_failure 1
  assert_output --partial "corrupt"
  run sdme fs import junk "$FIX/hostile/garbage.bin"
  assert_failure 1
  assert_output --partial "unknown file kind"
  run sdme fs import empty "$FIX/hostile/empty.tar"
  assert_failure 1
  assert_output --partial "is empty"
  run sdme fs import empty "$FIX/hostile/empty-archive.tar"
  assert_failure 1
  assert_output --partial "empty"
  run sdme fs import missing /nonexistent/file
  assert_failure 1
  assert_output --partial "no such file or directory"
  [ -z "$(ls "$DATADIR/fs" 2>/dev/null | grep -v '^\.')" ]
  assert_store_clean
}

@test "fs rm refuses while a container uses the rootfs, and names it" {
  sdme fs import small "$FIX/small.tar"
  sdme create -r small user1
  run sdme fs rm small
  assert_failure 1
  assert_output --partial "user1"
  [ -d "$DATADIR/fs/small" ]
  run sdme fs import -f small "$FIX/small.tar.gz"
  assert_failure 1
  assert_output --partial "user1"
  sdme rm user1
  run sdme fs rm small
  assert_success
  assert_line small
  [ ! -e "$DATADIR/fs/small" ] && [ ! -e "$DATADIR/fs/.small.meta" ]
  run sdme fs rm small
  assert_failure 1
  assert_output --partial "not found"
}

@test "an existing rootfs is replaced only with --force" {
  sdme fs import small "$FIX/small.tar"
  run sdme fs import small "$FIX/small.tar.gz"
  assert_failure 1
  assert_output --partial "--force"
  run sdme fs import --force small "$FIX/small.tar.xz"
  assert_success
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[0].source')" = "$FIX/small.tar.xz" ]
}

@test "sdme create -r with an unknown rootfs fails and leaves nothing" {
  run sdme create -r nosuch c1
  assert_failure 1
  assert_output --partial 'rootfs "nosuch"'
  assert_no_leftovers c1
}

@test "SIGINT during a download leaves no rootfs and no staging" {
  sdme fs import --name slow "$FIX_HTTP/slow/base.tar.zst" -q &
  pid=$!
  wait_for_staging slow
  kill -INT $pid
  st=0; wait $pid || st=$?
  assert_equal "$st" 130
  [ ! -e "$DATADIR/fs/slow" ]
  assert_store_clean
}

@test "SIGKILL during a download: the next import cleans up, the name is free" {
  sdme fs import --name slow "$FIX_HTTP/slow/base.tar.zst" -q &
  pid=$!
  wait_for_staging slow
  kill -KILL $pid
  wait $pid || true
  [ ! -e "$DATADIR/fs/slow" ]
  ls -A "$DATADIR/fs" | grep -q '^\.slow\.import-' || fail "expected a staging directory after SIGKILL"
  # fs ls only reads: it hides the leftover and leaves it to the next writer.
  run sdme fs ls
  assert_success
  refute_output --partial slow
  run sdme fs import other "$FIX/small.tar"
  assert_success
  sdme fs rm other
  assert_store_clean
  run sdme fs import slow "$FIX/small.tar"
  assert_success
}

@test "SIGKILL while a disk image is mounted: the next import cleans the mount and loop" {
  sdme fs import --name dk "$FIX/base.raw" -q &
  pid=$!
  for _ in $(seq 100); do grep -q "$DATADIR/fs/.dk.import-" /proc/self/mountinfo && break; sleep 0.05; done
  kill -KILL $pid
  wait $pid || true
  run sdme fs import dk "$FIX/small.tar"
  assert_success
  assert_store_clean
  assert_no_loops
}

@test "two imports of one name at once: one wins, the other is told why" {
  sdme fs import --name same "$FIX_HTTP/slow/small.tar.gz" -q &
  pid=$!
  wait_for_staging same
  run sdme fs import same "$FIX/small.tar"
  assert_failure 1
  assert_output --partial "another sdme"
  wait $pid
  [ -d "$DATADIR/fs/same" ]
}

@test "a full disk is reported as such and leaves the store as it was" {
  mkdir -p /var/tmp/smalldisk
  mount -t tmpfs -o size=40m,mode=0700 tmpfs /var/tmp/smalldisk
  sdme config set datadir /var/tmp/smalldisk
  run sdme fs import big "$FIX/base.tar.zst"
  sdme config set datadir "$DATADIR"
  ls -A /var/tmp/smalldisk/fs
  left=$(ls -A /var/tmp/smalldisk/fs | grep -v '^$' || true)
  umount /var/tmp/smalldisk
  assert_failure 1
  assert_output --partial "disk full"
  [ -z "$left" ] || fail "left behind: $left"
}

@test "an import stops while a reserve is still free on the disk" {
  mkdir -p /var/tmp/smalldisk
  mount -t tmpfs -o size=40m,mode=0700 tmpfs /var/tmp/smalldisk
  sdme config set datadir /var/tmp/smalldisk
  # Throttled, so that the tree grows slower than the watcher looks.
  run sdme fs import big "$FIX_HTTP/slow/base.tar.zst"
  sdme config set datadir "$DATADIR"
  left=$(ls -A /var/tmp/smalldisk/fs | grep -v '^$' || true)
  umount /var/tmp/smalldisk
  assert_failure 1
  assert_output --partial "disk full"
  assert_output --partial "where imports keep 16.0 MiB free"
  [ -z "$left" ] || fail "left behind: $left"
}

@test "an import stops while a reserve of inodes is still free" {
  mkdir -p /var/tmp/fewinodes /var/tmp/empties
  (cd /var/tmp/empties && seq -f 'f%05g' 12000 | xargs touch)
  tar -C /var/tmp/empties -cf "$FIX/empties.tar" .
  rm -rf /var/tmp/empties
  mount -t tmpfs -o size=40m,nr_inodes=10000,mode=0700 tmpfs /var/tmp/fewinodes
  sdme config set datadir /var/tmp/fewinodes
  # Throttled, so that the entries arrive slower than the watcher looks.
  run sdme fs import empties "$FIX_HTTP/slow/empties.tar"
  sdme config set datadir "$DATADIR"
  left=$(ls -A /var/tmp/fewinodes/fs | grep -v '^$' || true)
  umount /var/tmp/fewinodes
  rm -f "$FIX/empties.tar"
  assert_failure 1
  assert_output --partial "inodes left on the filesystem"
  [ -z "$left" ] || fail "left behind: $left"
}

@test "sdme-import, --name, quiet output, and a base without systemd" {
  run sdme-import a1 "$FIX/small.tar"
  assert_success
  assert_output --partial "a1"
  run sdme fs import -q --name a2 "$FIX/small.tar"
  assert_success
  assert_output a2
  run sdme fs import --name a3 a3 "$FIX/small.tar"
  assert_failure 2
  run sdme fs import --base-fs=a1 a4 "$FIX_REGISTRY/sdme/base"
  assert_failure 2
  assert_output --partial 'rootfs "a1": cannot be a base: it has no systemd'
  [ ! -e "$DATADIR/fs/a4" ]
  run sdme fs import "$FIX/base.misnamed.tar.gz"
  assert_failure 2
  assert_output --partial "give a name"
  run sdme fs import 1bad "$FIX/small.tar"
  assert_failure 2
}

@test "on a terminal, progress is drawn as bars with sizes and a total" {
  # script gives a terminal of width 0 unless told otherwise.
  run script -qec "stty cols 120 rows 40; sdme fs import bars $FIX_REGISTRY/sdme/mediatypes" /dev/null
  assert_success
  assert_output --partial "layer 1/3"
  assert_output --partial "layer 3/3"
  assert_output --partial "total"
  assert_output --regexp "[0-9.]+ (KiB|MiB) / [0-9.]+ (KiB|MiB)"
  [ -d "$DATADIR/fs/bars" ]
}
