package varlink

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// decode reads a call's parameters into v (a pointer to a struct whose
// optional fields are pointers), as strictly as systemd's own services do:
// an unknown field, a field of the wrong type and a missing or null
// required field are each reported by name. Absent or null parameters
// mean {}, as systemd's clients omit empty ones.
func decode(raw *json.RawMessage, v any, required ...string) (field string, ok bool) {
	data := []byte("{}")
	if raw != nil && !bytes.Equal(bytes.TrimSpace(*raw), []byte("null")) {
		data = *raw
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badField(err), false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return "parameters", false
	}
	for _, r := range required {
		if f, ok := fields[r]; !ok || bytes.Equal(bytes.TrimSpace(f), []byte("null")) {
			return r, false
		}
	}
	return "", true
}

// badField names the field a decoding error is about.
func badField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// The path of the field; an embedded struct (the container's
		// spec) is a Go name, not a parameter's.
		for _, f := range strings.Split(te.Field, ".") {
			if f != "" && (f[0] < 'A' || f[0] > 'Z') {
				return f
			}
		}
	}
	// encoding/json says: json: unknown field "name"
	if _, f, ok := strings.Cut(err.Error(), "unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return "parameters"
}
