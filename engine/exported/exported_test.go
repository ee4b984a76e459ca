package exported

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand"
	"strings"
	"testing"
)

func encode(tb testing.TB, cols map[string][]byte, m Meta) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	enc.SetValueSchemas(m.ValueSchemas)
	for _, name := range Collections {
		if b, ok := cols[name]; ok {
			if err := enc.WriteCollection(name, bytes.NewReader(b)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := enc.Close(m); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func decode(tb testing.TB, doc []byte) (map[string][]byte, Meta, error) {
	tb.Helper()
	out := map[string][]byte{}
	m, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error {
		b, err := io.ReadAll(body)
		out[name] = b
		return err
	})
	return out, m, err
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	bin := make([]byte, 300000)
	rng.Read(bin)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cols := map[string][]byte{
		"assets":        []byte(`{"id":"a1","name":"x"}` + "\n"),
		"formats":       bin,
		"files":         all,
		"tags":          {},
		"relationships": []byte("\n"),
		"values":        []byte(`{"id":"v1","raw":"AAEC/w=="}` + "\n" + `{"id":"v\"2","raw":"","schema":{"migration":0,"semantic":"UNKNOWN"}}` + "\n"),
		"messageValues": {},
	}
	m := Meta{Version: "11.2.0", Schema: json.RawMessage(`{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`),
		ValueSchemas: map[string]json.RawMessage{"values": json.RawMessage(`{"migration":1,"semantic":"UNKNOWN"}`)}}
	doc := encode(t, cols, m)
	if !json.Valid(doc) {
		t.Fatalf("encoder wrote invalid JSON: %.300s", doc)
	}
	got, gm, err := decode(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range cols {
		if !bytes.Equal(got[name], want) {
			t.Errorf("%s: got %q, want %q", name, trunc(got[name]), trunc(want))
		}
	}
	for _, name := range byteFields[:requiredByteFields] {
		if _, ok := got[name]; !ok {
			t.Errorf("required field %s missing from the document", name)
		}
	}
	if gm.Version != m.Version || string(gm.Schema) != string(m.Schema) || string(gm.ValueSchemas["values"]) != string(m.ValueSchemas["values"]) {
		t.Errorf("meta %+v, want %+v", gm, m)
	}
	// The SDK's shape: every value is where ExportedDatabaseFromJSON looks for it.
	var generic map[string]any
	json.Unmarshal(doc, &generic)
	if _, ok := generic["values"].(map[string]any)["iterable"].([]any); !ok {
		t.Fatal("values.iterable is not an array")
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func TestWhitespaceAndOrder(t *testing.T) {
	doc := "\n{ \"version\" : \"1.0\" ,\n \"assets\" : [ 123 ,\n 34 , 0,255 ] ,\"values\":{\"iterable\":[ {\"raw\":[1, 2],\"id\":\"x\"} ],\"schema\":{\"semantic\":\"UNKNOWN\",\"migration\":0}} }\n\t"
	got, m, err := decode(t, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got["assets"], []byte{123, 34, 0, 255}) || m.Version != "1.0" {
		t.Fatalf("got %v %+v", got, m)
	}
	if string(got["values"]) != `{"id":"x","raw":"AQI="}`+"\n" {
		t.Fatalf("values line %q", got["values"])
	}
	if strings.Join(m.Present, ",") != "assets,values" {
		t.Fatalf("present %v", m.Present)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"empty", ``, "unexpected end"},
		{"not an object", `[1,2]`, "expected the document object"},
		{"unknown field", `{"version":"1","bogus":[]}`, `unknown field "bogus"`},
		{"duplicate", `{"version":"1","assets":[],"assets":[]}`, "duplicate field"},
		{"too big", `{"version":"1","assets":[256]}`, "out of range"},
		{"negative", `{"version":"1","assets":[-1]}`, "negative"},
		{"float", `{"version":"1","assets":[1.0]}`, "integers"},
		{"exponent", `{"version":"1","assets":[1e2]}`, "integers"},
		{"leading zero", `{"version":"1","assets":[01]}`, "leading zeros"},
		{"string in array", `{"version":"1","assets":["a"]}`, "expected a byte value"},
		{"trailing comma", `{"version":"1","assets":[1,]}`, "expected a byte value"},
		{"not an array", `{"version":"1","assets":"abc"}`, "expected an array"},
		{"version type", `{"version":3}`, "must be a string"},
		{"missing version", `{"assets":[]}`, `missing field "version"`},
		{"trailing data", `{"version":"1"} x`, "after the document"},
		{"truncated", `{"version":"1","assets":[1,2`, "unexpected end"},
		{"bad schema", `{"version":"1","schema":{"x":1}}`, "schema must be"},
		{"value entry without raw", `{"version":"1","values":{"iterable":[{"id":"a"}]}}`, "needs both"},
		{"value unknown", `{"version":"1","values":{"iterable":[],"extra":1}}`, "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decode(t, []byte(tc.doc))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SyntaxError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if se.Offset < 0 || se.Offset > int64(len(tc.doc)) {
				t.Fatalf("offset %d outside the document", se.Offset)
			}
		})
	}
}

func TestStopEarlyDrains(t *testing.T) {
	doc := encode(t, map[string][]byte{"assets": bytes.Repeat([]byte("x"), 100000), "tags": []byte("t")}, Meta{Version: "1"})
	var tags []byte
	_, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error {
		if name == "tags" {
			tags, _ = io.ReadAll(body)
		}
		return nil // assets left unread
	})
	if err != nil || string(tags) != "t" {
		t.Fatalf("%v %q", err, tags)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":"1","assets":[1,2,3],"values":{"iterable":[{"id":"a","raw":[0]}]}}`))
	f.Add([]byte(`{"version":"1","schema":{"migration":0,"semantic":"UNKNOWN"},"tags":[]}`))
	f.Add([]byte(`{"version":"","values":{"schema":{"migration":1,"semantic":"UNKNOWN"},"iterable":[]}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		cols, m, err := decode(t, doc)
		if err != nil {
			return
		}
		again, m2, err := decode(t, encode(t, cols, m))
		if err != nil {
			t.Fatalf("re-encoded document does not decode: %v", err)
		}
		for name, b := range cols {
			if !bytes.Equal(again[name], b) {
				t.Fatalf("collection %s changed on re-encoding", name)
			}
		}
		if m2.Version != m.Version {
			t.Fatalf("version changed")
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(data)
	doc := encode(b, map[string][]byte{"formats": data}, Meta{Version: "1"})
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		Decode(bytes.NewReader(doc), func(_ string, body io.Reader) error {
			_, err := io.Copy(io.Discard, body)
			return err
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(1)).Read(data)
	var n int64
	for b.Loop() {
		enc := NewEncoder(io.Discard)
		enc.WriteCollection("formats", bytes.NewReader(data))
		enc.Close(Meta{Version: "1"})
		n = int64(len(data)) * 36 / 10
	}
	b.SetBytes(n)
}
