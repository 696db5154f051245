#!/usr/bin/env bats
# enable/disable; what must survive a reboot is in reboot/.
load helpers

@test "enable and disable link the unit into machines.target" {
  sdme create en1
  run --separate-stderr sdme enable en1
  assert_success
  assert_output en1
  run systemctl is-enabled sdme@en1.service
  assert_output enabled
  run sdme ps --json
  [ "$(jq -r '.[] | select(.name=="en1") | .enabled' <<<"$output")" = true ]
  run sdme disable en1
  assert_success
  run systemctl is-enabled sdme@en1.service
  refute_output enabled
  sdme enable en1
  sdme rm en1
  run systemctl is-enabled sdme@en1.service
  refute_output enabled
  assert_no_leftovers en1
}
