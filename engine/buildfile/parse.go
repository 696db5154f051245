package buildfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/sdme/sdme/engine/names"
)

// Bounds on what a build file may ask of the parser. They are far above
// what a real file needs and keep a hostile one from costing much memory:
// every step holds a copy of the environment, so the steps and the
// variables are both bounded.
const (
	maxFile  = 1 << 20
	maxLine  = 64 << 10
	maxSteps = 256
	maxVars  = 1024
)

// envName is what a shell accepts as a variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// unsupported says what to do instead of a Docker directive that has no
// place in a rootfs.
var unsupported = map[string]string{
	"ADD":        "use COPY",
	"CMD":        "a rootfs boots systemd: enable a unit with RUN systemctl enable",
	"ENTRYPOINT": "a rootfs boots systemd: enable a unit with RUN systemctl enable",
	"USER":       "run as another user with RUN runuser -u USER -- ...",
	"EXPOSE":     "forward a port with sdme create --port",
	"VOLUME":     "bind a directory with sdme create --bind",
	"ARG":        "use ENV",
}

// Parse parses the build file read from r; path names it in messages.
// A mistake in the file is an *Error.
func Parse(path string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxFile {
		return nil, &Error{Path: path, Msg: "larger than 1 MiB"}
	}
	p := &parser{f: &File{Path: path}, workdir: "/", env: map[string]string{}}
	var (
		pieces []string // of the logical line being joined
		start  int      // its first line
		size   int
		more   bool // the last line ended in a backslash
	)
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if strings.IndexByte(line, 0) >= 0 {
			return nil, &Error{Path: path, Line: n, Msg: "NUL byte"}
		}
		// Trailing blanks are invisible, and \r ends the lines of a file
		// written on Windows.
		line = strings.Trim(line, " \t\r")
		if line == "" || line[0] == '#' {
			continue // also inside a continuation, as Docker does
		}
		if !more {
			start, size = n, 0
		}
		line, more = strings.CutSuffix(line, `\`)
		if line = strings.TrimRight(line, " \t"); line != "" {
			pieces = append(pieces, line)
			size += len(line) + 1
		}
		if size > maxLine {
			return nil, &Error{Path: path, Line: start, Msg: "line longer than 64 KiB"}
		}
		if more {
			continue
		}
		if err := p.directive(start, strings.Join(pieces, " ")); err != nil {
			return nil, &Error{Path: path, Line: start, Msg: err.Error()}
		}
		pieces = pieces[:0]
	}
	if more {
		return nil, &Error{Path: path, Line: start, Msg: `the file ends in a continuation (a line ending in \)`}
	}
	if p.f.From == "" {
		return nil, &Error{Path: path, Msg: "no FROM"}
	}
	return p.f, nil
}

type parser struct {
	f       *File
	workdir string
	env     map[string]string
}

// directive parses one logical line, starting at line n.
func (p *parser) directive(n int, text string) error {
	name, rest := cutWord(text)
	op := strings.ToUpper(name)
	switch {
	case op == "FROM":
		return p.from(n, rest)
	case p.f.FromLine == 0:
		return errors.New("the first directive must be FROM")
	case len(p.f.Steps) == maxSteps:
		return fmt.Errorf("more than %d steps", maxSteps)
	}
	s := Step{Line: n, Op: Op(op), Text: text, EnvAll: p.environ()}
	var err error
	switch s.Op {
	case OpRun:
		err = p.run(&s, rest)
	case OpCopy:
		err = p.copy(&s, rest)
	case OpEnv:
		err = p.setenv(&s, rest)
	case OpWorkdir:
		err = p.chdir(rest)
	default:
		err = unknown(name, op)
	}
	if err != nil {
		return err
	}
	s.Workdir = p.workdir
	p.f.Steps = append(p.f.Steps, s)
	return nil
}

func unknown(name, op string) error {
	if strings.ContainsFunc(op, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		return fmt.Errorf("unknown directive %s", show(name))
	}
	if why := unsupported[op]; why != "" {
		return fmt.Errorf("unknown directive %s: %s", name, why)
	}
	return fmt.Errorf("unknown directive %s", name)
}

func (p *parser) from(n int, rest string) error {
	if p.f.FromLine != 0 {
		return fmt.Errorf("FROM again: a build file has one FROM, at line %d", p.f.FromLine)
	}
	args := strings.Fields(rest)
	if len(args) != 1 {
		return errors.New("FROM takes one rootfs name")
	}
	name := strings.TrimPrefix(args[0], "fs:")
	if err := names.Validate(name); err != nil {
		return fmt.Errorf("FROM: %w", err)
	}
	p.f.From, p.f.FromLine = name, n
	return nil
}

func (p *parser) run(s *Step, rest string) error {
	if rest == "" {
		return errors.New("RUN needs a command")
	}
	if rest[0] != '[' {
		s.Argv = []string{"/bin/sh", "-c", rest}
		return nil
	}
	var argv []string
	if err := json.Unmarshal([]byte(rest), &argv); err != nil {
		return fmt.Errorf("RUN: not a JSON array of strings: %w", err)
	}
	if len(argv) == 0 {
		return errors.New("RUN needs a command")
	}
	// JSON can spell a NUL, which no exec argument can hold.
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return errors.New("RUN argument with a NUL byte")
		}
	}
	s.Argv = argv
	return nil
}

func (p *parser) copy(s *Step, rest string) error {
	if strings.HasPrefix(rest, "--") {
		opt, _ := cutWord(rest)
		opt, _, _ = strings.Cut(opt, "=")
		return fmt.Errorf("COPY option %s is not supported", show(opt))
	}
	// A bracket that does not open a JSON array starts a glob such as
	// [a-z]*, as Docker has it.
	args, err := words(rest)
	if strings.HasPrefix(rest, "[") {
		var a []string
		if json.Unmarshal([]byte(rest), &a) == nil {
			args, err = a, nil
		}
	}
	if err != nil {
		return fmt.Errorf("COPY: %w", err)
	}
	if len(args) < 2 {
		return errors.New("COPY needs a source and a destination")
	}
	srcs, dst := args[:len(args)-1], args[len(args)-1]
	for _, src := range srcs {
		c, err := checkSource(src)
		if err != nil {
			return err
		}
		s.Sources = append(s.Sources, c)
	}
	if dst == "" || hasControl(dst) {
		return fmt.Errorf("COPY destination %s is not a valid path", show(dst))
	}
	base := path.Base(dst)
	s.DestDir = strings.HasSuffix(dst, "/") || base == "." || base == ".."
	if len(srcs) > 1 && !s.DestDir {
		return fmt.Errorf("COPY of several sources needs a directory: end %s with /", show(dst))
	}
	s.Dest = p.resolve(dst)
	return nil
}

// checkSource cleans the COPY source src, which must be a path or glob
// pattern inside the build context.
func checkSource(src string) (string, error) {
	if src == "" || hasControl(src) {
		return "", fmt.Errorf("COPY source %s is not a valid path", show(src))
	}
	c := path.Clean(src)
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("COPY source %s is outside the build context", show(src))
	}
	if _, err := path.Match(c, ""); err != nil {
		return "", fmt.Errorf("COPY source %s is not a valid pattern", show(src))
	}
	return c, nil
}

func (p *parser) setenv(s *Step, rest string) error {
	name, value := cutWord(rest)
	switch {
	case name == "":
		return errors.New("ENV needs NAME=VALUE")
	case !strings.Contains(name, "="):
		// The legacy form, ENV NAME VALUE: the rest of the line is the value.
		if value == "" {
			return fmt.Errorf("ENV %s needs a value", show(name))
		}
		s.Env = []EnvVar{{name, value}}
	default:
		args, err := words(rest)
		if err != nil {
			return fmt.Errorf("ENV: %w", err)
		}
		for _, a := range args {
			name, value, ok := strings.Cut(a, "=")
			if !ok {
				return fmt.Errorf("ENV %s is not NAME=VALUE", show(a))
			}
			s.Env = append(s.Env, EnvVar{name, value})
		}
	}
	for _, v := range s.Env {
		if !envName.MatchString(v.Name) {
			return fmt.Errorf("ENV name %s is not a letter or _ followed by letters, digits and _", show(v.Name))
		}
		if hasControl(v.Value) {
			return fmt.Errorf("ENV %s has a control character in its value", v.Name)
		}
		if _, ok := p.env[v.Name]; !ok && len(p.env) == maxVars {
			return fmt.Errorf("more than %d environment variables", maxVars)
		}
		p.env[v.Name] = v.Value
	}
	return nil
}

func (p *parser) chdir(rest string) error {
	args, err := words(rest)
	if err != nil {
		return fmt.Errorf("WORKDIR: %w", err)
	}
	if len(args) != 1 {
		return errors.New("WORKDIR takes one path (quote a path with blanks)")
	}
	if args[0] == "" || hasControl(args[0]) {
		return fmt.Errorf("WORKDIR %s is not a valid path", show(args[0]))
	}
	p.workdir = p.resolve(args[0])
	return nil
}

// resolve makes name absolute in the current working directory.
func (p *parser) resolve(name string) string {
	if path.IsAbs(name) {
		return path.Clean(name)
	}
	return path.Join(p.workdir, name)
}

// environ returns the variables set so far, sorted by name.
func (p *parser) environ() []EnvVar {
	if len(p.env) == 0 {
		return nil
	}
	env := make([]EnvVar, 0, len(p.env))
	for name, value := range p.env {
		env = append(env, EnvVar{name, value})
	}
	slices.SortFunc(env, func(a, b EnvVar) int { return strings.Compare(a.Name, b.Name) })
	return env
}

// cutWord returns the first blank-separated word of s and what follows
// it, without the blanks between them.
func cutWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}
