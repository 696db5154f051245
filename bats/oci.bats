#!/usr/bin/env bats
# OCI applications on a shared base: fs import --base-fs, the application
# as sdme-oci-app.service, its user, environment, log, volumes, exec and
# logs --oci, --oci-pod, and io.sdme. The images are the fixtures'
# sdme/web (busybox httpd as user web, logging to /dev/stdout by name) and
# sdme/needsenv (refuses to run without $SECRET); see bats/fixtures.
load helpers

VL=/run/sdme/io.sdme
vl() { varlinkctl call --json=short "$VL" "io.sdme.$1" "${2:-{\}}"; }

setup_file() {
  make_fixtures
  use_fixtures
  remove_everything
  sdme config set default_base_fs ''
  sdme fs import -q base "$FIX_IMG_BASE" >/dev/null
  sdme fs import -q web "$FIX_IMG_WEB" --base-fs=base >/dev/null
}
setup() { use_fixtures; }
teardown() {
  remove_all
  local p
  for p in $(ls "$DATADIR/pods" 2>/dev/null); do sdme pod rm -f "$p" >/dev/null 2>&1 || true; done
}
teardown_file() {
  sdme config set default_base_fs ''
  remove_everything
  systemctl stop systemd-networkd systemd-networkd.socket 2>/dev/null || true
}

# app_pid NAME: the application's process in container NAME, as the host
# sees it: in the service's cgroup, the process that is not the unit's
# main process (sdme oci-exec).
app_pid() {
  local procs p i
  for i in $(seq 50); do
    procs=$(find /sys/fs/cgroup -path "*sdme@$1.service*/sdme-oci-app.service/cgroup.procs" 2>/dev/null | head -1)
    for p in $(cat "$procs" 2>/dev/null); do
      [ "$(cat /proc/$p/comm)" != sdme ] && { echo "$p"; return; }
    done
    sleep 0.2
  done
  return 1
}

# get URL: the body, retrying while the server starts.
get() { curl -sf --retry 30 --retry-delay 0 --retry-all-errors --max-time 2 "$1"; }

@test "an application image without a base is refused, naming --base-fs; --oci-mode=base imports it plain" {
  run sdme fs import nobase "$FIX_IMG_WEB"
  assert_failure 2
  assert_output --partial "is an application"
  assert_output --partial "/bin/serve --from-cmd"
  assert_output --partial "--base-fs=BASE"
  [ ! -e "$DATADIR/fs/nobase" ]
  [ -z "$(ls -A "$DATADIR/fs" | grep '^\.' | grep -v '\.meta$')" ]
  sdme fs import -q plain "$FIX_IMG_WEB" --oci-mode=base
  [ -x "$DATADIR/fs/plain/bin/serve" ]
  [ ! -e "$DATADIR/fs/plain/oci" ]
  # The base image has systemd: a plain rootfs, whatever its Cmd.
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="base") | .base // "none"')" = none ]
  sdme fs rm plain
}

@test "the application's rootfs holds only what the image brings; the base is shared, not copied" {
  R=$DATADIR/fs/web
  [ "$(ls "$R")" = "$(printf 'etc\noci')" ]
  [ -x "$R/oci/root/bin/serve" ]
  grep -q '^ExecStart=/run/sdme/sdme oci-exec --uid=1000 --gid=1000 --groups=1500 --workdir=/www --home=/www -- /bin/serve --from-cmd$' \
    "$R/etc/systemd/system/sdme-oci-app.service"
  grep -q '^KillSignal=SIGINT$' "$R/etc/systemd/system/sdme-oci-app.service"
  [ "$(readlink "$R/etc/systemd/system/multi-user.target.wants/sdme-oci-app.service")" = ../sdme-oci-app.service ]
  run sdme fs ls --json
  web=$(echo "$output" | jq -c '.[] | select(.name=="web")')
  [ "$(echo "$web" | jq -r .base)" = base ]
  [ "$(echo "$web" | jq -c '[.app.user, .app.uid, .app.gid, .app.exposedPorts, .app.volumes, .app.stopSignal]')" = '["web",1000,1000,["8090/tcp"],["/data","/var/my-cache"],"SIGINT"]' ]
  [ "$(echo "$web" | jq -r '.app.labels["org.opencontainers.image.title"]')" = sdme-web ]
  run sdme fs ls
  assert_line --regexp '^web +- +base +'
  # Disk: three applications on one base cost the base once plus their
  # own files (a few MiB each), not three copies of it.
  sdme fs import -q web2 "$FIX_IMG_WEB" --base-fs=base
  sdme fs import -q web3 "$FIX_IMG_NEEDSENV" --base-fs=base
  base=$(du -sk "$DATADIR/fs/base" | cut -f1)
  apps=$(du -sk "$DATADIR/fs/web" "$DATADIR/fs/web2" "$DATADIR/fs/web3" | awk '{s+=$1} END {print s}')
  echo "base ${base} KiB, three applications ${apps} KiB" >&3
  [ "$apps" -lt $((base / 20)) ]
  # The base cannot go while applications use it, and says which.
  run sdme fs rm base
  assert_failure 1
  assert_output --partial "base of application rootfs web, web2, web3"
  [ -d "$DATADIR/fs/base" ]
  sdme fs rm web2 web3
}

@test "the web application runs as its user, logs to the journal through /dev/stdout, and answers on the host's network" {
  sdme create -r web w1 --env EXTRA='two words $HOME'
  run sdme ps
  assert_line --regexp '^w1 +stopped +web \(app\) '
  sdme start w1
  run get http://127.0.0.1:8090/
  assert_output "hello from sdme/web"
  # The image's user, groups and working directory; image Env and --env.
  pid=$(app_pid w1)
  [ -n "$pid" ]
  [ "$(awk '/^Uid:/{print $2}' /proc/$pid/status)" = 1000 ]
  [ "$(awk '/^Gid:/{print $2}' /proc/$pid/status)" = 1000 ]
  [ "$(awk '/^Groups:/{print $2}' /proc/$pid/status)" = 1500 ]
  [ "$(readlink /proc/$pid/cwd)" = "$DATADIR/containers/w1/merged/oci/root/www" ] || [ "$(readlink /proc/$pid/cwd)" = /www ]
  env=$(tr '\0' '\n' < /proc/$pid/environ)
  grep -qx 'PORT=8090' <<<"$env"
  grep -qx 'APP_MODE=image' <<<"$env"
  grep -qx 'EXTRA=two words $HOME' <<<"$env"
  grep -qx 'HOME=/www' <<<"$env"
  # Written to /dev/stdout and /dev/stderr by name, read in the journal.
  run sdme logs w1 --oci
  assert_output --partial "web: uid=1000 gid=1000 groups=1000 1500 cwd=/www home=/www mode=image extra=two words \$HOME args=--from-cmd"
  assert_output --partial "url:/"
  refute_output --partial "can't create"
  # Inside: systemctl and journalctl know the service.
  run sdme exec w1 systemctl is-active sdme-oci-app.service
  assert_output active
  run sdme exec w1 journalctl -u sdme-oci-app.service --no-pager
  assert_output --partial "mode=image"
  # exec --oci: in the application's root, as its user, with its env.
  run sdme exec w1 --oci sh -c 'id -u; pwd; echo $PORT; cat /www/index.html'
  assert_output "$(printf '1000\n/www\n8090\nhello from sdme/web')"
  run sdme exec w1 --oci sh -c 'exit 7'
  assert_failure 7
  # Arguments reach the command as given: systemd expands no $VAR in them.
  run sdme exec w1 --oci echo '$PORT' '${HOME}'
  assert_output '$PORT ${HOME}'
  run sdme exec w1 echo '$PATH'
  assert_output '$PATH'
  sdme exec w1 sh -c 'printf "#!/bin/sh\necho ran\n" > "/tmp/a\$b" && chmod +x "/tmp/a\$b"'
  run sdme exec w1 '/tmp/a$b'
  assert_output ran
  # Interrupted, a follower stops in the container too, rather than go
  # on holding the caller's pipe.
  run timeout -s INT 2 sdme logs w1 --oci -f
  run timeout -s INT 2 sdme exec w1 --oci sleep 4242
  sleep 1
  [ -z "$(systemctl -M w1 list-units --no-legend --plain 'sdme-exec-*')" ]
  run pgrep -f 'sleep 4242'
  assert_failure

  # The stop signal is the image's, and the application ends cleanly.
  sdme exec w1 systemctl stop sdme-oci-app.service
  run sdme exec w1 systemctl show -P Result sdme-oci-app.service
  assert_output success
}

@test "--env overrides the image's environment in the application" {
  sdme create -r web w2 --env PORT=8095
  sdme start w2
  run get http://127.0.0.1:8095/
  assert_output "hello from sdme/web"
  run curl -s --max-time 1 http://127.0.0.1:8090/
  assert_failure
}

@test "an application that needs a variable says so in its log; with --env it runs" {
  sdme fs import -q needsenv "$FIX_IMG_NEEDSENV" --base-fs=base
  sdme create -r needsenv ne1
  sdme start ne1
  for _ in $(seq 50); do
    [ "$(sdme exec ne1 systemctl is-failed sdme-oci-app.service)" = failed ] && break
    sleep 0.2
  done
  run sdme logs ne1 --oci
  assert_output --partial "needsenv: error: SECRET is not set; give it with --env SECRET=..."
  sdme rm -f ne1
  sdme create -r needsenv ne2 --env 'SECRET=s3cr"et'
  sdme start ne2
  for _ in $(seq 50); do
    sdme logs ne2 --oci | grep -q "SECRET has" && break
    sleep 0.2
  done
  run sdme logs ne2 --oci
  assert_output --partial "needsenv: SECRET has 7 characters, GREETING=hello"
  # Cmd alone, a bare name found on the image's PATH, as root (no User).
  pid=$(app_pid ne2)
  [ "$(awk '/^Uid:/{print $2}' /proc/$pid/status)" = 0 ]
  [ "$(tr '\0' ' ' < /proc/$pid/cmdline)" = "sleep 1000000 " ]
  # The container's variables are root's alone.
  [ "$(stat -c %a "$DATADIR/containers/ne2/upper/oci/container.env")" = 600 ]
  # The journal's files are the container's: links among them to the
  # host's journal files show nothing of the host's (the container's own
  # journalctl reads them, inside the container).
  systemd-run -q --wait --unit=sdme-oci-app echo HOST-SECRET-OCI
  i=0
  for f in $(find /run/log/journal /var/log/journal -name '*.journal' 2>/dev/null); do
    i=$((i + 1))
    sdme exec ne2 sh -c 'd=/var/log/journal/$(cat /etc/machine-id); mkdir -p $d; ln -s "$1" $d/evil$2.journal' _ "$f" "$i"
  done
  [ "$i" -gt 0 ]
  run sdme logs ne2 --oci
  assert_success
  assert_output --partial "SECRET has 7 characters"
  refute_output --partial HOST-SECRET-OCI
  # A stopped container's journal is not read from the host.
  sdme stop ne2
  run sdme logs ne2 --oci
  assert_failure 1
  assert_output --partial "not running"
  sdme rm ne2
  sdme fs rm needsenv
}

@test "image volumes are directories of the container, seeded from the image, kept across restarts, gone with it" {
  sdme create -r web v1
  V=$DATADIR/containers/v1/volumes/data
  [ "$(stat -c %u:%g "$V")" = 1000:1000 ]
  [ "$(cat "$V/seed")" = seed ]
  sdme start v1
  sdme exec v1 --oci sh -c 'echo written > /data/new'
  [ "$(cat "$V/new")" = written ]
  # Not in the overlay: the write went to the volume.
  [ ! -e "$DATADIR/containers/v1/upper/oci/root/data/new" ]
  sdme restart v1
  run sdme exec v1 --oci cat /data/new
  assert_output written
  # A path with a '-': its directory's name is percent-encoded.
  # Not in the image: root's, 0755, as Docker makes it.
  [ "$(stat -c %u:%a "$DATADIR/containers/v1/volumes/var%2Fmy-cache")" = 0:755 ]
  run sdme exec v1 --oci cat /proc/self/mountinfo
  assert_output --regexp ' /var/my-cache rw,'
  assert_output --regexp ' /data rw,' 
  run sdme ps --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="v1") | [.ociApp, .ociVolumes]')" = '[true,["/data","/var/my-cache"]]' ]
  sdme rm -f v1
  assert_no_leftovers v1
}

@test "--port reaches the application from the host's address and from localhost" {
  systemctl start systemd-networkd
  sdme create -r web p1 --private-network --port 9090:8090
  sdme start p1
  run get http://127.0.0.1:9090/
  assert_output "hello from sdme/web"
  hostip=$(ip -4 -o addr show ve-p1 | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$hostip" ]
  run get "http://$hostip:9090/"
  assert_output "hello from sdme/web"
  # Only through the forward: the host's own 8090 is not the container's.
  run curl -s --max-time 1 http://127.0.0.1:8090/
  assert_failure
  systemctl stop systemd-networkd systemd-networkd.socket
}

@test "--oci-pod puts the application alone in the pod; another container of the pod reaches it on 127.0.0.1" {
  sdme pod new apod
  sdme create -r web op1 --oci-pod=apod
  sdme start op1
  sdme create --pod=apod peer
  sdme start peer
  run sdme exec peer curl -sf --retry 30 --retry-delay 0 --retry-all-errors --max-time 2 http://127.0.0.1:8090/
  assert_output "hello from sdme/web"
  # The application's network is the pod's, not the container's own.
  run sdme exec op1 --oci cat /proc/net/dev
  refute_output --partial host0
  run curl -s --max-time 1 http://127.0.0.1:8090/
  assert_failure
  run sdme ps --json
  [ "$(echo "$output" | jq -c '.[] | select(.name=="op1") | [.ociPod, .privateNetwork]')" = '["apod",true]' ]
  # The pod is in use by the application's container too.
  run sdme pod rm apod
  assert_failure 1
  assert_output --partial op1
  assert_output --partial peer
}

@test "bad application options are refused at create or import, naming the value; nothing is made" {
  sdme pod new bpod
  run sdme create -r base --oci-pod=bpod b1
  assert_failure 2
  assert_output --partial 'oci-pod "bpod"'
  assert_output --partial "not an OCI application"
  run sdme create -r web --oci-pod=bpod --pod=bpod b1
  assert_failure 2
  assert_output --partial "--pod and --oci-pod"
  run sdme create -r web --oci-pod=nosuchpod b1
  assert_failure 1
  assert_output --partial nosuchpod
  run sdme create -r web --oci-pod='bad/name' b1
  assert_failure 2
  run sdme create -r web -o /oci b1
  assert_failure 2
  assert_output --partial "needs"
  [ ! -e "$DATADIR/state/b1" ]
  run sdme fs import x "$FIX_IMG_WEB" --base-fs=base --oci-mode=base
  assert_failure 2
  run sdme fs import x "$FIX_IMG_WEB" --oci-mode=bogus
  assert_failure 2
  assert_output --partial bogus
  run sdme fs import x "$FIX_IMG_WEB" --base-fs=nosuchbase
  assert_failure 1
  assert_output --partial nosuchbase
  run sdme fs import x "$FIX_IMG_WEB" --base-fs=web
  assert_failure 2
  assert_output --partial "an application itself"
  run sdme fs import x "$FIX/small" --base-fs=base
  assert_failure 2
  assert_output --partial "not an OCI image"
  [ ! -e "$DATADIR/fs/x" ]
  # The --oci verbs want an application's container.
  sdme create -r base plainc
  run sdme logs plainc --oci
  assert_failure 1
  assert_output --partial "not an OCI application"
  sdme start plainc
  run sdme exec plainc --oci true
  assert_failure 1
  assert_output --partial "not an OCI application"
}

@test "default_base_fs: an application image is installed on it; a distro image stays plain" {
  sdme config set default_base_fs base
  sdme fs import -q dweb "$FIX_IMG_WEB"
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="dweb") | .base')" = base ]
  sdme fs import -q dbase "$FIX_IMG_BASE"
  run sdme fs ls --json
  [ "$(echo "$output" | jq -r '.[] | select(.name=="dbase") | .base // "none"')" = none ]
  sdme config set default_base_fs ''
  sdme fs rm dweb dbase
}

@test "io.sdme: an application import with baseFs, Create with ociPod, List shows the application" {
  run varlinkctl call --more --json=short "$VL" io.sdme.ImportRootfs "{\"source\":\"$FIX_IMG_WEB\",\"name\":\"vlweb\",\"baseFs\":\"base\"}"
  assert_success
  run vl ListRootfs '{"name":"vlweb"}'
  [ "$(echo "$output" | jq -c '[.rootfs.base, .rootfs.app.uid, .rootfs.app.argv]')" = '["base",1000,["/bin/serve","--from-cmd"]]' ]
  run vl ImportRootfs "{\"source\":\"$FIX_IMG_WEB\",\"name\":\"vlweb2\"}"
  assert_failure
  assert_output --partial io.sdme.InvalidArgument
  assert_output --partial "baseFs"
  refute_output --partial -- "--base-fs"
  run vl ImportRootfs "{\"source\":\"$FIX_IMG_WEB\",\"name\":\"vlweb2\",\"ociMode\":\"nonsense\"}"
  assert_failure
  assert_output --partial io.sdme.InvalidArgument
  vl CreatePod '{"name":"vlpod"}'
  run vl Create '{"name":"vlapp","rootfs":"vlweb","ociPod":"vlpod"}'
  assert_success
  run vl List '{"name":"vlapp"}'
  [ "$(echo "$output" | jq -c '[.container.ociApp, .container.ociPod, .container.ociVolumes]')" = '[true,"vlpod",["/data","/var/my-cache"]]' ]
  # Not root: the image's variables by name only, as a container's.
  run setpriv --reuid=65534 --regid=65534 --clear-groups varlinkctl call --json=short "$VL" io.sdme.ListRootfs '{"name":"vlweb"}'
  assert_success
  [ "$(echo "$output" | jq -c '.rootfs.app.env')" = '["PORT","APP_MODE","PATH","HOME"]' ]
  run vl Create '{"name":"vlbad","rootfs":"base","ociPod":"vlpod"}'
  assert_failure
  assert_output --partial io.sdme.InvalidArgument
  run vl RemoveRootfs '{"name":"base"}'
  assert_failure
  sdme rm vlapp
  vl RemoveRootfs '{"name":"vlweb"}'
}

@test "fs rm takes an application and its base in one command, the base named first" {
  sdme fs import -q base2 "$FIX_IMG_BASE"
  sdme fs import -q app2 "$FIX_IMG_NEEDSENV" --base-fs=base2
  run sdme fs rm base2 app2
  assert_success
  [ ! -e "$DATADIR/fs/base2" ] && [ ! -e "$DATADIR/fs/app2" ]
}
