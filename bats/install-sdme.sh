#!/bin/sh
# Install the sdme under test inside the test host, as make install would.
set -e
install -m 0755 /src/bin/sdme /usr/local/bin/sdme
ln -sf sdme /usr/local/bin/sdme-import
ln -sf sdme /usr/local/bin/sdme-pod
U=/usr/local/lib/systemd/system
install -D -m 0644 /src/units/sdme.socket $U/sdme.socket
sed 's|@BINDIR@|/usr/local/bin|' /src/units/sdme.service.in > $U/sdme.service
systemctl daemon-reload
systemctl enable --now sdme.socket >/dev/null 2>&1
