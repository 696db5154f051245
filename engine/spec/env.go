package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Env are environment variables for the container's PID 1, KEY=VALUE in
// the order given. Values reach the guest byte for byte: spaces, quotes,
// '%', '$' and backslashes included.
type Env []string

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (e *Env) check() error {
	seen := map[string]bool{}
	for _, kv := range *e {
		k, v, ok := strings.Cut(kv, "=")
		switch {
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

func (e *Env) plan(_ Input, p *Plan) error {
	for _, kv := range *e {
		p.Nspawn = append(p.Nspawn, "--setenv="+kv)
	}
	return nil
}

func (e *Env) encode(kv map[string]string) {
	if len(*e) > 0 {
		kv["ENVS"] = strings.Join(*e, "|")
	}
}

func (e *Env) decode(take func(string) string) error {
	for _, s := range splitList(take("ENVS"), "|") {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("ENVS: %q is not KEY=VALUE", s)
		}
		*e = append(*e, s)
	}
	return nil
}
