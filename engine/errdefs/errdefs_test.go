package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	cases := []struct {
		err   error
		msg   string
		class error
	}{
		{&Error{Kind: Container, Name: "x", Err: ErrNotFound}, `container "x": not found`, ErrNotFound},
		{&Error{Kind: Rootfs, Name: "x", Err: ErrExists, Hint: HintForce}, `rootfs "x": already exists`, ErrExists},
		{&Error{Kind: Container, Name: "x", Err: fmt.Errorf("not running: %w", ErrFailedPrecondition), Hint: HintStart},
			`container "x": not running: failed precondition`, ErrFailedPrecondition},
		{fmt.Errorf("start: %w", &Error{Kind: Container, Name: "x", Err: ErrNotFound}), `start: container "x": not found`, ErrNotFound},
		{&Error{Err: fmt.Errorf("sdme needs root: %w", ErrPermissionDenied), Hint: HintRoot}, "sdme needs root: permission denied", ErrPermissionDenied},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.msg {
			t.Errorf("Error() = %q, want %q", got, c.msg)
		}
		if !errors.Is(c.err, c.class) {
			t.Errorf("%q is not %v", c.err, c.class)
		}
		var e *Error
		if !errors.As(c.err, &e) {
			t.Errorf("%q is not an *Error", c.err)
		}
	}
}
