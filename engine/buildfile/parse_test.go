package buildfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func parse(t *testing.T, text string) *File {
	t.Helper()
	f, err := Parse("Buildfile", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return f
}

func TestParse(t *testing.T) {
	f := parse(t, `# a comment
From fs:base

run apt-get install -y \
    # a comment inside, dropped as Docker does
    curl   \

    vim
RUN ["/usr/bin/env", "true"]
Copy "a b" 'c d' e* sub/
WORKDIR /srv
ENV A=1 B="two words" C='x y'
WORKDIR app/../www
COPY ["f", "."]
ENV LEGACY a value with  blanks
COPY f rel/file
`)
	if f.From != "base" {
		t.Errorf("From = %q", f.From)
	}
	vars := []EnvVar{{"A", "1"}, {"B", "two words"}, {"C", "x y"}}
	all := []EnvVar{{"A", "1"}, {"B", "two words"}, {"C", "x y"}, {"LEGACY", "a value with  blanks"}}
	want := []Step{
		{Line: 4, Op: OpRun, Text: "run apt-get install -y curl vim",
			Argv: []string{"/bin/sh", "-c", "apt-get install -y curl vim"}, Workdir: "/"},
		{Line: 9, Op: OpRun, Text: `RUN ["/usr/bin/env", "true"]`,
			Argv: []string{"/usr/bin/env", "true"}, Workdir: "/"},
		{Line: 10, Op: OpCopy, Text: `Copy "a b" 'c d' e* sub/`,
			Sources: []string{"a b", "c d", "e*"}, Dest: "/sub", DestDir: true, Workdir: "/"},
		{Line: 11, Op: OpWorkdir, Text: "WORKDIR /srv", Workdir: "/srv"},
		{Line: 12, Op: OpEnv, Text: `ENV A=1 B="two words" C='x y'`, Env: vars, Workdir: "/srv"},
		{Line: 13, Op: OpWorkdir, Text: "WORKDIR app/../www", Workdir: "/srv/www", EnvAll: vars},
		{Line: 14, Op: OpCopy, Text: `COPY ["f", "."]`,
			Sources: []string{"f"}, Dest: "/srv/www", DestDir: true, Workdir: "/srv/www", EnvAll: vars},
		{Line: 15, Op: OpEnv, Text: "ENV LEGACY a value with  blanks",
			Env: []EnvVar{{"LEGACY", "a value with  blanks"}}, Workdir: "/srv/www", EnvAll: vars},
		{Line: 16, Op: OpCopy, Text: "COPY f rel/file",
			Sources: []string{"f"}, Dest: "/srv/www/rel/file", Workdir: "/srv/www", EnvAll: all},
	}
	if len(f.Steps) != len(want) {
		t.Fatalf("%d steps, want %d: %+v", len(f.Steps), len(want), f.Steps)
	}
	for i := range want {
		if !reflect.DeepEqual(f.Steps[i], want[i]) {
			t.Errorf("step %d:\n got %+v\nwant %+v", i, f.Steps[i], want[i])
		}
	}
}

func TestParseForms(t *testing.T) {
	for _, tt := range []struct {
		text string
		want Step // only the fields the test sets are compared
	}{
		{"RUN echo a  \\  \n  b", Step{Text: "RUN echo a b"}},
		{"RUN echo \\\r\n b\r\n", Step{Text: "RUN echo b"}},
		{"wOrKdIr /x", Step{Op: OpWorkdir, Workdir: "/x"}},
		{"RUN    spaced   out  ", Step{Argv: []string{"/bin/sh", "-c", "spaced   out"}}},
		{"RUN [\"a\"]", Step{Argv: []string{"a"}}},
		{`COPY a\ b "c\"d" 'e\f' /x/`, Step{Sources: []string{"a b", `c"d`, `e\f`}}},
		{`COPY ./a/../b/ /x`, Step{Sources: []string{"b"}, Dest: "/x"}},
		{`COPY . /x/.`, Step{Sources: []string{"."}, Dest: "/x", DestDir: true}},
		{`COPY a#b /`, Step{Sources: []string{"a#b"}, Dest: "/", DestDir: true}},
		{`COPY [a-z]* ["x"] /`, Step{Sources: []string{"[a-z]*", "[x]"}}},
		{`COPY ["it's", "/"]`, Step{Sources: []string{"it's"}}},
		{`COPY a ..`, Step{Dest: "/", DestDir: true}},
		{`ENV A=`, Step{Env: []EnvVar{{"A", ""}}}},
		{`ENV _a1="x=y" b=\$c`, Step{Env: []EnvVar{{"_a1", "x=y"}, {"b", "$c"}}}},
		{`ENV A "quoted"`, Step{Env: []EnvVar{{"A", `"quoted"`}}}},
		{`WORKDIR "/a dir"`, Step{Workdir: "/a dir"}},
		{`WORKDIR a/./b//`, Step{Workdir: "/a/b"}},
		{`WORKDIR ..`, Step{Workdir: "/"}},
	} {
		f := parse(t, "FROM base\n"+tt.text)
		got := f.Steps[len(f.Steps)-1]
		w := tt.want
		if w.Text != "" && got.Text != w.Text ||
			w.Op != "" && got.Op != w.Op ||
			w.Argv != nil && !reflect.DeepEqual(got.Argv, w.Argv) ||
			w.Sources != nil && !reflect.DeepEqual(got.Sources, w.Sources) ||
			w.Dest != "" && (got.Dest != w.Dest || got.DestDir != w.DestDir) ||
			w.Env != nil && !reflect.DeepEqual(got.Env, w.Env) ||
			w.Workdir != "" && got.Workdir != w.Workdir {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.text, got, w)
		}
	}
}

func TestParseLastWins(t *testing.T) {
	f := parse(t, "FROM base\nENV A=1 B=2\nENV A=3\nRUN env")
	want := []EnvVar{{"A", "3"}, {"B", "2"}}
	if got := f.Steps[2].EnvAll; !reflect.DeepEqual(got, want) {
		t.Errorf("EnvAll = %v, want %v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	many := "FROM base\n" + strings.Repeat("RUN true\n", maxSteps) + "RUN one too many\n"
	for _, tt := range []struct {
		text string
		line int
		msg  string
	}{
		{"", 0, "no FROM"},
		{"# nothing\n\n", 0, "no FROM"},
		{"RUN true\nFROM base", 1, "the first directive must be FROM"},
		{"\nCMD x", 2, "the first directive must be FROM"},
		{"FROM base\nFROM other", 2, "FROM again"},
		{"FROM", 1, "FROM takes one rootfs name"},
		{"FROM a AS b", 1, "FROM takes one rootfs name"},
		{"FROM Base", 1, "must start with a lowercase letter"},
		{"FROM fs:", 1, "empty name"},
		{"FROM base\n\nCMD [\"x\"]", 3, "unknown directive CMD: a rootfs boots systemd"},
		{"FROM base\nadd a /", 2, "unknown directive add: use COPY"},
		{"FROM base\nHEALTHCHECK NONE", 2, "unknown directive HEALTHCHECK"},
		{"FROM base\nRUN\x1b[2J x", 2, `unknown directive "RUN\x1b[2J"`},
		{"FROM base\nRUN", 2, "RUN needs a command"},
		{"FROM base\nRUN []", 2, "RUN needs a command"},
		{"FROM base\nRUN [\"a\", 1]", 2, "RUN: not a JSON array of strings"},
		{"FROM base\nRUN [\"a\\u0000\"]", 2, "NUL"},
		{"FROM base\nCOPY ../x /", 2, "COPY source ../x is outside the build context"},
		{"FROM base\nCOPY a/../../x /", 2, "COPY source a/../../x is outside the build context"},
		{"FROM base\nCOPY /etc/passwd /", 2, "COPY source /etc/passwd is outside the build context"},
		{"FROM base\nCOPY [\"..\", \"/\"]", 2, "COPY source .. is outside the build context"},
		{"FROM base\nCOPY a", 2, "COPY needs a source and a destination"},
		{"FROM base\nCOPY a b c", 2, "COPY of several sources needs a directory: end c with /"},
		{"FROM base\nCOPY --chown=1:1 a /", 2, "COPY option --chown is not supported"},
		{"FROM base\nCOPY --from=x a /", 2, "COPY option --from is not supported"},
		{"FROM base\nCOPY 'a /", 2, "unterminated ' quote"},
		{"FROM base\nCOPY [\"a\", \"b\"", 2, "COPY source [a, is not a valid pattern"},
		{"FROM base\nCOPY a[ /", 2, "COPY source a[ is not a valid pattern"},
		{"FROM base\nCOPY a \"/b\x07\"", 2, "COPY destination \"/b\\a\" is not a valid path"},
		{"FROM base\nCOPY [\"a\", \"/b\\u0000\"]", 2, "is not a valid path"},
		{"FROM base\nENV 1A=x", 2, "ENV name 1A is not"},
		{"FROM base\nENV A-B=x", 2, "ENV name A-B is not"},
		{"FROM base\nENV A=1 B", 2, "ENV B is not NAME=VALUE"},
		{"FROM base\nENV A", 2, "ENV A needs a value"},
		{"FROM base\nENV A=\"\x1b\"", 2, "control character"},
		{"FROM base\nWORKDIR a b", 2, "WORKDIR takes one path"},
		{"FROM base\nWORKDIR \"\"", 2, "WORKDIR \"\" is not a valid path"},
		{"FROM base\nRUN a \\\n\n# only comments follow\n", 2, "the file ends in a continuation"},
		{"FROM base\nRUN a\x00b", 2, "NUL byte"},
		{"FROM base\n#\x00\n", 2, "NUL byte"},
		{"FROM base\nRUN " + strings.Repeat("x \\\n", maxLine/2), 2, "line longer than 64 KiB"},
		{strings.Repeat("#", maxFile+1), 0, "larger than 1 MiB"},
		{many, maxSteps + 2, "more than 256 steps"},
	} {
		_, err := Parse("Buildfile", strings.NewReader(tt.text))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%.40q: error %v, want an *Error", tt.text, err)
			continue
		}
		if e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("%.40q: error %q at line %d, want %q at line %d", tt.text, e.Msg, e.Line, tt.msg, tt.line)
		}
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%.40q: %v is not an ErrInvalidArgument", tt.text, err)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		err  *Error
		want string
	}{
		{&Error{Path: "dir/Buildfile", Line: 3, Msg: "unknown directive CMD"}, "dir/Buildfile:3: unknown directive CMD"},
		{&Error{Path: "Buildfile", Msg: "no FROM"}, "Buildfile: no FROM"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 nil,
		"  a\tb  ":         {"a", "b"},
		`"" ''`:            {"", ""},
		`a"b c"'d e'f`:     {"ab cd ef"},
		`"\$\a\\\""`:       {`$\a\"`},
		`'\'`:              {`\`},
		`\'x`:              {"'x"},
		`#not-a-comment x`: {"#not-a-comment", "x"},
	} {
		got, err := words(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("words(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`"a`, `'a`, `a\`, `"a\"`} {
		if _, err := words(in); err == nil {
			t.Errorf("words(%q) did not fail", in)
		}
	}
}
