#!/bin/sh
# Install the sdme under test inside the test host, as make install would.
set -e
install -m 0755 /src/bin/sdme /usr/local/bin/sdme
ln -sf sdme /usr/local/bin/sdme-import
