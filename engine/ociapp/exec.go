package ociapp

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExecOptions is how `sdme oci-exec` runs a command, already inside the
// application's root (systemd's RootDirectory=) as root.
type ExecOptions struct {
	UID, GID uint32
	Groups   []uint32
	WorkDir  string
	Home     string
	Argv     []string
}

// Run runs o.Argv as the image's user, passes it the signals this
// process gets, and returns how it ended, once its output is written.
//
// systemd's User= cannot name the user: it is resolved before
// RootDirectory= applies, in the container's user database, where an
// image's users do not exist (systemd#12498, #19781). So the unit runs as
// root and the application gets the numbers the image's own files gave
// at import, as Docker does, supplementary groups included.
//
// Where the journal is stdout or stderr, those are sockets, and opening
// /dev/stdout (nginx's default log, `2>/dev/stderr` in a script) fails
// with ENXIO: a socket cannot be reopened through /proc/self/fd. Docker
// and podman give pipes, so the application gets pipes here too, which
// this process copies into the journal. It stays the service's main
// process, as conmon or tini do, so that the application's last words are
// copied before systemd ends the service: systemd kills what is left of
// a service once its main process has gone (the unit's KillMode=mixed
// sends the stop signal to this process alone, which passes it on).
func Run(o ExecOptions) (syscall.WaitStatus, error) {
	if len(o.Argv) == 0 {
		return 0, errors.New("no command to run")
	}
	if os.Getenv("HOME") == "" {
		os.Setenv("HOME", o.Home)
	}
	prog := o.Argv[0]
	if !strings.Contains(prog, "/") {
		// The image's PATH, from its environment, as Docker resolves it.
		p, err := exec.LookPath(prog)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", prog, err)
		}
		prog = p
	}
	if _, err := os.Stat(o.WorkDir); errors.Is(err, fs.ErrNotExist) {
		// Docker makes a WorkingDir the image lacks.
		if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
			return 0, err
		}
	}
	groups := make([]uint32, len(o.Groups))
	copy(groups, o.Groups)
	cmd := &exec.Cmd{
		Path: prog, Args: o.Argv, Dir: o.WorkDir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: o.UID, Gid: o.GID, Groups: groups},
		},
	}
	var copies sync.WaitGroup
	var closers []*os.File
	for _, out := range []struct {
		to  *os.File
		set *io.Writer
	}{{os.Stdout, &cmd.Stdout}, {os.Stderr, &cmd.Stderr}} {
		if !isSocket(out.to) {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		// The application's user must be able to reopen it, as runc
		// makes the container's stdio its user's.
		if err := w.Chown(int(o.UID), int(o.GID)); err != nil {
			return 0, err
		}
		*out.set = w
		closers = append(closers, w)
		copies.Add(1)
		go func() {
			defer copies.Done()
			io.Copy(out.to, r)
			r.Close()
		}()
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", prog, err)
	}
	for _, w := range closers {
		w.Close() // the application's copies are open
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
wait:
	for {
		select {
		case sig := <-sigs:
			// SIGCHLD is this process's own news, SIGURG how the Go
			// runtime preempts its threads, SIGPIPE a closed journal.
			if sig != syscall.SIGCHLD && sig != syscall.SIGURG && sig != syscall.SIGPIPE {
				cmd.Process.Signal(sig)
			}
		case werr = <-exited:
			break wait
		}
	}
	// What the application wrote before it ended; whatever it left
	// running may hold the pipes for good, so not a moment longer.
	drained := make(chan struct{})
	go func() { copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainAfterExit):
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		return ee.Sys().(syscall.WaitStatus), nil
	}
	if werr != nil {
		return 0, werr
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus), nil
}

func isSocket(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&fs.ModeSocket != 0
}

// drainAfterExit bounds the wait for the application's output once it
// has exited.
const drainAfterExit = time.Second
