package varlink

import (
	"sync"

	"github.com/sdme/sdme/engine/config"
)

// pooled is what the pool needs of an engine.Engine.
type pooled interface {
	Config() config.Config
	Close()
}

// engines hands each call the engine for the current configuration, so
// that calls share its D-Bus connections. When the configuration changes,
// the engine made for the old one is closed as soon as the last call
// using it ends, rather than holding its connections until the service
// exits.
type engines[E pooled] struct {
	make func(config.Config) E
	mu   sync.Mutex
	cur  *lease[E]
}

// lease is an engine and the number of calls using it.
type lease[E pooled] struct {
	e     E
	users int
}

// acquire returns a lease on the engine for cfg; the caller gives it back
// with release when its call is done with it.
func (p *engines[E]) acquire(cfg config.Config) *lease[E] {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.e.Config() != cfg {
		old := p.cur
		p.cur = &lease[E]{e: p.make(cfg)}
		if old != nil && old.users == 0 {
			old.e.Close()
		}
	}
	p.cur.users++
	return p.cur
}

// release ends a call's use of l, closing its engine if that was the last
// call of an older configuration.
func (p *engines[E]) release(l *lease[E]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.users--
	if l.users == 0 && l != p.cur {
		l.e.Close()
	}
}

// close closes the current engine, once no call is left.
func (p *engines[E]) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.e.Close()
		p.cur = nil
	}
}
