package exported

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error is a *SyntaxError inside
// the document, that whatever it accepts is valid JSON with the same bytes encoding/json
// sees, and that it re-encodes and decodes to the same collections and Meta.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":"1","assets":[1,2,3],"values":{"iterable":[{"id":"a","raw":[0]}]}}`))
	f.Add([]byte(`{"version":"1","schema":{"migration":0,"semantic":"UNKNOWN"},"tags":[]}`))
	f.Add([]byte(`{"version":"","values":{"schema":{"migration":1,"semantic":"UNKNOWN"},"iterable":[]}}`))
	f.Add([]byte(`{"version":"\u00e9\ud800","values":{"iterable":[{"raw":[255,0],"id":"\"x\n","schema":null}]}}`))
	f.Add([]byte("{\n  \"files\": [\n    0,\n    255\n  ],\n  \"version\": \"2\"\n}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		cols, m, err := decode(doc)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if se.Offset < 0 || se.Offset > int64(len(doc)) {
				t.Fatalf("offset %d outside the document of %d bytes: %v", se.Offset, len(doc), err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted a document that is not JSON: %q", doc)
		}
		sameAsEncodingJSON(t, doc, cols)

		again := encode(t, cols, m)
		cols2, m2 := mustDecode(t, again)
		for name, b := range cols {
			if !bytes.Equal(cols2[name], b) {
				t.Fatalf("collection %s changed on re-encoding: %q became %q", name, short(b), short(cols2[name]))
			}
		}
		if m2.Version != m.Version || !bytes.Equal(m2.Schema, m.Schema) || len(m2.ValueSchemas) != len(m.ValueSchemas) {
			t.Fatalf("meta changed on re-encoding: %+v became %+v", m, m2)
		}
		for name, s := range m.ValueSchemas {
			if !bytes.Equal(m2.ValueSchemas[name], s) {
				t.Fatalf("schema of %s changed on re-encoding: %s became %s", name, s, m2.ValueSchemas[name])
			}
		}
		// Once every required field is there, encoding is a fixed point.
		third := encode(t, cols2, m2)
		cols3, m3 := mustDecode(t, third)
		if fourth := encode(t, cols3, m3); !bytes.Equal(third, fourth) {
			t.Fatalf("encoding is not stable:\n%q\n%q", third, fourth)
		}
	})
}

// sameAsEncodingJSON compares the collections with what encoding/json reads from doc.
func sameAsEncodingJSON(t *testing.T, doc []byte, cols map[string][]byte) {
	t.Helper()
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(doc, &generic); err != nil {
		t.Fatal(err)
	}
	for name, b := range cols {
		if !IsValueSet(name) {
			var want []byte
			var ints []int
			if err := json.Unmarshal(generic[name], &ints); err != nil {
				t.Fatalf("%s: encoding/json: %v", name, err)
			}
			for _, v := range ints {
				want = append(want, byte(v))
			}
			if !bytes.Equal(b, want) && !(len(b) == 0 && len(want) == 0) {
				t.Fatalf("%s: decoded %v, encoding/json reads %v", name, b, ints)
			}
			continue
		}
		type entry struct {
			ID  string `json:"id"`
			Raw []int  `json:"raw"`
		}
		var set struct{ Iterable []entry }
		if err := json.Unmarshal(generic[name], &set); err != nil {
			t.Fatalf("%s: encoding/json: %v", name, err)
		}
		lines := bytes.SplitAfter(b, []byte("\n"))
		lines = lines[:len(lines)-1]
		if len(lines) != len(set.Iterable) {
			t.Fatalf("%s: %d lines for %d entries", name, len(lines), len(set.Iterable))
		}
		for i, line := range lines {
			var got struct {
				ID  string `json:"id"`
				Raw []byte `json:"raw"`
			}
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("%s line %d %q: %v", name, i, line, err)
			}
			want := set.Iterable[i]
			if got.ID != want.ID || len(got.Raw) != len(want.Raw) {
				t.Fatalf("%s line %d: %q, encoding/json reads %+v", name, i, line, want)
			}
			for j, v := range want.Raw {
				if got.Raw[j] != byte(v) {
					t.Fatalf("%s line %d: raw differs", name, i)
				}
			}
		}
	}
}

// TestFuzzSeeds checks that the committed seeds are what their names say: accepted,
// except the bad- ones.
func TestFuzzSeeds(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lit := strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[1], "[]byte("), ")\n")
		doc, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		_, _, err = decode([]byte(doc))
		if bad := strings.HasPrefix(filepath.Base(file), "bad-"); (err != nil) != bad {
			t.Errorf("%s: error %v", file, err)
		}
	}
}
