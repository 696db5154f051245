package portproxy

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
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

func TestUDPRelaysBothWays(t *testing.T) {
	backend, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() { // answers each datagram to whoever sent it
		b := make([]byte, 1500)
		for {
			n, from, err := backend.ReadFromUDP(b)
			if err != nil {
				return
			}
			backend.WriteToUDP(append([]byte("echo:"), b[:n]...), from)
		}
	}()
	host := freePort(t)
	conns, ports, err := ListenUDP([]Forward{{Host: host, Container: uint16(backend.LocalAddr().(*net.UDPAddr).Port)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- ServeUDP(ctx, conns, ports, func(context.Context) (netip.Addr, error) { return netip.MustParseAddr("127.0.0.1"), nil })
	}()
	// Two clients, each answered on its own session.
	for _, msg := range []string{"one", "two"} {
		c, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(int(host)))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 100)
		n, err := c.Read(b)
		c.Close()
		if err != nil || string(b[:n]) != "echo:"+msg {
			t.Errorf("through the relay: %q, %v", b[:n], err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeUDP = %v", err)
	}
}
