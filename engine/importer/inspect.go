package importer

import (
	"strconv"
	"strings"

	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/printable"
	"github.com/sdme/sdme/engine/rootfs"
)

// Paths whose presence says a tree has systemd and a D-Bus daemon, which a
// container needs to boot and to be joined.
var (
	systemdPaths = []string{"usr/lib/systemd/systemd", "lib/systemd/systemd", "usr/bin/systemd"}
	dbusPaths    = []string{"usr/bin/dbus-daemon", "usr/bin/dbus-broker", "usr/lib/dbus-1.0/dbus-daemon-launch-helper"}
)

// inspect records the distribution of the tree at root in info and
// returns warnings about what would keep it from booting. The tree is the
// image's: everything in it is looked up inside it (package intree).
func inspect(root string, info *rootfs.Info) []string {
	var warns []string
	osr := osRelease(root)
	info.Distro = osr["PRETTY_NAME"]
	if info.Distro == "" {
		info.Distro = osr["NAME"]
	}
	if len(osr) == 0 {
		warns = append(warns, "the tree has no os-release (etc/os-release or usr/lib/os-release); it may not be an operating system")
	}
	if !anyExists(root, systemdPaths) {
		warns = append(warns, "the tree has no systemd (looked for /usr/lib/systemd/systemd); containers made of it will not boot")
	}
	if !anyExists(root, dbusPaths) {
		warns = append(warns, "the tree has no D-Bus daemon (dbus-daemon or dbus-broker); machinectl and sdme join will not work in its containers")
	}
	return warns
}

// anyExists reports whether any of paths exists below root, following
// symlinks inside root as they would be followed in a container.
func anyExists(root string, paths []string) bool {
	for _, p := range paths {
		if _, err := intree.Stat(root, p); err == nil {
			return true
		}
	}
	return false
}

// maxOSRelease bounds the os-release file read; real ones are under 1 KiB.
const maxOSRelease = 64 << 10

// osRelease reads the os-release file of the tree at root: etc/os-release,
// else usr/lib/os-release, as systemd reads it. A file that is missing,
// not regular or too large counts as none.
func osRelease(root string) map[string]string {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		if data, err := intree.ReadFile(root, p, maxOSRelease); err == nil {
			return parseOSRelease(data)
		}
	}
	return map[string]string{}
}

// parseOSRelease parses KEY=VALUE lines, values optionally quoted. The
// values are the image's words: control characters are taken out, so that
// they cannot reach a terminal through fs ls.
func parseOSRelease(data []byte) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		kv[printable.Line(k)] = printable.Line(v)
	}
	return kv
}
