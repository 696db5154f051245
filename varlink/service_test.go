package varlink

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// serveTable serves the methods of table on a socket of its own and
// returns the socket's address.
func serveTable(t *testing.T, opts Options, table map[string]method) string {
	return listen(t, newTestService(t, opts, table))
}

func newTestService(t *testing.T, opts Options, table map[string]method) *Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newService(ctx, opts, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		s.wg.Wait()
	})
	return s
}

// listen serves s on an abstract socket, which any user may connect to.
func listen(t *testing.T, s *Service) string {
	t.Helper()
	addr := fmt.Sprintf("@sdme-test-%d-%s", os.Getpid(), t.Name())
	l, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	go s.accept(l)
	t.Cleanup(func() { l.Close() })
	return addr
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// roundTripOn sends msg on conn and returns the reply, without its NUL;
// an error if the service hung up or did not answer within 5 s.
func roundTripOn(conn net.Conn, msg string) (string, error) {
	if _, err := conn.Write(append([]byte(msg), 0)); err != nil {
		return "", err
	}
	return readReply(conn, 5*time.Second)
}

func readReply(conn net.Conn, timeout time.Duration) (string, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	defer conn.SetReadDeadline(time.Time{})
	var out []byte
	b := make([]byte, 1)
	for {
		if _, err := conn.Read(b); err != nil {
			return string(out), err
		}
		if b[0] == 0 {
			return string(out), nil
		}
		out = append(out, b[0])
	}
}

const getInfo = `{"method":"org.varlink.service.GetInfo"}`

func TestPanicInACallAnswersFailedAndTheServiceGoesOn(t *testing.T) {
	table := methods()
	table["Panic"] = method{false, func(context.Context, *call) error {
		var m map[string]int
		m["x"]++ // a nil map: the kind of bug a hostile input trips
		return nil
	}}
	addr := serveTable(t, Options{}, table)

	conn := dial(t, addr)
	reply, err := roundTripOn(conn, `{"method":"io.sdme.Panic"}`)
	if err != nil || !strings.Contains(reply, `"error":"io.sdme.Failed"`) {
		t.Fatalf("panicking call answered %q, %v; want io.sdme.Failed", reply, err)
	}
	if reply, err := roundTripOn(conn, getInfo); err != nil || !strings.Contains(reply, "io.sdme") {
		t.Fatalf("the same connection after the panic: %q, %v", reply, err)
	}
	if reply, err := roundTripOn(dial(t, addr), getInfo); err != nil || !strings.Contains(reply, "io.sdme") {
		t.Fatalf("a new connection after the panic: %q, %v", reply, err)
	}
}
