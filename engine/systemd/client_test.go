package systemd

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdme/sdme/engine/errdefs"
)

// The causes of a failed connection stay reachable: a missing bus socket,
// and a cancelled context, which the CLI turns into exit status 130.
func TestConnectKeepsTheCause(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bus")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+sock)
	_, err := Connect(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Connect without a bus = %v, want ErrNotExist and ErrUnavailable", err)
	}

	// A bus that never answers: Connect waits until the context ends.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := Connect(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Connect cancelled = %v, want context.Canceled", err)
	}
}

func TestCoalescer(t *testing.T) {
	var k coalescer
	var runs atomic.Int32
	began, release := make(chan struct{}), make(chan struct{})
	boom := errors.New("boom")
	first := k.join(func() error {
		runs.Add(1)
		close(began)
		<-release
		return nil
	})
	<-began
	// Asked while the first run is under way, which may not see what
	// these callers wrote: all share one run after it.
	var later []*run
	for range 10 {
		later = append(later, k.join(func() error { runs.Add(1); return boom }))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := k.do(ctx, func() error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled caller got %v", err)
	}
	close(release)
	<-first.done
	if first.err != nil {
		t.Errorf("first run: %v", first.err)
	}
	for _, r := range later {
		<-r.done
		if r != later[0] || r.err != boom {
			t.Fatalf("later callers did not share one run: %v", r.err)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
	if err := k.do(context.Background(), func() error { runs.Add(1); return nil }); err != nil || runs.Load() != 3 {
		t.Errorf("a caller after both runs: %v, %d runs", err, runs.Load())
	}
}
