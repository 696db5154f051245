package containers

import (
	"os"
	"sync"
	"time"

	"github.com/sdme/sdme/engine/state"
)

// stateCache keeps the parsed state files of a long-lived engine (the
// varlink service) while the state directory is unchanged: every change
// to a state file (a claim, an atomic rewrite, a removal) creates, renames
// or unlinks an entry, which moves the directory's mtime. A directory
// changed within racyWindow is read afresh: two changes within one tick of
// the filesystem clock can leave the same mtime.
type stateCache struct {
	mu     sync.Mutex
	mtime  time.Time
	states []cachedState
}

type cachedState struct {
	name string
	c    state.Container
	err  error
}

const racyWindow = 2 * time.Second

// states returns every container's parsed state, in name order.
func (e *Engine) states() ([]cachedState, error) {
	dir := e.layout.StateDir()
	fi, err := os.Stat(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sc := &e.stateCache
	sc.mu.Lock()
	defer sc.mu.Unlock()
	fresh := fi != nil && time.Since(fi.ModTime()) > racyWindow
	if fresh && fi.ModTime().Equal(sc.mtime) {
		return sc.states, nil
	}
	names, err := state.Names(dir)
	if err != nil {
		return nil, err
	}
	out := make([]cachedState, 0, len(names))
	for _, n := range names {
		c, err := state.Read(e.layout.StateFile(n))
		out = append(out, cachedState{n, c, err})
	}
	sc.states, sc.mtime = out, time.Time{}
	if fresh {
		sc.mtime = fi.ModTime()
	}
	return out, nil
}
