package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKey(t *testing.T) {
	cases := []struct {
		line, key string
		ok        bool
	}{
		{`{"id":"abc","x":1}`, "abc", true},
		{`{"id":"a\"b","x":1}`, `a\"b`, true},
		{`{"id":"a\\","x":"\""}`, `a\\`, true},
		{`{"id":"","x":1}`, "", true},
		{`{"id":"unterminated`, "", false},
		{`{"id":"ends in an escape\`, "", false},
		{`{"x":1,"id":"abc"}`, "", false},
		{`{ "id":"abc"}`, "", false},
		{``, "", false},
	}
	for _, c := range cases {
		key, ok := Key([]byte(c.line))
		if ok != c.ok || string(key) != c.key {
			t.Errorf("Key(%s) = %q %v, want %q %v", c.line, key, ok, c.key, c.ok)
		}
	}
}

func TestID(t *testing.T) {
	long := strings.Repeat("x", MaxID)
	cases := []struct {
		line, id string // id "" means ErrInvalid
	}{
		{`{"id":"abc","x":1}`, "abc"},
		{`{"id":"a\"b","x":1}`, `a"b`},
		{`{"id":"caf\u00e9"}`, "café"},
		{`{"x":{"id":"inner"},"id":"outer"}`, "outer"},
		{` { "id" : "spaced" } `, "spaced"},
		{`{"\u0069d":"escaped name"}`, "escaped name"},
		{`{"id":"first","id":"second"}`, "first"},
		{`{"x":1,"id":"first","id":"second"}`, "first"},
		{`{"id":"` + long + `"}`, long},
		{`{"id":"` + long + `x"}`, ""},
		{`{"id":""}`, ""},
		{`{"id":1}`, ""},
		{`{"x":1,"id":null}`, ""},
		{`{"x":1}`, ""},
		{`["id","abc"]`, ""},
		{`"id"`, ""},
		{`{"id":"abc"`, ""},
		{`{"id":"abc"} {}`, ""},
		{`{"id":"abc\q"}`, ""},
		{``, ""},
	}
	for _, c := range cases {
		id, err := ID([]byte(c.line))
		if c.id == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ID(%.60s) = %q, %v; want ErrInvalid", c.line, id, err)
			}
			continue
		}
		if err != nil || id != c.id {
			t.Errorf("ID(%.60s) = %.60q, %v; want %.60q", c.line, id, err, c.id)
		}
	}
}

// reference finds the id as encoding/json reads it: the first top-level member named
// "id", which must be a string.
func reference(line []byte) (string, bool) {
	if !json.Valid(line) {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		k, _ := dec.Token()
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		if k == "id" {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// FuzzRecordLine: Key and ID never panic; Key's key is the line's own bytes right
// after {"id":"; ID succeeds exactly when encoding/json finds a string id of 1 to
// MaxID bytes as the first "id" member, and then agrees with it (for lines of valid
// UTF-8, which encoding/json otherwise rewrites); Unescape of a key agrees with ID.
func FuzzRecordLine(f *testing.F) {
	for _, s := range []string{
		`{"id":"abc","raw":"AAE="}`, `{"id":"a\"b\\c\u0041"}`, `{"x":[1,{"id":"y"}],"id":"z"}`,
		`{"id":"\ud800"}`, `{"id":"x","id":"y"}`, `{"id":"`, `{"id":""}`, `{}`, `[]`, `{"id":"a\`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		key, ok := Key(line)
		if ok && !bytes.HasPrefix(line, append([]byte(`{"id":"`), key...)) {
			t.Fatalf("Key(%q) = %q, not the bytes after the prefix", line, key)
		}
		id, err := ID(line)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("ID(%q): %v does not wrap ErrInvalid", line, err)
		}
		if !utf8.Valid(line) {
			return
		}
		want, found := reference(line)
		found = found && want != "" && len(want) <= MaxID
		if found != (err == nil) || found && id != want {
			t.Fatalf("ID(%q) = %q, %v; encoding/json finds %q (%v)", line, id, err, want, found)
		}
		if ok && err == nil {
			if u, uerr := Unescape(key); uerr != nil || u != id {
				t.Fatalf("Unescape(%q) = %q, %v; ID says %q", key, u, uerr, id)
			}
		}
	})
}
