// Package portproxy forwards a container's TCP and UDP ports from the host's
// loopback addresses. nspawn's own --port forwarding rewrites packets to
// the host's addresses (DNAT), which cannot reach 127.0.0.0/8: the kernel
// does not route loopback traffic out. This proxy accepts there and
// connects to the container's address, as docker-proxy does.
package portproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Forward is one port of the host forwarded to one of the container.
type Forward struct {
	Host, Container uint16
}

// Addr finds the container's address now: DHCP may change it.
type Addr func(ctx context.Context) (netip.Addr, error)

// Listen opens the loopback listeners of the forwards: 127.0.0.1 and,
// where the host has IPv6, ::1.
func Listen(forwards []Forward) ([]net.Listener, error) {
	var ls []net.Listener
	for _, f := range forwards {
		for _, host := range []string{"127.0.0.1", "::1"} {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(int(f.Host))))
			if err != nil && host == "::1" && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				continue
			}
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return nil, fmt.Errorf("forward of host port %d on %s: %w", f.Host, host, err)
			}
			ls = append(ls, l)
		}
	}
	return ls, nil
}

// Serve accepts on each listener (as Listen returned them for forwards)
// and copies every connection to the container's port until ctx ends.
func Serve(ctx context.Context, ls []net.Listener, forwards []Forward, addr Addr) error {
	ports := map[string]uint16{}
	for _, f := range forwards {
		ports[strconv.Itoa(int(f.Host))] = f.Container
	}
	serveEach(ctx, ls, func(l net.Listener, _ int) {
		_, hp, _ := net.SplitHostPort(l.Addr().String())
		accept(ctx, l, ports[hp], addr)
	})
	return nil
}

// serveEach runs serve on each socket until ctx ends, then closes them
// and waits for every serve to return.
func serveEach[S io.Closer](ctx context.Context, socks []S, serve func(s S, i int)) {
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(s, i)
		}()
	}
	<-ctx.Done()
	for _, s := range socks {
		s.Close()
	}
	wg.Wait()
}

func accept(ctx context.Context, l net.Listener, port uint16, addr Addr) {
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // out of descriptors: let some close
			continue
		}
		go proxy(ctx, c.(*net.TCPConn), port, addr)
	}
}

// proxy copies c to the container's port and back, each direction closed
// for writing when the other side is done with it.
func proxy(ctx context.Context, c *net.TCPConn, port uint16, addr Addr) {
	defer c.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := addr(dctx)
	if err != nil {
		return
	}
	var d net.Dialer
	u, err := d.DialContext(dctx, "tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		return
	}
	up := u.(*net.TCPConn)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	c.CloseWrite()
	<-done
}
