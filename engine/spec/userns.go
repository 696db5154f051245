package spec

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// UserNS runs the container in a user namespace of its own: its root is
// an unprivileged user of the host, UIDs and GIDs Shift to
// Shift+UsernsRange-1.
//
// The lower layers are never changed for it: each is mounted idmapped
// (the files of UID 0 show as Shift) below the overlay, so one rootfs
// serves containers with and without user namespaces. The upper layer is
// the container's own and holds shifted owners, as nspawn's
// --private-users-ownership=chown would leave them. (The overlay cannot
// use an idmapped upper layer: it writes its work directory as the host's
// root, which such a mount does not map.)
type UserNS struct {
	Enabled bool `json:"userns,omitempty"`
	// Shift is set at create (AllocateShift), never by the caller.
	Shift uint32 `json:"usernsShift,omitempty"`
}

// UsernsRange is the UIDs (and GIDs) of a container's user namespace: the
// 16 bits a Linux distribution uses.
const UsernsRange = 65536

// UsernsProbeShift is a range to try an idmapped mount with.
const UsernsProbeShift = shiftMin

// The shifts nspawn's --private-users=pick chooses from, which the host's
// own users and nspawn's dynamic users stay clear of.
const (
	shiftMin = 0x00080000
	shiftMax = 0x6FFF0000
)

func (u *UserNS) check() error {
	if !u.Enabled {
		if u.Shift != 0 {
			return Invalid("userns shift", strconv.FormatUint(uint64(u.Shift), 10), "set without a user namespace")
		}
		return nil
	}
	if u.Shift != 0 && !validShift(u.Shift) {
		return Invalid("userns shift", strconv.FormatUint(uint64(u.Shift), 10), fmt.Sprintf("want a multiple of %d from %d to %d", UsernsRange, shiftMin, shiftMax))
	}
	return nil
}

func validShift(s uint32) bool { return s%UsernsRange == 0 && s >= shiftMin && s <= shiftMax }

// AllocateShift picks the shift of container name: the same for a name
// each time where it is free, otherwise the next free one. used are the
// shifts of the other containers.
func AllocateShift(name string, used map[uint32]bool) (uint32, error) {
	h := fnv.New32a()
	h.Write([]byte(name))
	slots := uint32((shiftMax-shiftMin)/UsernsRange) + 1
	first := h.Sum32() % slots
	for i := uint32(0); i < slots; i++ {
		s := shiftMin + ((first+i)%slots)*UsernsRange
		if !used[s] {
			return s, nil
		}
	}
	return 0, errors.New("every user namespace range is taken")
}

// plan: the idmapped lower layers are Root's (Input.shift); nspawn maps
// the namespace and leaves the files alone.
func (u *UserNS) plan(_ Input, p *Plan) error {
	if !u.Enabled {
		return nil
	}
	p.Nspawn = append(p.Nspawn,
		fmt.Sprintf("--private-users=%d:%d", u.Shift, UsernsRange),
		"--private-users-ownership=off")
	return nil
}

// bindIDMap is the option of nspawn's --bind that shows a directory of
// sdme's own (an application's volume, in the data directory that is
// root's alone) to the container's user namespace with the owners it has
// on disk.
func (in Input) bindIDMap() string {
	if in.shift == 0 {
		return ""
	}
	return ":idmap"
}

// IDMapOption is util-linux mount's option for a read-only bind mount
// (the overlay only reads its lower layers) that shows the files of UID
// and GID 0.. as shift..
func IDMapOption(shift uint32) string {
	return fmt.Sprintf("ro,X-mount.idmap=b:0:%d:%d", shift, UsernsRange)
}

// The state keys are the original sdme's.
func (u *UserNS) encode(kv map[string]string) {
	if !u.Enabled {
		return
	}
	kv["USERNS"] = "yes"
	kv["USERNS_SHIFT"] = strconv.FormatUint(uint64(u.Shift), 10)
	kv["USERNS_RANGE"] = strconv.Itoa(UsernsRange)
}

func (u *UserNS) decode(take func(string) string) error {
	on, shift, rng := take("USERNS"), take("USERNS_SHIFT"), take("USERNS_RANGE")
	if on == "" {
		return nil
	}
	if on != "yes" {
		return errors.New("USERNS is not yes")
	}
	n, err := strconv.ParseUint(shift, 10, 32)
	if err != nil || !validShift(uint32(n)) {
		return errors.New("USERNS_SHIFT is not a user namespace range of sdme")
	}
	if rng != strconv.Itoa(UsernsRange) {
		return errors.New("USERNS_RANGE is not " + strconv.Itoa(UsernsRange))
	}
	u.Enabled, u.Shift = true, uint32(n)
	return nil
}

// prepare shifts the owners of what create wrote into the upper layer,
// which the other features wrote as the host's root: UserNS comes last.
func (u *UserNS) prepare(ctx context.Context, t Tree) error {
	if !u.Enabled {
		return nil
	}
	return shiftOwners(ctx, t.Upper, u.Shift)
}

// shiftOwners adds shift to the owner and group of every file below root,
// root included, keeping the set-ID bits that chown clears.
func shiftOwners(ctx context.Context, root string, shift uint32) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || st.Uid >= UsernsRange || st.Gid >= UsernsRange {
			return fmt.Errorf("%s: owner %d:%d is outside a user namespace", p, st.Uid, st.Gid)
		}
		if err := os.Lchown(p, int(shift+st.Uid), int(shift+st.Gid)); err != nil {
			return err
		}
		if fi.Mode().IsRegular() && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			return os.Chmod(p, fi.Mode())
		}
		return nil
	})
}
