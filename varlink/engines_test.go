package varlink

import (
	"testing"

	"github.com/sdme/sdme/engine/config"
)

type fakeEngine struct {
	cfg    config.Config
	closed int
}

func (e *fakeEngine) Config() config.Config { return e.cfg }
func (e *fakeEngine) Close()                { e.closed++ }

func TestRetiredEngineClosedWhenItsLastCallEnds(t *testing.T) {
	p := engines[*fakeEngine]{make: func(cfg config.Config) *fakeEngine { return &fakeEngine{cfg: cfg} }}
	a, b := config.Default(), config.Default()
	b.Datadir = "/srv/sdme"

	first := p.acquire(a)
	second := p.acquire(a)
	if first != second {
		t.Fatal("two calls under one configuration got two engines")
	}
	// The configuration changes while both calls still use the old engine.
	newer := p.acquire(b)
	p.release(first)
	if first.e.closed != 0 {
		t.Fatal("the old engine was closed while a call still used it")
	}
	p.release(second)
	if first.e.closed != 1 {
		t.Fatalf("the old engine was closed %d times after its last call, want 1", first.e.closed)
	}
	p.release(newer)
	if newer.e.closed != 0 {
		t.Fatal("the current engine was closed when its call ended")
	}
	// An engine no call uses is closed at once when it is replaced.
	p.acquire(a)
	if newer.e.closed != 1 {
		t.Fatal("an unused engine was not closed when the configuration changed")
	}
	p.close()
	if p.cur != nil {
		t.Fatal("close left a current engine")
	}
}
