package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sdme/sdme/engine/ociapp"
)

// Env are environment variables for the container's PID 1, KEY=VALUE in
// the order given. Values reach the guest byte for byte: spaces, quotes,
// '%', '$' and backslashes included.
type Env []string

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxEnv bounds the variables of one container and maxEnvEntry each of
// them, well below what one nspawn argument (128 KiB) can hold.
const (
	maxEnv      = 256
	maxEnvEntry = 32 << 10
)

func (e *Env) check() error {
	if len(*e) > maxEnv {
		return Invalid("env", fmt.Sprint(len(*e), " variables"), fmt.Sprint("at most ", maxEnv))
	}
	seen := map[string]bool{}
	for _, kv := range *e {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case len(kv) > maxEnvEntry:
			return Invalid("env", k, fmt.Sprintf("longer than %d bytes", maxEnvEntry))
		case !utf8.ValidString(kv):
			// A unit file is UTF-8: systemd would refuse the line at start.
			return Invalid("env", k, "the variable is not UTF-8")
		case !ok:
			return Invalid("env", kv, "want KEY=VALUE")
		case !envKey.MatchString(k):
			return Invalid("env", kv, "a variable name is letters, digits and '_', not starting with a digit")
		case hasControl(v):
			return Invalid("env", kv, "the value has a newline or another control character")
		case strings.Contains(v, "|"):
			// The separator of the state file's ENVS, as the original
			// sdme wrote it.
			return Invalid("env", kv, "the value has a '|'")
		case seen[k]:
			return Invalid("env", kv, k+" is given twice")
		}
		seen[k] = true
	}
	return nil
}

// Names returns the variables' names alone, for those who may know which
// variables a container has but not their values.
func (e Env) Names() Env {
	if e == nil {
		return nil
	}
	names := make(Env, len(e))
	for i, kv := range e {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return names
}

func (e *Env) plan(_ Input, p *Plan) error {
	for _, kv := range *e {
		p.Nspawn = append(p.Nspawn, "--setenv="+kv)
	}
	return nil
}

// prepare gives an OCI application the container's variables too, as
// podman's -e does: they follow the image's in the application's
// environment, so they win. Root's alone, as the drop-in is.
func (e *Env) prepare(_ context.Context, t Tree) error {
	if !t.App || len(*e) == 0 {
		return nil
	}
	if err := mkdirLike(t, ociapp.Dir); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(t.Upper, ociapp.ContainerEnvFile), ociapp.EnvFileContent(*e), 0o600)
}

func (e *Env) encode(kv map[string]string) {
	if len(*e) > 0 {
		kv["ENVS"] = strings.Join(*e, "|")
	}
}

func (e *Env) decode(take func(string) string) error {
	for _, s := range splitList(take("ENVS"), "|") {
		if !strings.Contains(s, "=") {
			return errors.New("ENVS has an entry that is not KEY=VALUE")
		}
		*e = append(*e, s)
	}
	return nil
}
