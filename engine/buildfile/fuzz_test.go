package buildfile

import (
	"path"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/names"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"FROM base\nRUN apt-get update && \\\n  # comment\n  apt-get install -y curl\n",
		"from fs:base\nWORKDIR app\nCOPY [\"a b\", \"c\", \"./\"]\nENV A=1 B=\"2 3\"\nRUN [\"true\"]\n",
		"FROM base\nENV PATH /usr/local/bin:/usr/bin\nCOPY 'x y' *.conf ../dst/\nWORKDIR ../..\n",
		"FROM base\r\nCOPY a \\\r\n b\r\n",
		"FROM base\nCOPY ../x /\n",
		"FROM base\nCOPY ..a /\n",
		"FROM base\nRUN a \\",
		"RUN true\n",
		"FROM base\nCMD [\"/bin/sh\"]\n",
		"FROM base\nCOPY --chown=1 a /\nENV 1=2\n",
		"FROM base\nRUN [\"a\\u0000\"]\nCOPY \"unterminated\n",
		"FROM base\nCOPY a[ /\x00\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		file, err := Parse("Buildfile", strings.NewReader(text))
		if err != nil {
			return
		}
		if err := names.Validate(file.From); err != nil {
			t.Errorf("From: %v", err)
		}
		line := 1
		for _, s := range file.Steps {
			if s.Line < line {
				t.Errorf("step at line %d after line %d", s.Line, line)
			}
			line = s.Line
			if !clean(s.Workdir) {
				t.Errorf("line %d: Workdir %q", s.Line, s.Workdir)
			}
			if s.Op == OpRun && len(s.Argv) == 0 {
				t.Errorf("line %d: RUN without argv", s.Line)
			}
			if s.Op != OpCopy {
				continue
			}
			if !clean(s.Dest) {
				t.Errorf("line %d: Dest %q", s.Line, s.Dest)
			}
			if len(s.Sources) == 0 {
				t.Errorf("line %d: COPY without sources", s.Line)
			}
			for _, src := range s.Sources {
				if src == "" || path.IsAbs(src) || src == ".." || strings.HasPrefix(src, "../") {
					t.Errorf("line %d: source %q", s.Line, src)
				}
			}
		}
	})
}

// clean reports whether p is an absolute, clean path.
func clean(p string) bool { return path.IsAbs(p) && path.Clean(p) == p }
