package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdme/sdme/engine/atomicfile"
	"github.com/sdme/sdme/engine/fsmeta"
	"github.com/sdme/sdme/engine/lock"
)

// cache is the layers of earlier steps, each a directory named by its
// key, and for each build name the layers its last build used. What no
// build name uses any more is deleted after a build that succeeds, so
// the cache holds one chain of layers per name: enough to resume a build
// that failed, or to rebuild one that did not change.
//
// Every build holds the cache shared; the collection takes it exclusive,
// and skips when a build is running, whose layers are mounted.
type cache struct {
	dir  string
	lock *lock.Lock
}

// keyLen is the part of a key that names its layer: 128 bits, short
// enough that an overlay of 60 layers fits in the one page of options
// mount(2) takes.
const keyLen = 32

func (b *Builder) openCache() (*cache, error) {
	dir := b.layout.BuildDir()
	for _, d := range []string{"layers", "chains"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	l, err := lock.Shared(filepath.Join(dir, "cache.lock"), "the build cache", briefWait)
	if err != nil {
		return nil, err
	}
	return &cache{dir: dir, lock: l}, nil
}

func (c *cache) close() {
	if c.lock != nil {
		c.lock.Unlock()
		c.lock = nil
	}
}

func (c *cache) layer(key string) string {
	return filepath.Join(c.dir, "layers", key[:keyLen])
}

// commit moves a step's upper directory into the cache as the layer of
// key. A layer of that key made meanwhile (by a build beside this one)
// is never deleted, since another build may have it mounted: with
// replace (--no-cache) it is moved aside for the collection, otherwise
// it is kept and this step's upper is dropped.
func (c *cache) commit(key, upper string, replace bool) (string, error) {
	dst := c.layer(key)
	if exists(dst) {
		if !replace {
			return dst, removeTree(upper)
		}
		if err := os.Rename(dst, filepath.Join(c.dir, "layers", ".old-"+filepath.Base(upper)+"-"+key[:keyLen])); err != nil {
			return "", err
		}
	}
	if err := os.Rename(upper, dst); err != nil {
		if exists(dst) { // made meanwhile by a build beside this one
			return dst, removeTree(upper)
		}
		return "", fmt.Errorf("keep the step's layer: %w", err)
	}
	return dst, nil
}

// record notes the layers of build name; failing to is not an error of
// the build, only a cache that may be collected early.
func (c *cache) record(name string, keys []string) {
	short := make([]string, len(keys))
	for i, k := range keys {
		short[i] = k[:keyLen]
	}
	atomicfile.Write(filepath.Join(c.dir, "chains", name), []byte(strings.Join(short, "\n")+"\n"), 0o600)
}

// gc deletes the layers no build name uses, unless a build is running.
func (c *cache) gc() {
	c.close()
	l, err := lock.Exclusive(filepath.Join(c.dir, "cache.lock"), "the build cache", 0)
	if err != nil {
		return
	}
	defer l.Unlock()
	used := map[string]bool{}
	chains, _ := os.ReadDir(filepath.Join(c.dir, "chains"))
	for _, ch := range chains {
		data, err := os.ReadFile(filepath.Join(c.dir, "chains", ch.Name()))
		if err != nil {
			return // rather keep too much than delete what is used
		}
		for _, k := range strings.Fields(string(data)) {
			used[k] = true
		}
	}
	layers, _ := os.ReadDir(filepath.Join(c.dir, "layers"))
	for _, l := range layers {
		if used[l.Name()] {
			continue
		}
		// Out of the way first: a collection killed midway must not leave
		// half a layer under its key, which a build would take as cached.
		p := filepath.Join(c.dir, "layers", l.Name())
		if !strings.HasPrefix(l.Name(), ".") {
			old := filepath.Join(c.dir, "layers", ".old-"+l.Name())
			if os.Rename(p, old) != nil {
				continue
			}
			p = old
		}
		removeTree(p)
	}
}

// removeTree deletes a directory a build wrote, which a RUN may have
// left with immutable files.
func removeTree(dir string) error {
	err := os.RemoveAll(dir)
	if errors.Is(err, fs.ErrPermission) {
		if err = fsmeta.Unpin(dir); err == nil {
			err = os.RemoveAll(dir)
		}
	}
	return err
}
