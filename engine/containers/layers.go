package containers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/fsmeta"
	"github.com/sdme/sdme/engine/intree"
)

// maskedServices are masked in every host clone. The clone shares the
// host's network, where the host's own resolver already listens on
// 127.0.0.53; a second systemd-resolved would fight it for the address.
var maskedServices = []string{"systemd-resolved.service"}

// prepareLayers makes the container's directories and writes into its upper
// layer what a clone of lower needs to boot as a machine of its own: its
// own hostname and an empty machine-id (systemd makes a transient one),
// none of the host's mounts, and D-Bus still reachable.
func (e *Engine) prepareLayers(name, lower string, opaque []string) error {
	upper := e.layout.Upper(name)
	// The container's directory is root's alone like the data directory;
	// upper and merged have the mode of the container's / .
	if err := os.Mkdir(e.layout.ContainerDir(name), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for dir, mode := range map[string]os.FileMode{
		upper: 0o755, e.layout.Work(name): 0o700, e.layout.Merged(name): 0o755,
	} {
		if err := os.MkdirAll(dir, mode); err != nil {
			return err
		}
		if err := os.Chmod(dir, mode); err != nil { // MkdirAll honours umask
			return err
		}
	}
	for _, d := range opaque {
		if err := mkdirLike(upper, lower, d); err != nil {
			return err
		}
		// Overlayfs shows nothing of the lower directory below an opaque one.
		if err := unix.Setxattr(filepath.Join(upper, d), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("make %s opaque: %w", d, err)
		}
	}
	if err := mkdirLike(upper, lower, "/etc/systemd/system"); err != nil {
		return err
	}
	files := map[string]string{
		"etc/hostname": name + "\n",
		"etc/hosts":    fmt.Sprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost %s\n", name, name),
		"etc/fstab":    "# sdme: the host's mounts do not belong to the container\n",
		// A regular file, not a symlink, so that nspawn's --resolv-conf=auto
		// may replace it with the host's resolver configuration.
		"etc/resolv.conf": "# sdme: replaced by systemd-nspawn at boot\n",
	}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(upper, rel), []byte(content), 0o644); err != nil {
			return err
		}
	}
	// A machine ID of its own. An empty file is not enough: systemd 257's
	// nspawn then hands the guest the host's ID, which its first boot
	// commits to /etc/machine-id.
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(upper, "etc/machine-id"), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return err
	}
	unitDir := filepath.Join(upper, "etc/systemd/system")
	masks := append([]string(nil), maskedServices...)
	if contains(opaque, "/etc/systemd/system") {
		// The opaque directory hides the alias that names the bus daemon
		// (dbus.service -> dbus-broker.service); without it D-Bus never starts.
		if err := copyBusAliases(lower, unitDir); err != nil {
			return err
		}
	} else {
		// The host's own mount, swap and automount units are its disks, not
		// the container's.
		hostMounts, err := hostMountUnits(lower)
		if err != nil {
			return err
		}
		masks = append(masks, hostMounts...)
	}
	for _, u := range masks {
		p := filepath.Join(unitDir, u)
		os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return err
		}
	}
	return nil
}

// mkdirLike creates dir (absolute, as seen in the container) inside upper,
// giving each directory it creates the mode and owner of the same directory
// in lower, so the merged view keeps the lower layer's permissions. An
// imported lower layer is an image's tree: it is looked up inside itself.
func mkdirLike(upper, lower, dir string) error {
	p := upper
	l := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		p = filepath.Join(p, part)
		l = filepath.Join(l, part)
		if fi, err := os.Lstat(p); err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a directory", p)
			}
			continue
		}
		mode, uid, gid := os.FileMode(0o755), 0, 0
		if fi, err := intree.Stat(lower, l); err == nil && fi.IsDir() {
			mode = fi.Mode().Perm()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				uid, gid = int(st.Uid), int(st.Gid)
			}
		}
		if err := os.Mkdir(p, mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// systemUnits is the system unit directory of a tree, as seen inside it.
const systemUnits = "etc/systemd/system"

// noUnitDir says a tree has no unit directory: none at all, or something
// else in its place, which the container's own directory will hide.
func noUnitDir(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// copyBusAliases copies the dbus*.service alias symlinks of the unit
// directory of lower, if they point at a vendor unit.
func copyBusAliases(lower, upperUnits string) error {
	ents, err := intree.ReadDir(lower, systemUnits)
	if noUnitDir(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ent := range ents {
		n := ent.Name()
		if ent.Type() != fs.ModeSymlink || !strings.HasPrefix(n, "dbus") || !strings.HasSuffix(n, ".service") {
			continue
		}
		target, err := intree.Readlink(lower, systemUnits+"/"+n)
		if err != nil {
			return err
		}
		if !vendorUnit(target) {
			continue
		}
		if err := os.Symlink(target, filepath.Join(upperUnits, n)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// vendorUnit reports whether an alias target is a unit shipped by a package.
func vendorUnit(target string) bool {
	clean := filepath.Clean(target)
	if clean != target || strings.Contains(target, "..") {
		return false
	}
	for _, dir := range []string{"/usr/lib/systemd/system/", "/lib/systemd/system/"} {
		if strings.HasPrefix(target, dir) {
			return true
		}
	}
	return false
}

// hostMountUnits lists the .mount, .swap and .automount units configured in
// the unit directory of lower.
func hostMountUnits(lower string) ([]string, error) {
	ents, err := intree.ReadDir(lower, systemUnits)
	if noUnitDir(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ent := range ents {
		n := ent.Name()
		if ent.IsDir() {
			continue
		}
		switch filepath.Ext(n) {
		case ".mount", ".swap", ".automount":
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// removeContainerDir deletes a container's directory. It first unmounts
// whatever is still mounted below it, deepest first, and refuses to delete
// if anything stays mounted: deleting through a live overlay would write
// whiteouts instead, and through a bind mount would delete host files.
func (e *Engine) removeContainerDir(name string) error {
	dir := e.layout.ContainerDir(name)
	mounts, err := mountsBelow(dir)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	if left, err := mountsBelow(dir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("refusing to delete %s: %s is still mounted", dir, left[0])
	}
	err = os.RemoveAll(dir)
	if errors.Is(err, fs.ErrPermission) {
		// The guest made some of its files immutable (chattr +i), which
		// stops even root: clear the flags, then delete.
		if err = fsmeta.Unpin(dir); err == nil {
			err = os.RemoveAll(dir)
		}
	}
	return err
}
