package spec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/intree"
	"github.com/sdme/sdme/engine/mountinfo"
	"github.com/sdme/sdme/engine/names"
)

// Root is the container's file system: an overlay whose lower layer is the
// host's / (a host clone) or an imported rootfs, and what a clone of a
// whole system needs to boot as a machine of its own: its own identity,
// none of the host's mounts, D-Bus still reachable. (Which resolver it
// runs depends on its network: see Network.)
type Root struct {
	// Rootfs is the imported rootfs; empty for a clone of the host's /.
	Rootfs string `json:"rootfs"`
	// OpaqueDirs are directories of the lower layer hidden from the
	// container: they start out empty.
	OpaqueDirs []string `json:"opaqueDirs,omitempty"`

	// masked are the units masked in the upper layer at create, a record.
	masked []string
}

func (r *Root) check() error {
	if r.Rootfs != "" {
		if err := names.Validate(r.Rootfs); err != nil {
			return err
		}
	}
	dirs, err := config.CheckOpaqueDirs(r.OpaqueDirs)
	if err != nil {
		return err
	}
	r.OpaqueDirs = dirs
	return nil
}

func (r *Root) plan(in Input, p *Plan) error {
	merged := in.Layout.Merged(in.Name)
	overlay := func(lower, upper, work, target string, optional bool) Mount {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
		return Mount{
			Argv:     []string{in.Programs.Mount, "-t", "overlay", "overlay", "-o", opts, target},
			Target:   target,
			Optional: optional,
		}
	}
	// In a user namespace, each lower layer shows through an idmapped
	// bind mount of its own (private, so that nothing mounted on the
	// host propagates into it).
	idmaps := 0
	lower := func(dir string, optional bool) string {
		if in.shift == 0 {
			return dir
		}
		target := in.Layout.IDMap(in.Name, idmaps)
		idmaps++
		p.Dirs = append(p.Dirs, target)
		p.Mounts = append(p.Mounts, Mount{
			Argv:     []string{in.Programs.Mount, "--bind", "--make-private", "-o", IDMapOption(in.shift), dir, target},
			Target:   target,
			Optional: optional,
		})
		return target
	}
	var lowers []string
	for _, l := range in.Lowers {
		lowers = append(lowers, lower(l, false))
	}
	p.Mounts = append(p.Mounts, overlay(strings.Join(lowers, ":"), in.Layout.Upper(in.Name), in.Layout.Work(in.Name), merged, false))
	if r.Rootfs != "" {
		return nil
	}
	for _, sub := range hostSubmounts(in.HostMounts, in.Layout.Datadir, r.OpaqueDirs) {
		upper, work := in.Layout.Submount(in.Name, sub)
		p.Uppers = append(p.Uppers, upper)
		p.Dirs = append(p.Dirs, work)
		// Optional: a filesystem that is gone at the next boot must not
		// keep the container from starting.
		p.Mounts = append(p.Mounts, overlay(lower(sub, true), upper, work, merged+sub, true))
	}
	return nil
}

// diskFilesystems are the filesystem types that hold data of their own.
// A host clone layers an overlay over each one mounted below /, since the
// overlay of / alone would show their mount points empty.
var diskFilesystems = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "btrfs": true, "xfs": true,
	"zfs": true, "f2fs": true, "bcachefs": true, "jfs": true, "reiserfs": true,
	"vfat": true, "exfat": true, "ntfs": true, "ntfs3": true,
}

// virtualTrees are never cloned: the container gets its own from nspawn and
// systemd, and /tmp and /var/tmp are scratch space.
var virtualTrees = []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/var/tmp"}

// hostSubmounts picks the host filesystems below / that a host clone
// layers: disk filesystems, shallowest first, except virtual trees, sdme's
// own data directory, directories the container hides as opaque, and paths
// that overlayfs options cannot express.
func hostSubmounts(mounts []mountinfo.Mount, datadir string, opaque []string) []string {
	seen := map[string]bool{}
	var out []string
next:
	for _, m := range mounts {
		p := filepath.Clean(m.Point)
		if p == "/" || !diskFilesystems[m.FSType] || seen[p] || strings.ContainsAny(p, ",:\\\" \t\n") {
			continue
		}
		for _, d := range append(append([]string{datadir}, virtualTrees...), opaque...) {
			if mountinfo.Within(p, d) {
				continue next
			}
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return strings.Count(out[i], "/") < strings.Count(out[j], "/") })
	return out
}

func (r *Root) encode(kv map[string]string) {
	kv["ROOTFS"] = r.Rootfs
	kv["OPAQUE_DIRS"] = strings.Join(r.OpaqueDirs, ",")
	kv["MASKED_SERVICES"] = strings.Join(r.masked, ",")
}

func (r *Root) decode(take func(string) string) error {
	r.Rootfs = take("ROOTFS")
	r.OpaqueDirs = splitList(take("OPAQUE_DIRS"), ",")
	r.masked = splitList(take("MASKED_SERVICES"), ",")
	return nil
}

// prepare writes the machine's identity and the host-clone policy into
// the upper layer: opaque directories, an empty fstab, a resolv.conf for
// nspawn to replace, and masks for the units of the lower layer's disks.
func (r *Root) prepare(_ context.Context, t Tree) error {
	for _, d := range r.OpaqueDirs {
		if err := mkdirLike(t, d); err != nil {
			return err
		}
		// Overlayfs shows nothing of the lower directory below an opaque one.
		if err := unix.Setxattr(filepath.Join(t.Upper, d), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("make %s opaque: %w", d, err)
		}
	}
	if err := mkdirLike(t, "/etc/systemd/system"); err != nil {
		return err
	}
	files := map[string]string{
		"etc/hostname": t.Name + "\n",
		"etc/hosts":    fmt.Sprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost %s\n", t.Name, t.Name),
		"etc/fstab":    "# sdme: the host's mounts do not belong to the container\n",
		// A regular file, not a symlink, so that nspawn's --resolv-conf=auto
		// may replace it with the host's resolver configuration.
		"etc/resolv.conf": "# sdme: replaced by systemd-nspawn at boot\n",
	}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(t.Upper, rel), []byte(content), 0o644); err != nil {
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
	if err := os.WriteFile(filepath.Join(t.Upper, "etc/machine-id"), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return err
	}
	unitDir := filepath.Join(t.Upper, systemUnits)
	var masks []string
	if slices.Contains(r.OpaqueDirs, "/etc/systemd/system") {
		// The opaque directory hides the alias that names the bus daemon
		// (dbus.service -> dbus-broker.service); without it D-Bus never starts.
		if err := copyBusAliases(t.Lowers, unitDir); err != nil {
			return err
		}
	} else {
		// The lower layer's own mount, swap and automount units are its
		// disks (the host's, for a clone), not the container's.
		hostMounts, err := hostMountUnits(t.Lowers)
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
	r.masked = masks
	return nil
}

// mkdirLike creates dir (absolute, as seen in the container) inside the
// upper layer of t, giving each directory it creates the mode and owner of
// the same directory in the lower layers, so the merged view keeps their
// permissions. An imported lower layer is an image's tree: it is looked up
// inside itself.
func mkdirLike(t Tree, dir string) error {
	p := t.Upper
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
		if fi, err := t.lowerStat(l); err == nil && fi.IsDir() {
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
// directories of lowers, if they point at a vendor unit; the top layer's
// alias wins.
func copyBusAliases(lowers []string, upperUnits string) error {
	for _, l := range lowers {
		if err := copyLayerBusAliases(l, upperUnits); err != nil {
			return err
		}
	}
	return nil
}

func copyLayerBusAliases(lower, upperUnits string) error {
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
// the unit directories of lowers.
func hostMountUnits(lowers []string) ([]string, error) {
	var out []string
	for _, lower := range lowers {
		ents, err := intree.ReadDir(lower, systemUnits)
		if noUnitDir(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, ent := range ents {
			n := ent.Name()
			if ent.IsDir() || slices.Contains(out, n) {
				continue
			}
			switch filepath.Ext(n) {
			case ".mount", ".swap", ".automount":
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
