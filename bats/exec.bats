#!/usr/bin/env bats
# exec and join: exit status, pipes, users.
load helpers

setup_file() {
  remove_all
  sdme create ex1 >/dev/null 2>&1
  sdme start ex1 >/dev/null 2>&1
}
teardown_file() { remove_all; }

@test "exec passes the exit status back" {
  run sdme exec ex1 sh -c 'exit 42'
  assert_failure 42
  run sdme exec ex1 true
  assert_success
  run sdme exec ex1 -- false
  assert_failure 1
}

@test "exec pipes stdin, stdout and stderr" {
  run bash -c 'printf "a\nb\nc\n" | sdme exec ex1 -- wc -l'
  assert_output 3
  run --separate-stderr sdme exec ex1 sh -c 'echo out; echo err >&2'
  assert_output out
  [ "$stderr" = err ]
  run bash -c 'seq 1 100000 | sdme exec ex1 -- sha256sum'
  [ "$output" = "$(seq 1 100000 | sha256sum)" ]
}

@test "exec: options after NAME belong to the command; -u picks the user" {
  run sdme exec ex1 ls -d /etc
  assert_output /etc
  run sdme exec -u tester ex1 id -un
  assert_output tester
}

@test "exec of a missing program fails" {
  run sdme exec ex1 /nonexistent/program
  assert_failure
}

@test "exec and join need a running container" {
  sdme create ex2
  run sdme exec ex2 true
  assert_failure 1
  assert_output --partial "not running"
  run sdme join ex2
  assert_failure 1
  sdme rm ex2
}

@test "join without a terminal runs a login shell on stdin" {
  run bash -c 'echo "echo shell=\$0 user=\$(id -un) home=\$HOME" | sdme join ex1'
  assert_success
  assert_output --regexp 'shell=-?(/bin/)?(ba)?sh user=root home=/root'
}

@test "join with a command passes its status back" {
  run sdme join ex1 sh -c 'exit 5'
  assert_failure 5
  run sdme join ex1 hostname
  assert_output ex1
}

@test "join logs a host clone in as \$SUDO_USER when that user exists" {
  run env SUDO_USER=tester sdme join ex1 id -un
  assert_output --partial tester
  run env SUDO_USER=nosuchuser sdme join ex1 id -un
  assert_output root
  run env SUDO_USER=tester sdme join -u root ex1 id -un
  assert_output root
}

@test "join_as_sudo_user false joins as root" {
  HOME=/tmp/joinhome sdme config set join_as_sudo_user false
  run env HOME=/tmp/joinhome SUDO_USER=tester sdme join ex1 id -un
  assert_output root
  rm -rf /tmp/joinhome
}
