#!/usr/bin/env bats
# Help, completion and man pages.
load helpers

teardown_file() { remove_all; }

@test "every command has --help with examples" {
  for c in new create start stop restart rm enable disable ps join exec logs "config get" "config set"; do
    run sdme $c --help
    assert_success
    assert_output --partial "Usage:"
    assert_output --partial "Examples:"
  done
}

@test "bash, zsh and fish completion; container names complete" {
  for sh in bash zsh fish; do
    run sdme completion $sh
    assert_success
    [ "${#lines[@]}" -gt 10 ]
  done
  sdme create compl-one
  run sdme __complete start compl
  assert_line compl-one
  run sdme __complete config set boot
  assert_line boot_timeout
}

@test "man pages are built for every command" {
  d=/src/bin/man
  [ -s "$d/sdme.1" ] && [ -s "$d/sdme-start.1" ] && [ -s "$d/sdme-config-set.1" ] && [ -s "$d/sdme-fs-import.1" ]
  grep -q 'sdme-fs-import(1)' "$d/sdme-fs.1"
}

@test "an unknown command of a group is a usage error" {
  for g in fs config; do
    run --separate-stderr sdme $g frobnicate
    assert_failure 2
    [[ "$stderr" == *"unknown command \"frobnicate\" for 'sdme $g'"*"see 'sdme $g --help'"* ]]
  done
  # bare, a group prints its help and fails: it did nothing
  run --separate-stderr sdme fs
  assert_failure 2
  assert_output --partial "Available Commands:"
}
