#!/usr/bin/env bats
# sdme fs build: a build that installs a local Debian package, copies
# files and enables a service that runs at boot; the layer cache (a fix
# resumes after the cached steps, an unchanged file makes nothing); a
# failing step named by file, line and status; SIGKILL and Ctrl-C leave
# nothing; bad build files; the result as a base of an OCI application;
# io.sdme.Build.
load helpers

VL=/run/sdme/io.sdme
CTX=/var/tmp/build-ctx

setup_file() {
  make_fixtures
  use_fixtures
  remove_everything
  sdme config set default_base_fs ''
  sdme fs import -q base "$FIX_IMG_BASE" >/dev/null
  # A package of our own: a command and a unit that runs it at boot.
  rm -rf "$CTX" && mkdir -p "$CTX/pkg/DEBIAN" "$CTX/pkg/usr/bin" "$CTX/pkg/usr/lib/systemd/system" "$CTX/site/img"
  printf 'Package: sdme-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: sdme <t@sdme.test>\nDescription: sdme build test\n' >"$CTX/pkg/DEBIAN/control"
  printf '#!/bin/sh\necho hello from the package\n' >"$CTX/pkg/usr/bin/sdme-hello"
  chmod 755 "$CTX/pkg/usr/bin/sdme-hello"
  printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c "sdme-hello > /run/hello"\n[Install]\nWantedBy=multi-user.target\n' \
    >"$CTX/pkg/usr/lib/systemd/system/sdme-hello.service"
  dpkg-deb -b "$CTX/pkg" "$CTX/hello.deb" >/dev/null
  echo '<h1>site</h1>' >"$CTX/site/index.html"
  echo png >"$CTX/site/img/a.png"
  chown -R 1000:1000 "$CTX/site"
}
setup() { use_fixtures; }
teardown() { remove_all; }
teardown_file() {
  remove_everything
  rm -rf "$CTX"
}

# no_build_leftovers: no build machine, mount or working directory.
no_build_leftovers() {
  local units
  units=$(systemctl list-units --all --plain --no-legend 'sdme-build-*' 2>/dev/null)
  [ -z "$units" ] || fail "a build unit is left: $units"
  ! grep -q "$DATADIR/build/runs" /proc/self/mountinfo || fail "a build mount is left"
  [ -z "$(ls -A "$DATADIR/build/runs" 2>/dev/null)" ] || fail "a build directory is left: $(ls "$DATADIR/build/runs")"
}

# build_until NAME FILE STEP: starts `sdme fs build NAME FILE` in the
# background (its output in /tmp/NAME.log, its pid in $pid) and returns
# once STEP has begun with the build's machine up.
build_until() {
  sdme fs build "$1" "$2" >"/tmp/$1.log" 2>&1 &
  pid=$!
  local i
  for i in $(seq 150); do
    if grep -q "$3" "/tmp/$1.log" && machinectl list --no-legend | grep -q '^sdme-build-'; then
      return 0
    fi
    sleep 0.2
  done
  fail "the build did not reach $3: $(cat "/tmp/$1.log")"
}

@test "a build installs a local package, copies files as root's and enables a service that runs at boot" {
  cat >"$CTX/build.conf" <<'CONF'
# the web image
FROM base
ENV GREETING="hi there" \
    DEBIAN_FRONTEND=noninteractive
COPY hello.deb /tmp/
RUN apt-get install -y /tmp/hello.deb && \
    rm /tmp/hello.deb
COPY site /srv/www
COPY site/*.html site/img/*.png /srv/flat/
WORKDIR /srv/www
RUN echo "$GREETING from $(pwd)" > greeting && systemctl enable sdme-hello.service
CONF
  run --separate-stderr sdme fs build web1 "$CTX/build.conf"
  [ "$status" = 0 ] || fail "$stderr"
  [ "$output" = web1 ]
  [[ "$stderr" == *"STEP 3/7: RUN apt-get install -y /tmp/hello.deb && rm /tmp/hello.deb"* ]]
  [[ "$stderr" == *"Setting up sdme-hello (1.0)"* ]] # the command's output streams
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="web1") | [.source, .kind] | join(" ")')" = "$CTX/build.conf build" ]
  sdme create -r web1 w1
  sdme start w1
  run sdme exec w1 cat /run/hello /srv/www/greeting /srv/www/index.html
  assert_output "$(printf 'hello from the package\nhi there from /srv/www\n<h1>site</h1>')"
  run sdme exec w1 stat -c '%U:%G %n' /srv/www/index.html /srv/www/img/a.png /srv/flat/index.html /srv/flat/a.png
  assert_output "$(printf 'root:root /srv/www/index.html\nroot:root /srv/www/img/a.png\nroot:root /srv/flat/index.html\nroot:root /srv/flat/a.png')"
  # The build's boots left nothing of theirs, and /tmp kept no package.
  [ ! -e "$DATADIR/fs/web1/tmp/hello.deb" ]
  [ ! -e "$DATADIR/fs/web1/var/lib/systemd/random-seed" ] || [ -e "$DATADIR/fs/base/var/lib/systemd/random-seed" ]
  no_build_leftovers
  # Unchanged, a build makes nothing.
  run --separate-stderr sdme fs build web1 "$CTX/build.conf"
  assert_success
  [[ "$stderr" == *"web1 is up to date"* ]]
  # The result is a base for an OCI application.
  sdme fs import -q webapp "$FIX_IMG_WEB" --base-fs=web1 >/dev/null
  sdme create -r webapp a1 && sdme start a1
  run sdme exec a1 cat /run/hello
  assert_output "hello from the package"
  sdme exec a1 systemctl is-active sdme-oci-app.service
  sdme rm -f a1 w1
  sdme fs rm webapp web1
}

@test "a failing step names its file, line and status and leaves no rootfs; the fixed file resumes from the cached steps" {
  printf 'FROM base\nCOPY hello.deb /tmp/\nRUN apt-get install -y /tmp/hello.deb\n\nRUN echo about to fail; exit 3\nRUN touch /after\n' >"$CTX/fail.conf"
  run --separate-stderr sdme fs build broken "$CTX/fail.conf"
  assert_failure
  [[ "$stderr" == *"$CTX/fail.conf:5: RUN echo about to fail; exit 3: exited with status 3"* ]]
  [[ "$stderr" == *"about to fail"* ]]
  [ ! -e "$DATADIR/fs/broken" ]
  no_build_leftovers
  # Quiet, only the failure and the failing step's output are shown.
  run --separate-stderr sdme fs build -q broken "$CTX/fail.conf"
  assert_failure
  [[ "$stderr" == *"about to fail"* ]] && [[ "$stderr" == *"fail.conf:5"* ]]
  [[ "$stderr" != *"Setting up"* ]]
  sed -i 's/; exit 3//' "$CTX/fail.conf"
  run --separate-stderr sdme fs build broken "$CTX/fail.conf"
  assert_success
  [[ "$stderr" == *"STEP 1/4: COPY hello.deb /tmp/ (cached)"* ]]
  [[ "$stderr" == *"STEP 2/4: RUN apt-get install -y /tmp/hello.deb (cached)"* ]]
  [[ "$stderr" != *"Setting up sdme-hello"* ]] # not installed again
  [ -e "$DATADIR/fs/broken/after" ]
  # --no-cache makes every step again.
  run --separate-stderr sdme fs build -f --no-cache broken "$CTX/fail.conf"
  assert_success
  [[ "$stderr" != *"(cached)"* ]] && [[ "$stderr" == *"Setting up sdme-hello"* ]]
  # A changed COPY source is a new step, and so is each step after it.
  echo changed >>"$CTX/site/index.html"
  printf 'FROM base\nCOPY site /srv\nCOPY site/index.html /opt/a/b/index.html\nRUN cat /srv/index.html\n' >"$CTX/copy.conf"
  sdme fs build -q c1 "$CTX/copy.conf"
  [ -f "$DATADIR/fs/c1/opt/a/b/index.html" ] # parents made
  echo again >>"$CTX/site/index.html"
  run --separate-stderr sdme fs build -f c1 "$CTX/copy.conf"
  [[ "$stderr" != *"(cached)"* ]] && [[ "$stderr" == *again* ]]
  sdme fs rm broken c1
}

@test "a build killed with SIGKILL leaves no rootfs; the next build cleans up its machine and mount" {
  printf 'FROM base\nRUN touch /one\nRUN sleep 300\n' >"$CTX/slow.conf"
  build_until slow "$CTX/slow.conf" 'STEP 2/2'
  kill -9 "$pid"
  wait "$pid" || true
  [ ! -e "$DATADIR/fs/slow" ]
  [ -n "$(ls -A "$DATADIR/build/runs")" ] # the dead build's run is still there
  # The next fs command stops its machine and removes its mount and run.
  sdme fs ls >/dev/null
  no_build_leftovers
  printf 'FROM base\nRUN touch /one\n' >"$CTX/quick.conf"
  sdme fs build -q quick "$CTX/quick.conf"
  no_build_leftovers
  [ -z "$(ls -A "$DATADIR/fs" | grep '^\.' | grep -v '\.meta$')" ] || fail "staging left: $(ls -A "$DATADIR/fs")"
  sdme fs rm quick
}

@test "Ctrl-C at a step stops the build and leaves nothing" {
  printf 'FROM base\nRUN sleep 300\n' >"$CTX/int.conf"
  build_until intr "$CTX/int.conf" 'STEP 1/1'
  kill -INT "$pid"
  rc=0
  wait "$pid" || rc=$? # not `run wait`: a subshell has no children to wait for
  [ "$rc" = 130 ] || fail "sdme exited with $rc: $(cat /tmp/intr.log)"
  grep -q 'context canceled' /tmp/intr.log
  [ ! -e "$DATADIR/fs/intr" ]
  no_build_leftovers
}

@test "bad build files are refused with the line named, and nothing is made" {
  printf 'FROM base\nRUN true\nCMD ["nginx"]\n' >"$CTX/bad1.conf"
  run sdme fs build bad "$CTX/bad1.conf"
  assert_failure 2
  assert_output --partial "$CTX/bad1.conf:3: unknown directive CMD"
  printf '# no base\nRUN true\n' >"$CTX/bad2.conf"
  run sdme fs build bad "$CTX/bad2.conf"
  assert_failure 2
  assert_output --partial "$CTX/bad2.conf:2:"
  assert_output --partial FROM
  printf 'FROM base\nRUN true\nCOPY ../../etc/shadow /x\n' >"$CTX/bad3.conf"
  run sdme fs build bad "$CTX/bad3.conf"
  assert_failure 2
  assert_output --partial "$CTX/bad3.conf:3:"
  assert_output --partial "outside the build context"
  # A symlink in the context that points outside it is copied as a link,
  # never followed.
  ln -sfn /etc "$CTX/etc-link"
  printf 'FROM base\nCOPY etc-link/shadow /x\n' >"$CTX/bad4.conf"
  run sdme fs build bad "$CTX/bad4.conf"
  assert_failure
  [[ "$output" != *root:* ]]
  printf 'FROM nosuchfs\nRUN true\n' >"$CTX/bad5.conf"
  run sdme fs build bad "$CTX/bad5.conf"
  assert_failure
  assert_output --partial nosuchfs
  run sdme fs build 'bad/name' "$CTX/bad1.conf"
  assert_failure 2
  [ ! -e "$DATADIR/fs/bad" ]
  no_build_leftovers
}

@test "io.sdme.Build streams the steps and their output, and answers with the rootfs" {
  printf 'FROM base\nRUN echo streamed-line\n' >"$CTX/vl.conf"
  run varlinkctl call --more --json=short "$VL" io.sdme.Build "{\"name\":\"vlb\",\"file\":\"$CTX/vl.conf\"}"
  assert_success
  assert_output --partial '"message":"STEP 1/1: RUN echo streamed-line"'
  assert_output --partial '"message":"streamed-line"'
  # --more replies are a JSON text sequence (RFC 7464): RS before each.
  [ "$(echo "$output" | tr -d '\036' | grep '"rootfs"' | jq -r '.rootfs.name + " " + .rootfs.kind')" = "vlb build" ]
  run varlinkctl call --json=short "$VL" io.sdme.Build "{\"name\":\"vlb\",\"file\":\"$CTX/vl.conf\"}"
  [ "$(echo "$output" | jq -r .upToDate)" = true ]
  run varlinkctl call --json=short "$VL" io.sdme.Build '{"name":"vlb2","file":"vl.conf"}'
  assert_failure
  assert_output --partial InvalidArgument
  # Not for others: a build runs commands as root.
  run sudo -u tester varlinkctl call "$VL" io.sdme.Build "{\"name\":\"x\",\"file\":\"$CTX/vl.conf\"}"
  assert_failure
  assert_output --partial PermissionDenied
  sdme fs rm vlb
}
