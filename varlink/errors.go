package varlink

import (
	"context"
	"errors"

	"github.com/sdme/sdme/engine/errdefs"
)

// object says what a method's "not found" and "exists" errors are about.
type object int

const (
	container    object = iota // NoSuchContainer, ContainerExists
	rootfsObj                  // NoSuchRootfs, RootfsExists, RootfsInUse
	newContainer               // Create: only the rootfs can be missing
	transfer                   // ImportRootfs: a missing source is a failed transfer
)

// replyError is an error reply: a name of this interface or of
// org.varlink.service, and its parameters.
type replyError struct {
	name   string
	params any
}

type messageParams struct {
	Message string `json:"message"`
}

// errorFor maps an engine error onto the error a client gets: the one
// place where the engine's classes meet the interface's error names.
func errorFor(err error, obj object) replyError {
	msg := messageParams{err.Error()}
	switch {
	case errors.Is(err, errdefs.ErrPermissionDenied):
		return replyError{"org.varlink.service.PermissionDenied", struct{}{}}
	case errors.Is(err, errdefs.ErrInvalidName):
		return replyError{"io.sdme.InvalidName", struct{}{}}
	case errors.Is(err, errdefs.ErrLocked):
		return replyError{"io.sdme.Busy", struct{}{}}
	case errors.Is(err, errdefs.ErrBootFailed):
		return replyError{"io.sdme.BootFailed", msg}
	case errors.Is(err, errdefs.ErrTransfer), errors.Is(err, errdefs.ErrCorrupt), errors.Is(err, errdefs.ErrUnsupported):
		return replyError{"io.sdme.TransferFailed", msg}
	case errors.Is(err, errdefs.ErrNotFound):
		switch obj {
		case rootfsObj, newContainer:
			return replyError{"io.sdme.NoSuchRootfs", struct{}{}}
		case transfer:
			return replyError{"io.sdme.TransferFailed", msg}
		}
		return replyError{"io.sdme.NoSuchContainer", struct{}{}}
	case errors.Is(err, errdefs.ErrExists):
		if obj == rootfsObj || obj == transfer {
			return replyError{"io.sdme.RootfsExists", struct{}{}}
		}
		return replyError{"io.sdme.ContainerExists", struct{}{}}
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		if obj == rootfsObj || obj == transfer {
			return replyError{"io.sdme.RootfsInUse", struct{}{}}
		}
		return replyError{"io.sdme.BadState", msg}
	case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrAmbiguous):
		return replyError{"io.sdme.InvalidArgument", msg}
	case errors.Is(err, context.Canceled):
		return replyError{"io.sdme.Failed", messageParams{"cancelled: the service is stopping"}}
	}
	return replyError{"io.sdme.Failed", msg}
}
