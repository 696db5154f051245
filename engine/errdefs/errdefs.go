// Package errdefs defines the classes of error the engine returns.
//
// An error about a container or a rootfs is an *Error, which names the
// object and wraps one of these sentinels:
//
//	&errdefs.Error{Kind: errdefs.Container, Name: name, Err: errdefs.ErrNotFound}
//
// Other errors wrap a sentinel with what they concern, the sentinel last:
//
//	fmt.Errorf("stop mode %q: %w", s, errdefs.ErrInvalidArgument)
//
// An error it comes from is wrapped with %w too, never flattened with %v,
// so that its cause (a cancelled context, a missing file) stays reachable:
//
//	fmt.Errorf("download %s: %w: %w", url, err, errdefs.ErrTransfer)
//
// Front ends never parse messages: the CLI maps a class to an exit code and
// the varlink service maps a class and a kind to an error name, each in one
// place, with errors.Is and errors.As. Advice is a Hint, which each front
// end words in its own terms.
package errdefs

import (
	"errors"
	"strconv"
)

var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: an object of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalidName: a name breaks the naming rules. It is an
	// ErrInvalidArgument too.
	ErrInvalidName error = &subclass{"invalid name", ErrInvalidArgument}
	// ErrAmbiguous: a name prefix matches more than one object. It is an
	// ErrInvalidArgument too: the argument does not name one object.
	ErrAmbiguous error = &subclass{"ambiguous name", ErrInvalidArgument}
	// ErrInvalidArgument: the input is malformed (a bad name, a bad value).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the object is in the wrong state for the operation.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrLocked: another sdme process is working on the object right now.
	ErrLocked = errors.New("locked by another process")
	// ErrPermissionDenied: the caller lacks the privileges (sdme needs root).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrMissingProgram: a program sdme runs is not installed.
	ErrMissingProgram = errors.New("missing program")
	// ErrUnavailable: systemd or D-Bus did not answer as expected.
	ErrUnavailable = errors.New("unavailable")
	// ErrBootFailed: a container did not boot (timed out or exited).
	ErrBootFailed = errors.New("boot failed")
	// ErrCorrupt: data read from a source is damaged: a truncated or
	// malformed archive, a digest mismatch, a hostile entry.
	ErrCorrupt = errors.New("corrupt data")
	// ErrUnsupported: the input is well formed but of a kind sdme does not
	// handle (an unknown file kind, media type or platform).
	ErrUnsupported = errors.New("unsupported")
	// ErrTransfer: a download failed: the network, a proxy, a registry
	// refusing credentials or answering with an error.
	ErrTransfer = errors.New("transfer failed")
)

// subclass is a class of error that also belongs to a wider class.
type subclass struct {
	msg    string
	parent error
}

func (e *subclass) Error() string { return e.msg }
func (e *subclass) Unwrap() error { return e.parent }

// Kind is the kind of object an error is about, as users call it.
type Kind string

const (
	Container Kind = "container"
	Rootfs    Kind = "rootfs"
	Pod       Kind = "pod"
)

// Hint is what the caller can do about an error. It is a value, not words:
// the CLI words it as a command or a flag, the varlink service as a method
// or a parameter, so that neither passes on the other's syntax.
type Hint int

const (
	NoHint Hint = iota
	// HintRemove: the object cannot be used (a create was interrupted);
	// removing it cleans it up.
	HintRemove
	// HintStart: the container has to be running.
	HintStart
	// HintKill: a clean stop timed out; killing the container does not wait.
	HintKill
	// HintList: the name is not known; the list shows the names that are.
	HintList
	// HintForce: the object exists; forcing the call replaces it.
	HintForce
	// HintRoot: the caller has to be root.
	HintRoot
	// HintName: no name could be derived from the source; give one.
	HintName
	// HintDatadir: the data directory cannot be used; another can be
	// configured.
	HintDatadir
	// HintPlatform: the image is not for this platform; another can be
	// chosen.
	HintPlatform
	// HintInsecure: TLS with the registry failed; it may serve plain HTTP
	// or a self-signed certificate, which can be allowed.
	HintInsecure
	// HintBase: the image is an application, which runs on a base rootfs
	// with systemd; naming one imports it so, and a plain import is asked
	// for explicitly.
	HintBase
)

// Error is an error about one object, as *fs.PathError is about one path:
// what kind of object, which one, and what went wrong (Err, which wraps
// the class, so errors.Is(err, ErrNotFound) holds). Kind and Name are
// empty for an error about nothing a front end names (a source, an
// image), which still carries its Hint.
type Error struct {
	Kind Kind
	Name string
	Err  error
	Hint Hint
}

// Error is the kind and name, then what went wrong; never the hint.
func (e *Error) Error() string {
	if e.Kind == "" {
		return e.Err.Error()
	}
	return string(e.Kind) + " " + strconv.Quote(e.Name) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
