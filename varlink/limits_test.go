package varlink

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/internal/testroot"
)

func TestAdmissionKeepsRoomForRoot(t *testing.T) {
	l := limitsFor(Options{MaxConnections: 16}) // 4 kept for root, 2 a user
	cases := []struct {
		uid                   uint32
		total, nonRoot, ofUID int
		want                  bool
	}{
		{1000, 0, 0, 0, true},
		{1000, 1, 1, 1, true},
		{1000, 2, 2, 2, false},   // one user's share
		{1001, 11, 11, 0, true},  // the last room outside root's
		{1001, 12, 12, 0, false}, // the rest is root's
		{unknownUID, 12, 12, 0, false},
		{0, 12, 12, 0, true},
		{0, 15, 12, 3, true},
		{0, 16, 12, 4, false}, // even root: the service is full
		{1000, 4, 0, 0, true}, // root's own connections do not count against users
	}
	for _, c := range cases {
		if got := l.admits(c.uid, c.total, c.nonRoot, c.ofUID); got != c.want {
			t.Errorf("uid %d with %d served (%d not root, %d its own): admitted %v, want %v",
				c.uid, c.total, c.nonRoot, c.ofUID, got, c.want)
		}
	}
	tiny := limitsFor(Options{MaxConnections: 2})
	if tiny.admits(1001, 1, 1, 0) || !tiny.admits(0, 1, 1, 0) {
		t.Error("with 2 connections, the second is not kept for root")
	}
}

// dialAs connects to addr as uid, which is what SO_PEERCRED then reports
// (the effective uid at connect(2)). The kernel keeps credentials per
// thread: the raw setresuid changes this locked thread only, where Go's
// syscall.Setresuid would change every thread of the test.
func dialAs(t *testing.T, addr string, uid int) net.Conn {
	t.Helper()
	testroot.Require(t) // to connect as another user
	keep := ^uintptr(0) // (uid_t)-1: leave the real and saved uid (root) alone
	runtime.LockOSThread()
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, uintptr(uid), keep); e != 0 {
		runtime.UnlockOSThread()
		t.Fatalf("setresuid to %d: %v", uid, e)
	}
	conn, err := net.Dial("unix", addr)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, 0, keep); e != 0 {
		// The thread stays locked: it ends with this goroutine.
		t.Fatalf("setresuid back to root: %v", e)
	}
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// served reports whether the service answers a call on conn.
func served(conn net.Conn) bool {
	_, err := roundTripOn(conn, getInfo)
	return err == nil
}

// hungUp reports whether the service closed conn without an answer.
func hungUp(conn net.Conn, within time.Duration) bool {
	reply, err := readReply(conn, within)
	return reply == "" && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
}

func TestUsersCannotLockRootOut(t *testing.T) {
	addr := serveTable(t, Options{MaxConnections: 16}, methods())
	var users []net.Conn
	for uid := 1000; uid < 1006; uid++ {
		for i := 0; i < 2; i++ {
			c := dialAs(t, addr, uid)
			if !served(c) {
				t.Fatalf("connection %d of uid %d was refused", i+1, uid)
			}
			users = append(users, c)
		}
	}
	if c := dialAs(t, addr, 1000); !hungUp(c, 5*time.Second) {
		t.Fatal("a third connection of one user was served")
	}
	if c := dialAs(t, addr, 1006); !hungUp(c, 5*time.Second) {
		t.Fatal("a user was served from the connections kept for root")
	}
	for i := 0; i < 4; i++ {
		if !served(dial(t, addr)) {
			t.Fatalf("root's connection %d was refused while users held theirs", i+1)
		}
	}
	if c := dial(t, addr); !hungUp(c, 5*time.Second) {
		t.Fatal("root was served past the connection limit")
	}
	// A user's connection that ends gives its room back.
	users[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if served(dialAs(t, addr, 1006)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the room of a closed connection was not given back")
		}
	}
}

// callOfSize is a GetConfig call exactly n bytes long, without its NUL.
func callOfSize(n int) string {
	head, tail := `{"method":"io.sdme.GetConfig","parameters":{"pad":"`, `"}}`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

func TestUsersMessagesAreSmall(t *testing.T) {
	addr := serveTable(t, Options{}, methods())
	call := func(conn net.Conn, n int) (string, error) {
		go conn.Write(append([]byte(callOfSize(n)), 0)) // the service may hang up midway
		return readReply(conn, 5*time.Second)
	}
	if reply, err := call(dialAs(t, addr, 65534), userMessage); err != nil || !strings.Contains(reply, "InvalidParameter") {
		t.Fatalf("a user's message of %d bytes: %q, %v; want InvalidParameter", userMessage, reply, err)
	}
	if reply, err := call(dialAs(t, addr, 65534), userMessage+1); err == nil {
		t.Fatalf("a user's message of %d bytes was answered: %q", userMessage+1, reply)
	}
	if reply, err := call(dial(t, addr), 1<<20); err != nil || !strings.Contains(reply, "InvalidParameter") {
		t.Fatalf("root's message of 1 MiB: %q, %v; want InvalidParameter", reply, err)
	}
}

func TestIdleUserConnectionsAreClosed(t *testing.T) {
	addr := serveTable(t, Options{ClientIdleTimeout: 300 * time.Millisecond}, methods())
	user, root := dialAs(t, addr, 65534), dial(t, addr)
	if !served(user) || !served(root) {
		t.Fatal("not served")
	}
	start := time.Now()
	if !hungUp(user, 10*time.Second) {
		t.Fatal("an idle user's connection stayed open")
	}
	// The service starts the clock when it has sent the reply, a little
	// before the client has read it.
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("an idle user's connection was closed after %v, well before its bound of 300ms", waited)
	}
	// A client that trickles a call is as idle as a silent one.
	trickler := dialAs(t, addr, 65534)
	go func() {
		for _, b := range []byte(getInfo) {
			if _, err := trickler.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if !hungUp(trickler, 10*time.Second) {
		t.Fatal("a user trickling a call kept the connection")
	}
	if _, err := readReply(root, time.Second); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("root's idle connection: %v, want it left open", err)
	}
	if !served(root) {
		t.Fatal("root's connection was not served after waiting")
	}
}

func TestWriteDeadlineDropsAClientThatDoesNotRead(t *testing.T) {
	result := make(chan error, 1)
	table := map[string]method{"Flood": {false, func(ctx context.Context, c *call) error {
		c.Continues = true
		chunk := strings.Repeat("x", 64<<10)
		for {
			if err := c.Reply(ctx, map[string]string{"chunk": chunk}); err != nil {
				result <- err
				return err
			}
		}
	}}}
	s := newTestService(t, Options{}, table)
	s.limits.writeTimeout = 300 * time.Millisecond
	conn := dial(t, listen(t, s))
	if _, err := conn.Write([]byte(`{"method":"io.sdme.Flood","more":true}` + "\x00")); err != nil {
		t.Fatal(err)
	}
	// The client never reads.
	select {
	case err := <-result:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the write failed with %v, want its deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write to a client that does not read is still blocked after 10 s")
	}
}
