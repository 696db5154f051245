// Package buildfile parses the build files of sdme fs build and computes
// the cache keys of their steps.
//
// A build file is a small Dockerfile: FROM names the rootfs to start from,
// and RUN, COPY, ENV and WORKDIR change it one step at a time. Directives
// of Docker's that make no sense for a rootfs that boots systemd are
// refused with what to do instead, rather than ignored, so that a file
// never builds something other than what it says.
//
// A build file may come from anyone, so the parser bounds what it reads
// (the file, a line, the steps, the variables), and COPY can only read
// inside the build context, whatever its symlinks say.
package buildfile

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/sdme/sdme/engine/errdefs"
)

// File is a parsed build file.
type File struct {
	Path string // as given to Parse, for messages
	From string // the name of the rootfs the build starts from
	// FromLine is the line of FROM.
	FromLine int
	Steps    []Step
}

// Op is what a step does.
type Op string

const (
	OpRun     Op = "RUN"
	OpCopy    Op = "COPY"
	OpEnv     Op = "ENV"
	OpWorkdir Op = "WORKDIR"
)

// Step is one directive after FROM. The fields an Op does not use are
// empty.
type Step struct {
	Line int // the first physical line of the directive, from 1
	Op   Op
	Text string // the directive as written, continuations joined

	Argv []string // RUN: the command; the shell form is /bin/sh -c TEXT

	// COPY: the sources, cleaned and relative to the build context, may
	// be glob patterns (see Expand); the destination, absolute and
	// cleaned, and whether it was written as a directory (a trailing
	// "/", or "." or ".." as its last element).
	Sources []string
	Dest    string
	DestDir bool

	Env []EnvVar // ENV: the variables it sets, in order

	Workdir string   // the working directory once the step is done
	EnvAll  []EnvVar // the variables set before the step, sorted by name
}

// EnvVar is an environment variable.
type EnvVar struct {
	Name, Value string
}

// Error is a mistake in a build file, at a line (0 when it concerns the
// whole file). It is an errdefs.ErrInvalidArgument.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Msg
	}
	return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

func (e *Error) Unwrap() error { return errdefs.ErrInvalidArgument }

// show returns s for a message: as it is when that reads unambiguously,
// quoted when it is empty or holds blanks, control characters (which
// would drive the terminal) or bytes that are not UTF-8.
func show(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// hasControl reports whether s holds a C0 or C1 control character or DEL.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
