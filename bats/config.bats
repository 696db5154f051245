#!/usr/bin/env bats
# sdme config get/set, and settings taking effect.
load helpers

setup() { export HOME=$(mktemp -d); }
teardown() { remove_all; rm -rf "$HOME"; }

@test "config get shows every key with its default" {
  run sdme config get
  assert_success
  assert_line "interactive = true"
  assert_line "datadir = /var/lib/sdme"
  assert_line "boot_timeout = 60"
  assert_line "join_as_sudo_user = true"
  assert_line "host_rootfs_opaque_dirs = /etc/systemd/system,/var/log"
  assert_line "default_base_fs = "
  run sdme config get boot_timeout
  assert_output 60
  run sdme config get --json
  [ "$(jq -r .bootTimeout <<<"$output")" = 60 ]
}

@test "config set writes the file and get reads it back" {
  run sdme config set boot_timeout 120
  assert_success
  run sdme config get boot_timeout
  assert_output 120
  grep -q 'boot_timeout = 120' "$HOME/.config/sdme/sdmerc"
  sdme config set boot_timeout 60
  ! grep -q boot_timeout "$HOME/.config/sdme/sdmerc"
}

@test "config set rejects unknown keys and wrong types" {
  run sdme config set no_such_key 1
  assert_failure 2
  assert_output --partial 'unknown config key "no_such_key"'
  run sdme config set boot_timeout soon
  assert_failure 2
  assert_output --partial boot_timeout
  run sdme config set interactive maybe
  assert_failure 2
  run sdme config set datadir relative
  assert_failure 2
  [ ! -e "$HOME/.config/sdme/sdmerc" ]
}

@test "a malformed config file is named in the error" {
  mkdir -p "$HOME/.config/sdme"
  echo 'boot_timeout = "x"' > "$HOME/.config/sdme/sdmerc"
  run sdme ps
  assert_failure
  assert_output --partial "$HOME/.config/sdme/sdmerc"
}

@test "under sudo, \$SUDO_USER's config file is used when it exists" {
  th=$(getent passwd tester | cut -d: -f6)
  mkdir -p "$th/.config/sdme"
  echo 'boot_timeout = 77' > "$th/.config/sdme/sdmerc"
  chown -R tester: "$th/.config"
  run env SUDO_USER=tester sdme config get boot_timeout
  assert_output 77
  run env SUDO_USER=tester sdme config set boot_timeout 78
  grep -q 'boot_timeout = 78' "$th/.config/sdme/sdmerc"
  [ "$(stat -c %U "$th/.config/sdme/sdmerc")" = tester ] || fail "the user's file changed owner"
  rm -rf "$th/.config"
  run env SUDO_USER=tester sdme config get boot_timeout
  assert_output 60
}

@test "datadir and host_rootfs_opaque_dirs take effect" {
  # Made first: in the world-writable /var/tmp, a missing datadir could be
  # made by anyone, and sdme refuses it (security.bats).
  install -d -m 0755 /var/tmp/sdme-alt
  sdme config set datadir /var/tmp/sdme-alt
  sdme config set host_rootfs_opaque_dirs /etc/systemd/system,/var/log,/opt
  sdme create alt1
  [ -e /var/tmp/sdme-alt/state/alt1 ]
  [ ! -e /var/lib/sdme/state/alt1 ]
  [ "$(getfattr --only-values -n trusted.overlay.opaque /var/tmp/sdme-alt/containers/alt1/upper/opt 2>/dev/null || python3 -c 'import os;print(os.getxattr("/var/tmp/sdme-alt/containers/alt1/upper/opt","trusted.overlay.opaque").decode())')" = y ]
  sdme start alt1
  run sdme exec alt1 systemctl is-system-running
  assert_output running
  sdme rm alt1
  rm -rf /var/tmp/sdme-alt
}
