package varlink

import (
	"sync"
	"time"
)

// What clients may hold of the service. Root may change everything
// anyway and is bounded only so far as a runaway program needs it; any
// other user far more tightly, so that no unprivileged user can deny the
// service to root or pin its memory.
const (
	// DefaultMaxConnections bounds the clients served at once; more are
	// closed at once, so a flood cannot starve the service of descriptors.
	DefaultMaxConnections = 256
	// DefaultClientIdleTimeout closes a connection of a user other than
	// root that has not sent a whole call for this long.
	DefaultClientIdleTimeout = 60 * time.Second
	// rootMessage caps one message from root, as sd-varlink caps every
	// message (VARLINK_BUFFER_MAX): a client sending more without a NUL
	// is cut off.
	rootMessage = 16 << 20
	// userMessage caps one message from any other user. Every call they
	// may make (List, ListRootfs, GetConfig, org.varlink.service.*) fits
	// in a few hundred bytes.
	userMessage = 64 << 10
	// writeTimeout drops a client that does not take a reply within it.
	writeTimeout = 30 * time.Second
)

// limits bound the connections of the service.
type limits struct {
	maxConns     int           // served at once
	rootReserve  int           // of maxConns, kept for root
	perUser      int           // connections of one user other than root
	clientIdle   time.Duration // how long a non-root connection may wait between calls
	writeTimeout time.Duration
}

// limitsFor returns the limits for opts, its defaults filled in. A
// quarter of the connections (at least one) is kept for root, and one
// user may hold an eighth: it takes six users, not one, to fill the rest.
// (sd-varlink, too, lets one UID hold only a quarter of its connections.)
func limitsFor(opts Options) limits {
	return limits{
		maxConns:     opts.MaxConnections,
		rootReserve:  max(1, opts.MaxConnections/4),
		perUser:      max(1, opts.MaxConnections/8),
		clientIdle:   opts.ClientIdleTimeout,
		writeTimeout: writeTimeout,
	}
}

// admits reports whether a new connection of uid may be served while
// total connections are, nonRoot of them of users other than root and
// ofUID of uid itself. Root is served up to maxConns, whatever the others
// hold.
func (l limits) admits(uid uint32, total, nonRoot, ofUID int) bool {
	switch {
	case total >= l.maxConns:
		return false
	case uid == 0:
		return true
	}
	return ofUID < l.perUser && nonRoot < l.maxConns-l.rootReserve
}

// unknownUID stands for a peer whose credentials could not be read:
// (uid_t)-1, which no process has. It is not root.
const unknownUID = ^uint32(0)

// clients counts the connections being served, by the uid of the peer,
// and when the last one ended.
type clients struct {
	mu        sync.Mutex
	total     int
	byUID     map[uint32]int
	idleSince time.Time
}

func newClients() *clients {
	return &clients{byUID: map[uint32]int{}, idleSince: time.Now()}
}

// admit counts a new connection of uid if l lets it be served, and
// reports whether it did; leave uncounts it when it ends.
func (c *clients) admit(l limits, uid uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l.admits(uid, c.total, c.total-c.byUID[0], c.byUID[uid]) {
		return false
	}
	c.total++
	c.byUID[uid]++
	return true
}

func (c *clients) leave(uid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.byUID[uid]--; c.byUID[uid] == 0 {
		delete(c.byUID, uid)
	}
	if c.total == 0 {
		c.idleSince = time.Now()
	}
}

// idleFor returns how long the service has been without a client.
func (c *clients) idleFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total > 0 {
		return 0
	}
	return time.Since(c.idleSince)
}
