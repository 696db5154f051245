package names

import (
	"errors"
	"strings"
	"testing"

	"github.com/sdme/sdme/engine/errdefs"
)

func TestValidate(t *testing.T) {
	good := []string{"a", "box", "web-1", "a0", strings.Repeat("x", MaxLen), "trailing-"}
	for _, n := range good {
		if err := Validate(n); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", n, err)
		}
	}
	bad := []string{"", "1box", "-box", "Box", "box_1", "box.1", "box 1", "bóx", "a/b", "..", strings.Repeat("x", MaxLen+1)}
	for _, n := range bad {
		err := Validate(n)
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidArgument", n, err)
		}
	}
}

func TestGenerateIsValidAndAvoidsTaken(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		n, err := Generate(func(s string) bool { return seen[s] })
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(n); err != nil {
			t.Fatalf("Generate() = %q, invalid: %v", n, err)
		}
		if seen[n] {
			t.Fatalf("Generate() = %q, which was taken", n)
		}
		seen[n] = true
	}
}

func TestGenerateGivesUp(t *testing.T) {
	_, err := Generate(func(string) bool { return true })
	if !errors.Is(err, errdefs.ErrExists) {
		t.Fatalf("Generate(all taken) = %v, want ErrExists", err)
	}
}
