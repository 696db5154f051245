// Package lock serialises sdme processes working on the same object.
//
// A lock is an flock(2) on DATADIR/locks/KIND/NAME.lock. The kernel drops it
// when the holder exits, even on SIGKILL, so a killed sdme never leaves a
// stale lock behind. Lock files are never deleted: unlinking a lock file
// while another process waits on it would let a third process lock a new
// inode of the same name. The file holds the PID of the last holder, so the
// error can say who is in the way.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine/errdefs"
)

// Lock is a held lock; Unlock releases it.
type Lock struct {
	f *os.File
}

// Exclusive takes the lock at path, waiting up to wait for the holder to
// let go: zero where the holder may work for minutes (an import, a boot)
// and a quick "busy" is the better answer, a few seconds where holders
// are brief. If another process still holds it, the error wraps
// errdefs.ErrLocked and names that process. what describes the object for
// the error ("container \"web\"").
func Exclusive(path, what string, wait time.Duration) (*Lock, error) {
	return take(path, what, unix.LOCK_EX, wait)
}

// Shared takes the lock at path for reading, waiting as Exclusive does:
// many holders may share it, and it keeps an Exclusive holder out (a
// rootfs that a container is being created on cannot be removed
// meanwhile).
func Shared(path, what string, wait time.Duration) (*Lock, error) {
	return take(path, what, unix.LOCK_SH, wait)
}

// retry is how often a waiting taker tries again. flock has no timeout of
// its own, and a blocking flock could not be given up on.
const retry = 20 * time.Millisecond

func take(path, what string, how int, wait time.Duration) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	for deadline := time.Now().Add(wait); errors.Is(err, unix.EWOULDBLOCK) && time.Now().Before(deadline); {
		time.Sleep(retry)
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	}
	if err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(holder))
			if _, perr := strconv.Atoi(pid); perr == nil {
				return nil, fmt.Errorf("%s is being changed by another sdme (pid %s): %w", what, pid, errdefs.ErrLocked)
			}
			return nil, fmt.Errorf("%s is being changed by another sdme: %w", what, errdefs.ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Diagnostic only: a failure to record the PID does not matter. Shared
	// holders leave it alone, or they would erase each other's.
	if how == unix.LOCK_EX {
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock. It is safe to call on a nil Lock.
func (l *Lock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
}
