package systemd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/sdme/sdme/engine/errdefs"
)

// MinVersion is the oldest systemd sdme runs on.
const MinVersion = 252

// managerVersion returns the Version property of the system manager:
// "257.9-1~deb13u1", "252", "256.7-arch1-1", ...
func managerVersion(ctx context.Context, bus *dbus.Conn) (string, error) {
	var v dbus.Variant
	err := bus.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1").
		CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.systemd1.Manager", "Version").Store(&v)
	if err != nil {
		return "", fmt.Errorf("systemd's version (is systemd PID 1?): %w: %w", err, errdefs.ErrUnavailable)
	}
	s, _ := v.Value().(string)
	return s, nil
}

// checkVersion refuses a systemd older than MinVersion up front, rather
// than have a unit setting it lacks fail later, somewhere less clear. A
// version it cannot read is let through: a build of its own is likelier
// new than old.
func checkVersion(version string) error {
	n, ok := parseVersion(version)
	if ok && n < MinVersion {
		return fmt.Errorf("systemd %d is too old: sdme needs %d or newer: %w", n, MinVersion, errdefs.ErrUnavailable)
	}
	return nil
}

// parseVersion reads the major version, the first number in s: "257"
// of "257.9-1~deb13u1", "256" of "v256-rc1".
func parseVersion(s string) (int, bool) {
	i := strings.IndexAny(s, "0123456789")
	if i < 0 {
		return 0, false
	}
	s = s[i:]
	if j := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
		s = s[:j]
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
