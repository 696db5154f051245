package buildfile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// A step's key names the tree it builds: it covers everything the step's
// result depends on, and the key of the step before covers the rest. Each
// field is length-prefixed, so that no two different inputs hash the same
// bytes ("ab"+"c" and "a"+"bc" do not).

// keyVersion changes whenever what a key covers does, so that the keys of
// an older sdme never match a newer one's.
const keyVersion = "sdme build 1"

// BaseKey returns the key the chain of a build starts from: the rootfs
// from, as identity (which the caller chooses so that it changes whenever
// the rootfs does) says it is now.
func BaseKey(from, identity string) string {
	h := sha256.New()
	for _, f := range []string{keyVersion, "FROM", from, identity} {
		field(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StepKey returns the key of the step s after the step whose key is
// parent (or BaseKey for the first step). content is what the step reads
// from the build context, ContentDigest of a COPY's sources, and ""
// otherwise.
func StepKey(parent string, s Step, content string) string {
	h := sha256.New()
	// The text says what the step does; the working directory and the
	// environment say what a relative path and $VAR in it mean.
	for _, f := range []string{keyVersion, parent, string(s.Op), s.Text, s.Workdir, content} {
		field(h, f)
	}
	number(h, uint64(len(s.EnvAll)))
	for _, v := range s.EnvAll {
		field(h, v.Name)
		field(h, v.Value)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// field writes s to h after its length.
func field(h hash.Hash, s string) {
	number(h, uint64(len(s)))
	io.WriteString(h, s)
}

func number(h hash.Hash, n uint64) {
	h.Write(binary.BigEndian.AppendUint64(nil, n))
}
