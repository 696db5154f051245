package varlink

import (
	"context"
	"errors"

	"github.com/sdme/sdme/engine/errdefs"
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

// kindErrors are the interface's errors about one kind of object: that it
// does not exist, that it exists already, that it is in the wrong state.
type kindErrors struct {
	notFound, exists, badState string
}

// byKind maps the kind of object an engine error is about onto the
// interface's errors: a new noun (pods) is a line here and its errors in
// the IDL. Errors without a kind are about what an import reads (a source
// path, a URL, an image's tag): that it is missing is a failed transfer.
var byKind = map[errdefs.Kind]kindErrors{
	errdefs.Container: {"io.sdme.NoSuchContainer", "io.sdme.ContainerExists", "io.sdme.BadState"},
	errdefs.Rootfs:    {"io.sdme.NoSuchRootfs", "io.sdme.RootfsExists", "io.sdme.RootfsInUse"},
	errdefs.Pod:       {"io.sdme.NoSuchPod", "io.sdme.PodExists", "io.sdme.PodInUse"},
	"":                {notFound: "io.sdme.TransferFailed"},
}

// withMessage are the errors that carry a message; the others carry no
// parameters.
var withMessage = map[string]bool{
	"io.sdme.InvalidArgument": true,
	"io.sdme.BadState":        true,
	"io.sdme.PodInUse":        true,
	"io.sdme.BootFailed":      true,
	"io.sdme.TransferFailed":  true,
	"io.sdme.Failed":          true,
}

// errorFor maps an engine error onto the error a client gets: the one
// place where the engine's classes and kinds meet the interface's error
// names.
func errorFor(err error) replyError {
	var obj *errdefs.Error
	var k errdefs.Kind
	if errors.As(err, &obj) {
		k = obj.Kind
	}
	kind := byKind[k]
	named := func(name string) replyError {
		if !withMessage[name] {
			return replyError{name, struct{}{}}
		}
		msg := err.Error()
		if h := hint(obj); h != "" {
			msg += "; " + h
		}
		return replyError{name, messageParams{msg}}
	}
	switch {
	case errors.Is(err, errdefs.ErrPermissionDenied):
		return replyError{"org.varlink.service.PermissionDenied", struct{}{}}
	case errors.Is(err, errdefs.ErrInvalidName):
		return named("io.sdme.InvalidName")
	case errors.Is(err, errdefs.ErrLocked):
		return named("io.sdme.Busy")
	case errors.Is(err, errdefs.ErrBootFailed):
		return named("io.sdme.BootFailed")
	case errors.Is(err, errdefs.ErrCorrupt) && kind.badState != "":
		// A damaged record of the object, not a damaged download.
		return named(kind.badState)
	case errors.Is(err, errdefs.ErrTransfer), errors.Is(err, errdefs.ErrCorrupt), errors.Is(err, errdefs.ErrUnsupported):
		return named("io.sdme.TransferFailed")
	case errors.Is(err, errdefs.ErrNotFound) && kind.notFound != "":
		return named(kind.notFound)
	case errors.Is(err, errdefs.ErrExists) && kind.exists != "":
		return named(kind.exists)
	case errors.Is(err, errdefs.ErrFailedPrecondition) && kind.badState != "":
		return named(kind.badState)
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return named("io.sdme.InvalidArgument")
	case errors.Is(err, context.Canceled):
		return replyError{"io.sdme.Failed", messageParams{"cancelled: the service is stopping"}}
	}
	return named("io.sdme.Failed")
}

// hint words the engine's advice for a client of the interface, in its
// methods and parameters; never the CLI's commands and flags.
func hint(e *errdefs.Error) string {
	if e == nil {
		return ""
	}
	switch e.Hint {
	case errdefs.HintRemove:
		if e.Kind == errdefs.Rootfs {
			return "remove it with RemoveRootfs"
		}
		return "remove it with Remove"
	case errdefs.HintStart:
		return "start it with Start"
	case errdefs.HintKill:
		return "stop it with Stop and mode kill"
	case errdefs.HintList:
		switch e.Kind {
		case errdefs.Rootfs:
			return "see ListRootfs"
		case errdefs.Pod:
			return "see ListPods"
		}
		return "see List"
	case errdefs.HintForce:
		if e.Kind == errdefs.Pod {
			return "remove the containers first, or set force to remove them with the pod"
		}
		return "set force to replace it"
	case errdefs.HintName:
		return "give a name"
	case errdefs.HintDatadir:
		return "or choose another with SetConfig datadir"
	case errdefs.HintPlatform:
		return "choose one with platform"
	case errdefs.HintInsecure:
		return "if this registry is served over plain HTTP or with a self-signed certificate, allow it with insecure or SetConfig insecure_registries"
	case errdefs.HintBase:
		return "name a base rootfs with systemd in baseFs (or SetConfig default_base_fs); ociMode base imports the image as a plain rootfs"
	}
	return "" // HintRoot: PermissionDenied says all there is to say
}
