// Package errdefs defines the classes of error the engine returns.
//
// Engine code wraps one of these sentinels with the object it concerns,
// object first and the sentinel last:
//
//	fmt.Errorf("container %q: %w", name, errdefs.ErrNotFound)
//
// An error it comes from is wrapped with %w too, never flattened with %v,
// so that its cause (a cancelled context, a missing file) stays reachable:
//
//	fmt.Errorf("download %s: %w: %w", url, err, errdefs.ErrTransfer)
//
// Front ends never parse messages: the CLI maps a class to an exit code and
// the varlink service maps it to an error name, each in one switch, with
// errors.Is.
package errdefs

import "errors"

var (
	// ErrNotFound: the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: an object of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalidName: a name breaks the naming rules. It is an
	// ErrInvalidArgument too.
	ErrInvalidName error = &subclass{"invalid name", ErrInvalidArgument}
	// ErrAmbiguous: a name prefix matches more than one object.
	ErrAmbiguous = errors.New("ambiguous name")
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
