#!/usr/bin/env bats
# Batch verbs: start, stop, restart and rm of several containers run them
# side by side, report each by name in argument order, and fail at the end.
load helpers

setup_file() {
  remove_all
  for n in bt1 bt2 bt3 bt4; do sdme create $n >/dev/null 2>&1; done
}
teardown_file() { remove_all; }

# monotonic PROPERTY UNIT...: the property of each unit, in microseconds.
monotonic() {
  local p=$1; shift
  for u in "$@"; do systemctl show -p "$p" --value "sdme@$u.service"; done
}

@test "start of several boots them side by side and prints them in argument order" {
  run --separate-stderr sdme start bt3 bt1 bt4 bt2
  assert_success
  [ "$output" = "$(printf 'bt3\nbt1\nbt4\nbt2')" ]
  for n in bt1 bt2 bt3 bt4; do
    [[ "$stderr" == *"starting '$n'"* ]]
    run sdme exec $n systemctl is-system-running
    assert_output running
  done
  # Every boot began before any had finished.
  last_begun=$(monotonic InactiveExitTimestampMonotonic bt1 bt2 bt3 bt4 | sort -n | tail -1)
  first_up=$(monotonic ActiveEnterTimestampMonotonic bt1 bt2 bt3 bt4 | sort -n | head -1)
  [ "$last_begun" -lt "$first_up" ] || fail "the boots ran one after another: $last_begun >= $first_up"
}

@test "stop of several stops them all" {
  run --separate-stderr sdme stop bt1 bt2 bt3 bt4
  assert_success
  [ "$output" = "$(printf 'bt1\nbt2\nbt3\nbt4')" ]
  run sdme ps
  for n in bt1 bt2 bt3 bt4; do
    assert_line --regexp "^$n +stopped"
    ! grep -q "/containers/$n/merged" /proc/self/mountinfo
  done
}

@test "a bad name and a container that cannot boot do not keep the others from starting" {
  # An opaque /usr leaves the clone without an init.
  sdme create btbroken -o /usr
  run --separate-stderr sdme start bt1 nosuch btbroken bt2
  assert_failure 1
  [ "$output" = "$(printf 'bt1\nbt2')" ]
  [[ "$stderr" == *'container "nosuch": not found'* ]]
  [[ "$stderr" == *'container "btbroken" failed to boot'* ]]
  [[ "$stderr" == *'2 of 4 containers could not be started'* ]]
  run sdme ps
  assert_line --regexp '^bt1 +running'
  assert_line --regexp '^bt2 +running'
  assert_line --regexp '^btbroken +(failed|stopped)'
  sdme rm btbroken
}

@test "a container named twice is started once and reported twice" {
  run --separate-stderr sdme start bt3 bt3
  assert_success
  [ "$output" = "$(printf 'bt3\nbt3')" ]
}

@test "restart of several boots each again" {
  old1=$(machinectl show bt1 -p Leader --value)
  old2=$(machinectl show bt2 -p Leader --value)
  run --separate-stderr sdme restart bt1 bt2
  assert_success
  [ "$output" = "$(printf 'bt1\nbt2')" ]
  [ "$(machinectl show bt1 -p Leader --value)" != "$old1" ]
  [ "$(machinectl show bt2 -p Leader --value)" != "$old2" ]
  for n in bt1 bt2; do
    run sdme exec $n systemctl is-system-running
    assert_output running
  done
}

@test "rm of several removes them all, running or not" {
  run --separate-stderr sdme rm -f bt1 bt2 bt3 bt4
  assert_success
  [ "$output" = "$(printf 'bt1\nbt2\nbt3\nbt4')" ]
  for n in bt1 bt2 bt3 bt4; do assert_no_leftovers $n; done
}

@test "a batch of 200 goes through: the system bus refuses none of its calls" {
  seq 200 | xargs -P 4 -I{} sdme create btm{} >/dev/null 2>&1
  run --separate-stderr sdme stop $(seq -f 'btm%g' 200)
  assert_success
  [ "${#lines[@]}" = 200 ]
  run --separate-stderr sdme rm $(seq -f 'btm%g' 200)
  assert_success
  [ "${#lines[@]}" = 200 ]
  [ -z "$(ls $DATADIR/state | grep '^btm')" ]
}
