#!/bin/sh
# Make sure this Debian or Ubuntu machine has what building and testing sdme
# needs; install what is missing with apt-get, or say what to install.
set -e
missing=
for p in go:golang-go debootstrap:debootstrap zstd:zstd systemd-nspawn:systemd-container nsenter:util-linux; do
  cmd=${p%%:*} pkg=${p#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x /usr/local/go/bin/"$cmd" ] || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: installing$missing" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$missing >/dev/null
else
  echo "deps.sh: missing packages:$missing (run: sudo apt-get install$missing)" >&2
  exit 1
fi
