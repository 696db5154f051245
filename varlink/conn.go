package varlink

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime/debug"
	"time"
)

// clientConn is one client's connection as the service serves it: whole
// messages read within the client's limits, replies written within a
// deadline. The library's ServeConn does neither: its read buffer stays
// as large as the largest message the connection ever carried, and its
// writes wait for the client for as long as it likes.
type clientConn struct {
	conn         net.Conn
	maxMessage   int           // the longest message, without its NUL
	idle         time.Duration // how long to wait for a whole call (0: for ever)
	writeTimeout time.Duration
	buf          []byte // read, not yet served; buf[:served] is the message being served
	served       int
}

const (
	// readSize is the most one read asks of the socket (sd-varlink's
	// VARLINK_READ_SIZE), and the size a buffer goes back to after a
	// larger message.
	readSize = 8 << 10
	// freeAfter: after a message this large, the heap goes back to the
	// kernel at once. Go's scavenger would return it only minutes later,
	// and the service's memory would stay at its peak until then. Only
	// root's messages can be this large, so no user can make the service
	// collect its garbage at every call.
	freeAfter = 1 << 20
)

// conn returns c as l bounds it for its peer: root's messages may be as
// large as sd-varlink allows and its connections may wait; everyone
// else's are small and closed when idle.
func (l limits) conn(c net.Conn, root bool) *clientConn {
	if root {
		return &clientConn{conn: c, maxMessage: rootMessage, writeTimeout: l.writeTimeout}
	}
	return &clientConn{conn: c, maxMessage: userMessage, idle: l.clientIdle, writeTimeout: l.writeTimeout}
}

var errTooLarge = errors.New("varlink message too large")

// next returns the client's next message, without its NUL. It fails when
// the client hangs up, when a message grows past maxMessage, and when no
// whole message arrives within idle: one deadline for the whole message,
// as a client that trickles a byte at a time is as idle as one that sends
// nothing.
func (c *clientConn) next() ([]byte, error) {
	c.release()
	if c.idle > 0 {
		c.conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	for scanned := 0; ; {
		if i := bytes.IndexByte(c.buf[scanned:], 0); i >= 0 {
			c.served = scanned + i + 1
			return c.buf[:scanned+i], nil
		}
		scanned = len(c.buf)
		if scanned > c.maxMessage {
			return nil, errTooLarge
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads what the client sent into buf, never past maxMessage+1
// bytes: one past what a message may hold without its NUL is enough to
// tell that it is too large, so a client can make the buffer no larger.
func (c *clientConn) fill() error {
	limit := c.maxMessage + 1
	if len(c.buf) == cap(c.buf) {
		grown := make([]byte, len(c.buf), min(max(2*cap(c.buf), readSize), limit))
		copy(grown, c.buf)
		c.buf = grown
	}
	n, err := c.conn.Read(c.buf[len(c.buf):min(cap(c.buf), limit)])
	c.buf = c.buf[:len(c.buf)+n]
	return err
}

// release drops the message just served and keeps what the client sent
// after it. A buffer that grew for a large message is replaced by a small
// one: a connection must not hold the memory of its largest message for
// as long as it stays open.
func (c *clientConn) release() {
	rest := c.buf[c.served:]
	c.served = 0
	if cap(c.buf) <= readSize {
		c.buf = c.buf[:copy(c.buf, rest)]
		return
	}
	large := cap(c.buf) >= freeAfter
	c.buf = append(make([]byte, 0, max(readSize, len(rest))), rest...)
	if large {
		debug.FreeOSMemory()
	}
}

// Write sends a message within writeTimeout. A client that stops reading
// fills the socket's send buffer, and the write would then wait, and with
// it the call and whatever the call holds, for as long as the client
// likes; instead the client loses its connection. So does a client after
// any failed write, as part of a message may have gone out and cannot be
// taken back. ctx is not watched: it ends only when the service stops,
// and serveConn closes the connection then.
func (c *clientConn) Write(_ context.Context, b []byte) (int, error) {
	c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	n, err := c.conn.Write(b)
	if err != nil {
		c.conn.Close()
	}
	return n, err
}

var errNoReads = errors.New("io.sdme calls do not read from their connection")

// Read and ReadBytes complete varlink.ReadWriterContext. Nothing calls
// them: the service reads each message whole before it dispatches it,
// and no io.sdme method upgrades its connection.
func (c *clientConn) Read(context.Context, []byte) (int, error)       { return 0, errNoReads }
func (c *clientConn) ReadBytes(context.Context, byte) ([]byte, error) { return nil, errNoReads }
