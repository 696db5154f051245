// Package varlink serves io.sdme, the engine over systemd's native IPC:
// the same operations as the CLI, for varlinkctl and programs, from a
// service that systemd starts on demand from sdme.socket.
package varlink

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/varlink/go/varlink"
	"golang.org/x/sys/unix"

	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/config"
	"github.com/sdme/sdme/engine/containers"
)

// IDL is the interface definition, io.sdme.varlink.
//
//go:embed io.sdme.varlink
var IDL string

// DefaultAddress is where the service listens when it binds its socket
// itself; sdme.socket listens there too.
const DefaultAddress = "/run/sdme/io.sdme"

// Options configure Serve.
type Options struct {
	// Address is the socket path to bind when not socket-activated.
	Address string
	// IdleTimeout ends the service after this long without a connection
	// (0: never). Socket activation starts it again on the next one.
	IdleTimeout time.Duration
	// MaxConnections bounds concurrent clients (0: DefaultMaxConnections).
	// A quarter of them is kept for root.
	MaxConnections int
	// ClientIdleTimeout closes a connection of a user other than root
	// that has not sent a whole call for this long (0:
	// DefaultClientIdleTimeout).
	ClientIdleTimeout time.Duration
	// Version is reported by org.varlink.service.GetInfo.
	Version string
}

// Service is a running io.sdme service.
type Service struct {
	ctx     context.Context // ends when the service stops
	vs      *varlink.Service
	opts    Options
	limits  limits
	clients *clients
	wg      sync.WaitGroup

	engines engines[*engine.Engine]
}

// with runs fn with the engine for the current configuration (SetConfig
// or `sdme config set` may have changed it since the last call).
func (s *Service) with(fn func(e *engine.Engine) error) error {
	cfg, err := config.Load(config.Path())
	if err != nil {
		return err
	}
	l := s.engines.acquire(cfg)
	defer s.engines.release(l)
	return fn(l.e)
}

// withEngine runs fn with the containers of the current configuration's
// engine.
func (s *Service) withEngine(fn func(e *containers.Engine) error) error {
	return s.with(func(e *engine.Engine) error {
		c, err := e.Containers()
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// Serve runs the service until ctx ends or it has been idle for
// opts.IdleTimeout. It serves the sockets systemd passes (LISTEN_FDS with
// the name varlink: listening sockets, or a connected one as varlinkctl's
// exec: transport and Accept=yes give), or else binds opts.Address.
func Serve(ctx context.Context, opts Options) error {
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := newService(ctx, opts, methods())
	if err != nil {
		return err
	}
	listeners, conns, err := activated()
	if err != nil {
		return err
	}
	if len(listeners) == 0 && len(conns) == 0 {
		l, err := bind(opts.Address)
		if err != nil {
			return err
		}
		defer os.Remove(opts.Address)
		listeners = append(listeners, l)
	}
	daemon.SdNotify(false, daemon.SdNotifyReady)
	for _, c := range conns {
		s.serve(c)
	}
	for _, l := range listeners {
		go s.accept(l)
	}
	if len(listeners) == 0 {
		// Only connected sockets: done when they are.
		s.wg.Wait()
		s.engines.close()
		return nil
	}
	s.waitIdle(ctx)
	for _, l := range listeners {
		l.Close()
	}
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	cancel()
	s.wg.Wait()
	s.engines.close()
	return nil
}

// newService makes the service of the io.sdme methods in table.
func newService(ctx context.Context, opts Options, table map[string]method) (*Service, error) {
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.ClientIdleTimeout <= 0 {
		opts.ClientIdleTimeout = DefaultClientIdleTimeout
	}
	vs, err := varlink.NewService("sdme", "sdme", opts.Version, "https://github.com/sdme/sdme")
	if err != nil {
		return nil, err
	}
	s := &Service{
		ctx:     ctx,
		vs:      vs,
		opts:    opts,
		limits:  limitsFor(opts),
		clients: newClients(),
		engines: engines[*engine.Engine]{make: engine.New},
	}
	if err := vs.RegisterInterface(&iface{svc: s, idl: IDL, methods: table}); err != nil {
		return nil, err
	}
	return s, nil
}

// waitIdle returns when ctx ends or the service has been idle long enough.
func (s *Service) waitIdle(ctx context.Context) {
	if s.opts.IdleTimeout <= 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(min(s.opts.IdleTimeout/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if s.clients.idleFor() >= s.opts.IdleTimeout {
				return
			}
		}
	}
}

func (s *Service) accept(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: let it pass
			continue
		}
		s.serve(conn)
	}
}

// serve serves conn in a goroutine of its own, so that a slow call (an
// import) never holds up other clients; or closes it at once if its peer
// may not have one more connection (sd-varlink, too, refuses a connection
// past its limits by closing it).
func (s *Service) serve(conn net.Conn) {
	cred := peerCred(conn)
	uid := unknownUID
	if cred != nil {
		uid = cred.Uid
	}
	if !s.clients.admit(s.limits, uid) {
		conn.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.clients.leave(uid)
		ctx := context.WithValue(s.ctx, peerKey{}, cred)
		s.serveConn(ctx, s.limits.conn(conn, uid == 0))
	}()
}

// serveConn hands the client's messages one at a time to the library's
// dispatcher, until the client hangs up, breaks the protocol or a limit,
// or the service stops.
func (s *Service) serveConn(ctx context.Context, c *clientConn) {
	// Closing the connection wakes a read waiting for the next call.
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	defer c.conn.Close()
	for {
		msg, err := c.next()
		if err != nil {
			return
		}
		if err := s.vs.HandleMessage(ctx, c, msg); err != nil {
			return
		}
	}
}

// bind listens on the unix socket path addr, replacing a stale one.
// Anyone may connect: methods that change anything check the caller.
func bind(addr string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(addr), 0o755); err != nil {
		return nil, err
	}
	os.Remove(addr)
	l, err := net.Listen("unix", addr)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(addr, 0o666); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// activated returns the sockets systemd passed with the name varlink,
// telling listening sockets from connected ones by SO_ACCEPTCONN, as
// sd-varlink does. The LISTEN_* variables are removed, so that programs
// the engine runs do not take the sockets for theirs.
func activated() ([]net.Listener, []net.Conn, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "LISTEN_PIDFDID"} {
		os.Unsetenv(v)
	}
	if pid != os.Getpid() || n <= 0 {
		return nil, nil, nil
	}
	var ls []net.Listener
	var cs []net.Conn
	for i := 0; i < n; i++ {
		fd := 3 + i
		if i < len(names) && names[i] != "varlink" && names[i] != "" {
			continue
		}
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "varlink")
		listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err != nil {
			return nil, nil, fmt.Errorf("socket %d from systemd: %w", fd, err)
		}
		if listening == 1 {
			l, err := net.FileListener(f)
			if err != nil {
				return nil, nil, err
			}
			ls = append(ls, l)
		} else {
			c, err := net.FileConn(f)
			if err != nil {
				return nil, nil, err
			}
			cs = append(cs, c)
		}
		f.Close() // FileListener and FileConn hold duplicates
	}
	return ls, cs, nil
}

type peerKey struct{}

// peerCred reads the credentials of the process at the other end.
func peerCred(conn net.Conn) *unix.Ucred {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	return cred
}

// peerIsRoot reports whether the caller is root: only root may change
// containers, root filesystems or settings.
func peerIsRoot(ctx context.Context) bool {
	cred, _ := ctx.Value(peerKey{}).(*unix.Ucred)
	return cred != nil && cred.Uid == 0
}
