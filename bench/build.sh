#!/bin/bash
# Runs inside the test host. sdme fs build, in one run, of a small build
# file on the test host's Debian base (/var/lib/machines/base, imported as
# "base"): COPY a .deb (a script and a oneshot unit) to /tmp/, RUN
# apt-get install of it, COPY a directory of files to /srv/www, RUN
# systemctl enable of the unit:
#   full       sdme fs build --no-cache (a RUN boots the layers, a COPY runs
#              cp in them under nspawn; the result is flattened and synced)
#              against the same by hand, the floor: cp -a of the base, cp
#              of the .deb and the files into it, one systemd-nspawn (not
#              booted) running the install and the enable
#   unchanged  the re-run of the same file (up to date: nothing is made)
#   last RUN   a build whose last RUN line changed (the steps before it
#              cached), against the full build
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
SRC=/var/lib/machines/base
D=/var/lib/sdme
W=/var/lib/sdme-bench-build
C=$W/ctx
cleanup() {
  sdme fs rm web >/dev/null 2>&1 || true
  sdme fs rm base >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
cleanup; mkdir -p "$C/www"

# The context: the .deb, the files, the build file.
P=$W/pkg
mkdir -p "$P/DEBIAN" "$P/usr/bin" "$P/usr/lib/systemd/system"
printf 'Package: bench-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <bench@example.org>\nDescription: sdme build benchmark\n' > "$P/DEBIAN/control"
printf '#!/bin/sh\necho hello from bench\n' > "$P/usr/bin/bench-hello"
chmod 755 "$P/usr/bin/bench-hello"
printf '[Unit]\nDescription=bench hello\n[Service]\nType=oneshot\nExecStart=/usr/bin/bench-hello\n[Install]\nWantedBy=multi-user.target\n' \
  > "$P/usr/lib/systemd/system/bench-hello.service"
dpkg-deb --root-owner-group --build "$P" "$C/x.deb" >/dev/null
for f in $(seq 20); do head -c $((f * 512)) /dev/urandom | base64 > "$C/www/page$f.html"; done
# buildfile LAST: the build file, with LAST as its last RUN.
buildfile() {
  printf '%s\n' "FROM base" "COPY x.deb /tmp/" "RUN apt-get install -y /tmp/x.deb && rm /tmp/x.deb" \
    "COPY www /srv/www" "RUN $1" > "$C/build.conf"
}
ENABLE="systemctl enable bench-hello.service"
WANTS=etc/systemd/system/multi-user.target.wants/bench-hello.service

sdme fs import -q base "$SRC" >/dev/null

declare -A t
add() { t[$1]+="$2 "; }

# The full build, its log lines stamped, for the time of each step.
build_logged() {
  sdme fs build --no-cache web "$C/build.conf" 2>&1 |
    while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done > "$W/log" ||
    { tail -20 "$W/log" >&2; return 1; }
}
# steps: the seconds from each STEP (and COMMIT) line to the next line of
# that kind, or to the end of the build.
steps() {
  awk '$2 == "STEP" || $2 == "COMMIT" || $2 == "built" { if (p) print n, $1 - p; p = $1; n = ($2 == "COMMIT" ? "commit" : "step" ++i) }' "$W/log"
}
rebuild() { sdme fs build -q web "$C/build.conf"; }
# The floor: the same tree made by hand, in one nspawn. nspawn's tmpfs on
# /tmp would hide the .deb (sdme's build turns it off too).
# It leaves the times of its copies and of its nspawn in $W/parts.
manual() {
  local t0=$EPOCHREALTIME t1
  cp -a "$SRC" "$W/m"
  cp "$C/x.deb" "$W/m/tmp/"
  mkdir -p "$W/m/srv/www" && cp -a "$C/www/." "$W/m/srv/www/"
  t1=$EPOCHREALTIME
  SYSTEMD_NSPAWN_TMPFS_TMP=0 systemd-nspawn -q -D "$W/m" --register=no \
    sh -c "apt-get install -y /tmp/x.deb && rm /tmp/x.deb && $ENABLE"
  printf "%s\n" "$t1 - $t0" "$EPOCHREALTIME - $t1" | bc > "$W/parts"
}
manual_sync() { manual && sync; }

for i in $(seq "$RUNS"); do
  buildfile "$ENABLE"
  sdme fs rm web >/dev/null 2>&1 || true
  add full "$(time_of build_logged)"
  [ -L "$D/fs/web/$WANTS" ] || echo "# sdme fs build: the unit is not enabled" >&2
  while read -r n s; do add "$n" "$s"; done < <(steps)
  add unchanged "$(time_of rebuild)"

  add manual "$(time_of manual)"
  { read -r a; read -r b; } < "$W/parts" && add m-copy "$a" && add m-nspawn "$b"
  [ -L "$W/m/$WANTS" ] || echo "# manual: the unit is not enabled" >&2
  rm -rf "$W/m"
  add manual-sync "$(time_of manual_sync)"
  rm -rf "$W/m"

  buildfile "$ENABLE && echo rev$i"
  sdme fs rm web >/dev/null 2>&1 || true
  add last "$(time_of rebuild)"
done

m() { printf '%s\n' ${t[$1]} | median; }
line() { printf '%-52s %10s\n' "$1" "$(seconds "$(m "$2")")"; }
echo "runs: $RUNS (medians), base $(du -sh "$SRC" | cut -f1) in $(find "$SRC" | wc -l) entries"
line "sdme fs build --no-cache" full
line "by hand: cp -a, cp, one nspawn (install, enable)" manual
line "by hand + sync" manual-sync
line "sdme fs build, unchanged re-run" unchanged
line "sdme fs build, last RUN changed" last
echo "per step:  COPY .deb $(seconds "$(m step1)"), RUN apt-get $(seconds "$(m step2)"), COPY www $(seconds "$(m step3)"), RUN enable $(seconds "$(m step4)"), commit $(seconds "$(m commit)")"
echo "by hand:   copies $(seconds "$(m m-copy)"), nspawn (install, enable) $(seconds "$(m m-nspawn)")"
echo "full       build/by hand:          $(ratio_of "$(m full)" "$(m manual)")   (durable: build/by hand + sync $(ratio_of "$(m full)" "$(m manual-sync)"))"
echo "unchanged  re-run:                 $(seconds "$(m unchanged)")   target < 1 s"
echo "last RUN   rebuild/full build:     $(ratio_of "$(m last)" "$(m full)")"
