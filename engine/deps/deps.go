// Package deps finds the programs sdme runs, before it runs them, and names
// the Debian package of every missing one in a single error.
package deps

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"github.com/sdme/sdme/engine/errdefs"
)

// packages maps each program sdme runs to the Debian package shipping it.
var packages = map[string]string{
	"systemd-nspawn": "systemd-container",
	"machinectl":     "systemd-container",
	"systemd-run":    "systemd",
	"journalctl":     "systemd",
	"systemctl":      "systemd",
	"mount":          "mount",
	"umount":         "mount",
	"rmdir":          "coreutils",
	"losetup":        "mount",
	"qemu-img":       "qemu-utils",
	"qemu-nbd":       "qemu-utils",
	// Debian 12 ships it apart from qemu-utils.
	"qemu-storage-daemon": "qemu-system-common",
}

// Find resolves each program in $PATH and returns their absolute paths in
// the same order. If any is missing, the error lists all of them with the
// packages to install.
func Find(programs ...string) ([]string, error) {
	paths := make([]string, len(programs))
	var missing []string
	pkgs := map[string]bool{}
	for i, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			missing = append(missing, p)
			pkgs[packages[p]] = true
			continue
		}
		paths[i] = path
	}
	if len(missing) == 0 {
		return paths, nil
	}
	var list []string
	for p := range pkgs {
		list = append(list, p)
	}
	sort.Strings(list)
	return nil, fmt.Errorf("%s not found in $PATH; install the Debian package %s (apt-get install %s): %w",
		strings.Join(missing, ", "), strings.Join(list, ", "), strings.Join(list, " "), errdefs.ErrMissingProgram)
}
