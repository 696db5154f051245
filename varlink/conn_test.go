package varlink

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// pipe returns a clientConn allowing messages of maxMessage bytes, fed
// with what the client end sends.
func pipe(t *testing.T, maxMessage int, send ...[]byte) *clientConn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		for _, b := range send {
			if _, err := client.Write(b); err != nil {
				return
			}
		}
	}()
	return &clientConn{conn: server, maxMessage: maxMessage}
}

func message(n int) []byte { return append(bytes.Repeat([]byte("a"), n), 0) }

func TestMessageCapIsExact(t *testing.T) {
	c := pipe(t, 100, message(100), message(101))
	if msg, err := c.next(); err != nil || len(msg) != 100 {
		t.Fatalf("a message of exactly the cap: %d bytes, %v", len(msg), err)
	}
	if _, err := c.next(); !errors.Is(err, errTooLarge) {
		t.Fatalf("a message one byte over the cap: %v, want %v", err, errTooLarge)
	}
	if cap(c.buf) > 101 {
		t.Fatalf("the buffer grew to %d bytes for a cap of 100", cap(c.buf))
	}
}

func TestBufferShrinksAfterALargeMessage(t *testing.T) {
	c := pipe(t, rootMessage, message(4<<20), []byte(getInfo+"\x00"))
	if msg, err := c.next(); err != nil || len(msg) != 4<<20 {
		t.Fatalf("large message: %d bytes, %v", len(msg), err)
	}
	if msg, err := c.next(); err != nil || string(msg) != getInfo {
		t.Fatalf("small message after it: %q, %v", msg, err)
	}
	if cap(c.buf) > readSize {
		t.Fatalf("after a message of 4 MiB the buffer keeps %d bytes, want at most %d", cap(c.buf), readSize)
	}
}

func TestPipelinedMessagesAreServedInOrder(t *testing.T) {
	c := pipe(t, rootMessage, []byte("one\x00two\x00thr"), message(3*readSize), []byte("four\x00"))
	for _, want := range []string{"one", "two", "thr" + string(bytes.Repeat([]byte("a"), 3*readSize))} {
		if msg, err := c.next(); err != nil || string(msg) != want {
			t.Fatalf("got %.10q (%d bytes), %v; want %.10q (%d bytes)", msg, len(msg), err, want, len(want))
		}
	}
	if msg, err := c.next(); err != nil || string(msg) != "four" {
		t.Fatalf("got %q, %v; want four", msg, err)
	}
}
