// Package names validates object names and invents pronounceable ones.
//
// Every container (and later rootfs and pod) name must start with a-z and
// continue with a-z, 0-9 and '-', at most 64 characters: it becomes a file
// name, a systemd unit instance, a machine name and a hostname, and this is
// the set every one of those accepts without escaping.
package names

import (
	"fmt"
	"math/rand/v2"

	"github.com/sdme/sdme/engine/errdefs"
)

// MaxLen is the longest name accepted; machined allows 64 characters as well.
const MaxLen = 64

// Validate reports whether name is a valid object name.
func Validate(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name: %w", errdefs.ErrInvalidName)
	case len(name) > MaxLen:
		return fmt.Errorf("name %q is %d characters, at most %d are allowed: %w", name, len(name), MaxLen, errdefs.ErrInvalidName)
	case name[0] < 'a' || name[0] > 'z':
		return fmt.Errorf("name %q must start with a lowercase letter (a-z): %w", name, errdefs.ErrInvalidName)
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("name %q has %q at position %d; only a-z, 0-9 and '-' are allowed: %w", name, c, i+1, errdefs.ErrInvalidName)
		}
	}
	return nil
}

// Syllables are joined into names such as "maraemanavi": easy to say and to
// type, and never a valid English word that could be mistaken for a command.
var syllables = []string{
	"ma", "ra", "e", "na", "vi", "ju", "ru", "ti", "pa", "ca", "ja", "gua",
	"ri", "ta", "bo", "po", "ra", "su", "mo", "ne", "pi", "to", "ba", "ku",
	"la", "ni", "ro", "sa", "ya", "ve", "ko", "mi", "nu", "tu", "wa", "ze",
}

// Generate returns a pronounceable name for which taken returns false.
// It gives up after many tries, which only happens when nearly every short
// name is in use.
func Generate(taken func(string) bool) (string, error) {
	for try := 0; try < 1000; try++ {
		n := 4 + try/200 // longer names once short ones run out
		if n > 8 {
			n = 8
		}
		name := ""
		for i := 0; i < n; i++ {
			name += syllables[rand.IntN(len(syllables))]
		}
		if taken(name) {
			continue
		}
		return name, nil
	}
	return "", fmt.Errorf("could not find a free container name: %w", errdefs.ErrExists)
}
