package importer

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sdme/sdme/engine/rootfs"
)

// Paths whose presence says a tree has systemd and a D-Bus daemon, which a
// container needs to boot and to be joined.
var (
	systemdPaths = []string{"usr/lib/systemd/systemd", "lib/systemd/systemd", "usr/bin/systemd"}
	dbusPaths    = []string{"usr/bin/dbus-daemon", "usr/bin/dbus-broker", "usr/lib/dbus-1.0/dbus-daemon-launch-helper"}
)

// inspect records the distribution of the tree at root in info and
// returns warnings about what would keep it from booting.
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

// anyExists reports whether any of paths exists below root. Symlinks are
// resolved inside root, as they would be in a container.
func anyExists(root string, paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(inRoot(root, p)); err == nil {
			return true
		}
	}
	return false
}

// inRoot resolves p below root, following symlinks (/lib -> usr/lib) as
// if root were /, and never leaving it.
func inRoot(root, p string) string {
	cur := ""
	parts := strings.Split(p, "/")
	for hops := 0; len(parts) > 0 && hops < 40; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, part)
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			cur = next
			continue
		}
		hops++
		if filepath.IsAbs(target) {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return filepath.Join(root, filepath.Clean("/"+cur))
}

// osRelease reads the os-release file of the tree at root.
func osRelease(root string) map[string]string {
	kv := map[string]string{}
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		f, err := os.Open(inRoot(root, p))
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok || strings.HasPrefix(k, "#") {
				continue
			}
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			} else {
				v = strings.Trim(v, `"'`)
			}
			kv[k] = v
		}
		break
	}
	return kv
}
