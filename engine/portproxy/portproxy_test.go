package portproxy

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
)

// freePort returns a TCP port of 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func TestProxyCopiesBothWays(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { // answers what it was sent, once the client is done
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write(append([]byte("echo:"), b...))
			}()
		}
	}()
	fw := []Forward{{Host: freePort(t), Container: uint16(backend.Addr().(*net.TCPAddr).Port)}}
	ls, err := Listen(fw)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Serve(ctx, ls, fw, func(context.Context) (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil })
	}()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(int(fw[0].Host)))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hi"))
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != "echo:hi" {
		t.Errorf("through the proxy: %q, want echo:hi", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

func TestListenRefusesABusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen([]Forward{{Host: uint16(l.Addr().(*net.TCPAddr).Port), Container: 80}}); err == nil {
		t.Error("Listen on a busy port = nil error")
	}
}
