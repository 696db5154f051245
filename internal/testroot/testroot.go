// Package testroot is for tests that need root, or something of the
// machine they run on (a program, loop devices, a tmpfs mount): elsewhere
// they skip, but `make test` runs as root on a machine .ci/run has set up,
// and sets SDME_TEST_REQUIRE_ROOT=1, so that there a skip is a failure and
// no test passes unnoticed by not running.
package testroot

import (
	"os"
	"testing"
)

// Env is the variable that turns skips into failures.
const Env = "SDME_TEST_REQUIRE_ROOT"

// Require skips t unless it runs as root.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// Missing ends t for want of something this machine lacks: a skip, or a
// failure when Env is 1.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(Env) == "1" {
		t.Fatalf(format+" ("+Env+"=1: every test must run)", args...)
	}
	t.Skipf(format, args...)
}
