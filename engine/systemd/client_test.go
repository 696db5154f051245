package systemd

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

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
