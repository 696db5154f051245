# Images whose metadata is hostile: OCI layouts and docker save archives
# whose files are symlinks out of them or FIFOs, a registry that declares
# or sends sizes no importer should take, and compressed streams that ask
# for gigabytes of memory in a few bytes. Each import must fail at once,
# with status 1 and an error that says what was refused, and leave nothing
# behind. The fixtures come from fixtures/hostile-images.py and
# fixtures/hostile-registry.py.
load helpers

H=/var/tmp/sdme-hostile
REG=127.0.0.1:5099
REG_LOG=$H/registry.log
VL=/run/sdme/io.sdme

setup_file() {
  python3 /src/bats/fixtures/hostile-images.py "$H" "$(oci_arch)"
  : > "$REG_LOG"
  systemctl stop sdme-hostile-registry 2>/dev/null || true
  systemctl reset-failed sdme-hostile-registry 2>/dev/null || true
  systemd-run -q --collect --unit=sdme-hostile-registry \
    /usr/bin/python3 /src/bats/fixtures/hostile-registry.py 5099 "$REG_LOG" "$(oci_arch)"
  for _ in $(seq 100); do
    curl -sf "http://$REG/v2/" >/dev/null && return 0
    sleep 0.1
  done
  echo "the hostile registry does not answer" >&2
  return 1
}

teardown_file() {
  systemctl stop sdme-hostile-registry 2>/dev/null || true
}

teardown() { remove_everything; }

oci_arch() {
  case $(dpkg --print-architecture) in
  amd64) echo amd64 ;; arm64) echo arm64 ;; *) dpkg --print-architecture ;;
  esac
}

# refused SOURCE TEXT: importing SOURCE fails within seconds, with status 1
# and an error naming TEXT, and leaves nothing. The import runs under a
# memory limit and a timeout, so that an importer that reads /dev/zero or
# a FIFO fails this test instead of the test host.
refused() {
  local t0=$SECONDS
  run timeout 60 bash -c 'ulimit -v 4000000; exec sdme fs import "$1" "$2"' _ hostile "$1"
  echo "$1: status $status in $((SECONDS - t0)) s: $output"
  assert_failure 1
  assert_output --partial "$2"
  [ $((SECONDS - t0)) -lt 15 ] || fail "$1 took $((SECONDS - t0)) s to be refused"
  assert_nothing_left
}

# assert_nothing_left: the store is empty (no rootfs, no record, no
# staging), and the secret a symlink led to landed nowhere in it.
assert_nothing_left() {
  run ls -A "$DATADIR/fs"
  assert_output ""
  ! grep -rqs sdme-secret-marker "$DATADIR" || fail "the secret behind a symlink reached the store"
  ! grep -rqs "^root:" "$DATADIR" || fail "/etc/shadow reached the store"
}

@test "the fixtures are sound: the unspoiled layout and docker archive import" {
  for s in "$H/oci-ok" "$H/oci-ok.tar" "$H/docker-ok" "$H/docker-ok.tar"; do
    run sdme fs import ok "$s"
    assert_success
    [ "$(cat "$DATADIR/fs/ok/etc/os-release")" = ID=sdme-hostile ]
    sdme fs rm ok
  done
}

@test "an OCI layout whose index.json is a symlink to /dev/zero is refused at once" {
  refused "$H/oci-zero" "index.json is missing"
  refused "$H/oci-zero.tar" "index.json is missing"
}

@test "an OCI layout whose index.json is a FIFO is refused at once" {
  refused "$H/oci-fifo" "index.json is a FIFO, not a regular file"
  refused "$H/oci-fifo.tar" "index.json is a FIFO, not a regular file"
}

@test "a layout blob that is a symlink to a host file is refused; nothing of it lands" {
  refused "$H/oci-blob-out" "is missing"
  refused "$H/oci-blob-out.tar" "is missing"
  refused "$H/oci-shadow" "is missing"
  refused "$H/oci-shadow.tar" "is missing"
}

@test "a docker archive whose manifest.json is /dev/zero or a FIFO, or whose layer links out, is refused" {
  refused "$H/docker-zero" "manifest.json is missing"
  refused "$H/docker-zero.tar" "manifest.json is missing"
  refused "$H/docker-fifo" "manifest.json is a FIFO, not a regular file"
  refused "$H/docker-fifo.tar" "manifest.json is a FIFO, not a regular file"
  refused "$H/docker-layer-out" "abc/layer.tar is missing"
  refused "$H/docker-layer-out.tar" "abc/layer.tar is missing"
}

@test "a registry config that declares 5 GiB is refused before it is fetched" {
  : > "$REG_LOG"
  refused "$REG/hostile/bigconfig" "config of 5.0 GiB is larger than the 4.0 MiB sdme accepts"
  grep -q "GET /v2/hostile/bigconfig/manifests/latest" "$REG_LOG" || fail "the registry was not asked"
  ! grep -q "/v2/hostile/bigconfig/blobs/" "$REG_LOG" || fail "the config was fetched"
}

@test "a registry that sends more than it declares, or a manifest of 5 GiB, is refused" {
  refused "$REG/hostile/liar" "larger than the 200 bytes its descriptor declares"
  refused "$REG/hostile/bigmanifest" "a manifest larger than the 4.0 MiB sdme accepts"
}

@test "compressed streams that declare a window of gigabytes are refused at once" {
  refused "$H/bigdict.tar.xz" "xz stream: block 1 needs a dictionary of 4.0 GiB, more than the 128.0 MiB sdme accepts"
  refused "$H/bigwindow.tar.zst" "zstd stream: a window of 2.0 GiB is more than the 128.0 MiB sdme accepts"
}

@test "through varlink: hostile images fail with TransferFailed and the service keeps serving" {
  for s in "$H/oci-fifo" "$REG/hostile/bigconfig" "$H/bigdict.tar.xz"; do
    run timeout 60 varlinkctl call "$VL" io.sdme.ImportRootfs "{\"source\":\"$s\",\"name\":\"vlh\"}"
    echo "$s: status $status: $output"
    [ "$status" != 124 ] || fail "the import of $s blocks"
    assert_failure
    assert_output --partial io.sdme.TransferFailed
    assert_nothing_left
  done
  run varlinkctl info "$VL"
  assert_success
  run varlinkctl call "$VL" io.sdme.ImportRootfs "{\"source\":\"$H/oci-ok\",\"name\":\"vlok\"}"
  assert_success
  [ "$(cat "$DATADIR/fs/vlok/etc/os-release")" = ID=sdme-hostile ]
}
