package portproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// UDP has no connections: each client (address and port) of a loopback
// socket gets a session, a socket connected to the container's port whose
// replies go back to that client, dropped after udpIdle without a reply,
// as docker-proxy does. maxSessions bounds them per port: a datagram from
// one client too many is dropped, as a full queue would drop it.
const (
	udpIdle     = 90 * time.Second
	maxSessions = 1024
)

// ListenUDP opens the loopback sockets of UDP forwards: 127.0.0.1 and,
// where the host has IPv6, ::1. The socket at index i is for the
// forward at index ports[i].
func ListenUDP(forwards []Forward) (conns []*net.UDPConn, ports []uint16, err error) {
	for _, f := range forwards {
		for _, host := range []string{"127.0.0.1", "::1"} {
			a, err := net.ResolveUDPAddr("udp", net.JoinHostPort(host, strconv.Itoa(int(f.Host))))
			if err != nil {
				return nil, nil, err
			}
			c, err := net.ListenUDP("udp", a)
			if err != nil && host == "::1" && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				continue
			}
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return nil, nil, fmt.Errorf("forward of host port udp:%d on %s: %w", f.Host, host, err)
			}
			conns, ports = append(conns, c), append(ports, f.Container)
		}
	}
	return conns, ports, nil
}

// ServeUDP relays datagrams between the clients of each socket and the
// container's port (ports[i] for conns[i]) until ctx ends.
func ServeUDP(ctx context.Context, conns []*net.UDPConn, ports []uint16, addr Addr) error {
	serveEach(ctx, conns, func(c *net.UDPConn, i int) { relay(ctx, c, ports[i], addr) })
	return nil
}

func relay(ctx context.Context, l *net.UDPConn, port uint16, addr Addr) {
	var mu sync.Mutex
	sessions := map[netip.AddrPort]*net.UDPConn{}
	defer func() {
		mu.Lock()
		for _, s := range sessions {
			s.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, from, err := l.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		mu.Lock()
		s := sessions[from]
		full := len(sessions) >= maxSessions
		mu.Unlock()
		if s == nil {
			if full {
				continue
			}
			if s, err = dialUDP(ctx, addr, port); err != nil {
				continue
			}
			mu.Lock()
			sessions[from] = s
			mu.Unlock()
			go func() {
				replies(l, s, from)
				mu.Lock()
				delete(sessions, from)
				mu.Unlock()
				s.Close()
			}()
		}
		s.Write(buf[:n])
	}
}

func dialUDP(ctx context.Context, addr Addr, port uint16) (*net.UDPConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := addr(dctx)
	if err != nil {
		return nil, err
	}
	return net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
}

// replies sends what the container answers back to the client, until the
// session has been idle for udpIdle or is closed.
func replies(l, s *net.UDPConn, to netip.AddrPort) {
	buf := make([]byte, 64<<10)
	for {
		s.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := s.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP port unreachable: the server is not up yet
		}
		l.WriteToUDPAddrPort(buf[:n], to)
	}
}
