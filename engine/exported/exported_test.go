package exported

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// encode writes the collections of cols in the SDK's order and closes with m.
func encode(tb testing.TB, cols map[string][]byte, m Meta) []byte {
	tb.Helper()
	doc, err := tryEncode(cols, m)
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func tryEncode(cols map[string][]byte, m Meta) ([]byte, error) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	enc.SetValueSchemas(m.ValueSchemas)
	for _, name := range Collections {
		if b, ok := cols[name]; ok {
			if err := enc.WriteCollection(name, bytes.NewReader(b)); err != nil {
				return nil, err
			}
		}
	}
	if err := enc.Close(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readSizes are the sizes decode reads collections with, in turn: small ones move
// buffer edges, large ones let the compact path run.
var readSizes = []int{7, 4096, 1, 100, 1 << 16, 33}

// decode reads a document whole, in pieces of changing sizes.
func decode(doc []byte) (map[string][]byte, Meta, error) { return decodeSizes(doc, readSizes) }

// decodeSizes reads a document whole, each collection with reads of sizes, in turn.
func decodeSizes(doc []byte, sizes []int) (map[string][]byte, Meta, error) {
	cols := map[string][]byte{}
	m, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error {
		if _, dup := cols[name]; dup {
			return fmt.Errorf("fn called twice for %s", name)
		}
		var b bytes.Buffer
		buf := make([]byte, 1<<16)
		for k := 0; ; k++ {
			n, err := body.Read(buf[:sizes[k%len(sizes)]])
			b.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		cols[name] = b.Bytes()
		return nil
	})
	return cols, m, err
}

func mustDecode(tb testing.TB, doc []byte) (map[string][]byte, Meta) {
	tb.Helper()
	cols, m, err := decode(doc)
	if err != nil {
		tb.Fatalf("decode: %v\ndocument: %.400s", err, doc)
	}
	return cols, m
}

func sameCollections(tb testing.TB, got, want map[string][]byte) {
	tb.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			tb.Errorf("%s: missing", name)
		} else if !bytes.Equal(g, w) {
			tb.Errorf("%s: got %q, want %q", name, short(g), short(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			tb.Errorf("%s: unexpected collection %q", name, short(got[name]))
		}
	}
}

func short(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

func allBytes() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

const schema0 = `{"migration":0,"semantic":"UNKNOWN"}`
const schema1 = `{"migration":17,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`

// fullCollections has every collection, with records, binary bytes and value lines.
func fullCollections() map[string][]byte {
	cols := map[string][]byte{}
	for i, name := range Collections {
		switch {
		case name == "values":
			cols[name] = []byte(`{"id":"v1","raw":"AAEC/w=="}` + "\n" +
				`{"id":"q\"\\\n\u0001é😀\ud800","raw":""}` + "\n" +
				`{"id":"","raw":"` + b64(allBytes()) + `","schema":` + schema1 + "}\n")
		case name == "messageValues":
			cols[name] = []byte(`{"id":"m","raw":"bWVzc2FnZQ==","schema":` + schema0 + "}\n")
		case name == "workstreamEventValues":
			cols[name] = nil
		case i%3 == 0:
			cols[name] = randomBytes(3000+i, uint64(i))
		case i%3 == 1:
			cols[name] = []byte(fmt.Sprintf(`{"id":"%s-1","n":1}`+"\n"+`{"id":"%s-2","text":"ünïcode \"q\""}`+"\n", name, name))
		default:
			cols[name] = allBytes()
		}
	}
	cols["tags"] = nil
	return cols
}

func b64(b []byte) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(b)
	return strings.Trim(strings.TrimSpace(buf.String()), `"`)
}

func TestRoundTripAllFields(t *testing.T) {
	cols := fullCollections()
	m := Meta{
		Version: "11.2.0-β \"x\"",
		Schema:  json.RawMessage(schema0),
		ValueSchemas: map[string]json.RawMessage{
			"values":        json.RawMessage(schema1),
			"messageValues": json.RawMessage(" {\"semantic\" : \"UNKNOWN\", \"migration\": 2.5e3} "),
		},
	}
	doc := encode(t, cols, m)
	if !json.Valid(doc) {
		t.Fatalf("encoder wrote invalid JSON: %.300s", doc)
	}
	got, gm := mustDecode(t, doc)
	sameCollections(t, got, cols)
	if gm.Version != m.Version || string(gm.Schema) != schema0 {
		t.Errorf("meta %q %s", gm.Version, gm.Schema)
	}
	if string(gm.ValueSchemas["values"]) != schema1 ||
		string(gm.ValueSchemas["messageValues"]) != `{"migration":2.5e3,"semantic":"UNKNOWN"}` ||
		len(gm.ValueSchemas) != 2 {
		t.Errorf("value schemas %q", gm.ValueSchemas)
	}
	if !slices.Equal(gm.Present, Collections) {
		t.Errorf("present %v, want %v", gm.Present, Collections)
	}
	checkSDKShape(t, doc)
}

// checkSDKShape reads doc the way ExportedDatabaseFromJSON does and checks every field
// has the model's type.
func checkSDKShape(tb testing.TB, doc []byte) {
	tb.Helper()
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		tb.Fatal(err)
	}
	bytesOK := func(x any) bool {
		a, ok := x.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if f, ok := e.(float64); !ok || f != float64(int(f)) || f < 0 || f > 255 {
				return false
			}
		}
		return true
	}
	for _, f := range fields {
		x, ok := v[f.name]
		if !ok {
			if f.required {
				tb.Errorf("required field %s missing", f.name)
			}
			continue
		}
		switch f.kind {
		case kindBytes:
			if !bytesOK(x) {
				tb.Errorf("%s is not an array of bytes", f.name)
			}
		case kindValues:
			o, _ := x.(map[string]any)
			it, ok := o["iterable"].([]any)
			if !ok {
				tb.Errorf("%s.iterable is not an array", f.name)
			}
			for _, e := range it {
				e, _ := e.(map[string]any)
				if _, ok := e["id"].(string); !ok || !bytesOK(e["raw"]) {
					tb.Errorf("%s entry %v", f.name, e)
				}
			}
		case kindVersion:
			if _, ok := x.(string); !ok {
				tb.Errorf("version is %T", x)
			}
		}
	}
}

func TestEmptyDocument(t *testing.T) {
	doc := encode(t, nil, Meta{Version: "1"})
	want := `{"analyses":[],"applications":[],"assets":[],"codeAnalyses":[],"files":[],"formatMetrics":[],` +
		`"formats":[],"fragments":[],"imageAnalyses":[],"models":[],"ocrAnalyses":[],"persons":[],` +
		`"sensitives":[],"tags":[],"websites":[],"values":{"iterable":[]},"version":"1"}`
	if string(doc) != want {
		t.Fatalf("got  %s\nwant %s", doc, want)
	}
	got, m := mustDecode(t, doc)
	for _, name := range m.Present {
		if len(got[name]) != 0 {
			t.Errorf("%s not empty", name)
		}
	}
	if len(m.Present) != 16 || m.Schema != nil || m.ValueSchemas != nil {
		t.Errorf("meta %+v", m)
	}
	checkSDKShape(t, doc)
}

func TestBinaryBytes(t *testing.T) {
	for _, data := range [][]byte{allBytes(), randomBytes(1<<20, 7), {0}, {255}, {10, 10}} {
		doc := encode(t, map[string][]byte{"files": data}, Meta{Version: "v"})
		got, _ := mustDecode(t, doc)
		if !bytes.Equal(got["files"], data) {
			t.Fatalf("%d bytes changed", len(data))
		}
	}
	if doc := encode(t, map[string][]byte{"files": {0, 9, 10, 99, 100, 255}}, Meta{Version: "v"}); !bytes.Contains(doc, []byte(`"files":[0,9,10,99,100,255]`)) {
		t.Fatalf("numbers written as %s", doc)
	}
}

func TestValueSets(t *testing.T) {
	const start = `{"version":"1","values":`
	cases := []struct {
		name, values, want, schema string
	}{
		{"empty", `{"iterable":[]}`, "", ""},
		{"one", `{"iterable":[{"id":"a","raw":[104,105]}]}`, `{"id":"a","raw":"aGk="}` + "\n", ""},
		{"empty raw", `{"iterable":[{"id":"a","raw":[]}]}`, `{"id":"a","raw":""}` + "\n", ""},
		{"set schema", `{"schema":{"migration":3,"semantic":"UNKNOWN"},"iterable":[{"id":"a","raw":[0]}]}`,
			`{"id":"a","raw":"AA=="}` + "\n", `{"migration":3,"semantic":"UNKNOWN"}`},
		{"set schema after", `{"iterable":[],"schema":{"semantic":"UNKNOWN","migration":-1}}`,
			"", `{"migration":-1,"semantic":"UNKNOWN"}`},
		{"null set schema", `{"iterable":[],"schema":null}`, "", ""},
		{"entry schema", `{"iterable":[{"schema":{"migration":1,"semantic":"UNKNOWN"},"id":"a","raw":[1,2,3]}]}`,
			`{"id":"a","raw":"AQID","schema":{"migration":1,"semantic":"UNKNOWN"}}` + "\n", ""},
		{"raw before id", `{"iterable":[{"raw":[1,2,3,4],"id":"b"},{"raw":[],"id":"c"}]}`,
			`{"id":"b","raw":"AQIDBA=="}` + "\n" + `{"id":"c","raw":""}` + "\n", ""},
		{"null entry schema", `{"iterable":[{"id":"a","schema":null,"raw":[5]}]}`, `{"id":"a","raw":"BQ=="}` + "\n", ""},
		{"escapes", `{"iterable":[{"id":"\u0041\/\"\\\b\f\n\r\t\u001f\u00e9\ud83d\ude00\udc00x\ud800","raw":[]}]}`,
			`{"id":"A/\"\\\b\f\n\r\t\u001fé😀\udc00x\ud800","raw":""}` + "\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := start + tc.values + "}"
			got, m := mustDecode(t, []byte(doc))
			if string(got["values"]) != tc.want {
				t.Fatalf("lines %q, want %q", got["values"], tc.want)
			}
			if string(m.ValueSchemas["values"]) != tc.schema {
				t.Fatalf("schema %s, want %s", m.ValueSchemas["values"], tc.schema)
			}
			again, m2 := mustDecode(t, encode(t, got, m))
			if !bytes.Equal(again["values"], got["values"]) || string(m2.ValueSchemas["values"]) != tc.schema {
				t.Fatalf("re-encoded: %q %s", again["values"], m2.ValueSchemas["values"])
			}
		})
	}
}

func TestEncoderValueLines(t *testing.T) {
	// Lines may have their fields in any order and spacing; blank lines are skipped.
	in := "\n" + `{ "raw" : "AQI=", "schema": {"migration":1,"semantic":"UNKNOWN"}, "id" : "x" }` + "\r\n\n" +
		`{"id":"y","raw":"` + b64(randomBytes(200000, 3)) + `"}`
	got, _ := mustDecode(t, encode(t, map[string][]byte{"values": []byte(in)}, Meta{Version: "1"}))
	want := `{"id":"x","raw":"AQI=","schema":{"migration":1,"semantic":"UNKNOWN"}}` + "\n" +
		`{"id":"y","raw":"` + b64(randomBytes(200000, 3)) + `"}` + "\n"
	if string(got["values"]) != want {
		t.Fatalf("got %q", short(got["values"]))
	}
}

func TestEncoderErrors(t *testing.T) {
	cases := []struct {
		name string
		run  func(*Encoder) error
		want string
	}{
		{"unknown collection", func(e *Encoder) error { return e.WriteCollection("bogus", strings.NewReader("")) }, `"bogus" is not a collection`},
		{"version is not a collection", func(e *Encoder) error { return e.WriteCollection("version", strings.NewReader("")) }, "not a collection"},
		{"twice", func(e *Encoder) error {
			e.WriteCollection("assets", strings.NewReader("a"))
			return e.WriteCollection("assets", strings.NewReader("b"))
		}, "written twice"},
		{"value line not an object", func(e *Encoder) error { return e.WriteCollection("values", strings.NewReader("hello\n")) }, "line 1"},
		{"value line bad base64", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader(`{"id":"a","raw":"AAE"}`))
		}, "multiple of 4"},
		{"value line non-canonical base64", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader(`{"id":"a","raw":"AB=="}`))
		}, "not canonical base64"},
		{"value line padding inside", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader(`{"id":"a","raw":"AA==AAAA"}`))
		}, "not canonical base64"},
		{"value line missing raw", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader("{\"id\":\"a\",\"raw\":\"\"}\n{\"id\":\"b\"}\n"))
		}, "line 2"},
		{"value line unknown field", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader(`{"id":"a","raw":"","x":1}`))
		}, `unknown field "x"`},
		{"two records on a line", func(e *Encoder) error {
			return e.WriteCollection("values", strings.NewReader(`{"id":"a","raw":""} {"id":"b","raw":""}`))
		}, "one record per line"},
		{"bad value schema", func(e *Encoder) error {
			e.SetValueSchemas(map[string]json.RawMessage{"values": json.RawMessage(`{"migration":"1"}`)})
			return e.WriteCollection("values", strings.NewReader(""))
		}, "migration must be a number"},
		{"schema changed at close", func(e *Encoder) error {
			e.WriteCollection("values", strings.NewReader(""))
			return e.Close(Meta{Version: "1", ValueSchemas: map[string]json.RawMessage{"values": json.RawMessage(schema0)}})
		}, "SetValueSchemas before WriteCollection"},
		{"bad schema", func(e *Encoder) error { return e.Close(Meta{Version: "1", Schema: json.RawMessage(`{}`)}) }, "incomplete schema"},
		{"bad version", func(e *Encoder) error { return e.Close(Meta{Version: "\xff"}) }, "not valid UTF-8"},
		{"read error", func(e *Encoder) error { return e.WriteCollection("assets", errReader{}) }, "broken"},
		{"write after close", func(e *Encoder) error {
			e.Close(Meta{Version: "1"})
			return e.WriteCollection("assets", strings.NewReader(""))
		}, "after Close"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(NewEncoder(io.Discard))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

type errReader struct{}

var errBroken = errors.New("broken")

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

// pretty re-indents a document the way JSON.stringify(doc, null, 2) does.
func pretty(tb testing.TB, doc []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "", "  "); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestWhitespace(t *testing.T) {
	cols := fullCollections()
	m := Meta{Version: "2", Schema: json.RawMessage(schema1), ValueSchemas: map[string]json.RawMessage{"values": json.RawMessage(schema0)}}
	doc := encode(t, cols, m)
	p := pretty(t, doc)
	if !bytes.Contains(p, []byte("\"assets\": [\n    ")) {
		t.Fatalf("not pretty: %.200s", p)
	}
	got, gm := mustDecode(t, p)
	sameCollections(t, got, cols)
	if string(gm.ValueSchemas["values"]) != schema0 || string(gm.Schema) != schema1 {
		t.Errorf("meta %+v", gm)
	}
	// Every kind of whitespace in every place.
	odd := " \t\r\n{ \"version\" :\n\"1\" ,\r\n \"assets\"\t:\t[ 123 ,\n\n 34\t,0 ,  255\r\n] , \"values\" : { \"iterable\" : [ { \"raw\" : [ 1 , 2 ] , \"id\" : \"x\" } ] ,\n\"schema\" : { \"semantic\" : \"UNKNOWN\" , \"migration\" : 0 } } , \"tags\" : [ ] } \n\t "
	got, gm = mustDecode(t, []byte(odd))
	sameCollections(t, got, map[string][]byte{"assets": {123, 34, 0, 255}, "values": []byte(`{"id":"x","raw":"AQI="}` + "\n"), "tags": {}})
	if !slices.Equal(gm.Present, []string{"assets", "values", "tags"}) {
		t.Errorf("present %v", gm.Present)
	}
}

func TestStringifyFormatted(t *testing.T) {
	// What JSON.stringify(ExportedDatabaseToJSON(db), null, 2) writes: fields in the
	// SDK's order, version and schema among them, undefined fields left out.
	doc := `{
  "analyses": [],
  "applications": [
    123,
    34,
    105,
    100,
    34,
    58,
    34,
    97,
    34,
    125,
    10
  ],
  "assets": [],
  "codeAnalyses": [],
  "files": [
    0,
    255
  ],
  "formatMetrics": [],
  "formats": [],
  "fragments": [],
  "imageAnalyses": [],
  "models": [],
  "ocrAnalyses": [],
  "persons": [],
  "sensitives": [],
  "tags": [],
  "websites": [],
  "values": {
    "iterable": [
      {
        "id": "v1",
        "raw": [
          1,
          2
        ]
      }
    ]
  },
  "version": "10.1.5",
  "schema": {
    "migration": 0,
    "semantic": "MAJOR_0_MINOR_0_PATCH_1"
  },
  "conversations": []
}`
	got, m := mustDecode(t, []byte(doc))
	if string(got["applications"]) != `{"id":"a"}`+"\n" || !bytes.Equal(got["files"], []byte{0, 255}) ||
		string(got["values"]) != `{"id":"v1","raw":"AQI="}`+"\n" {
		t.Fatalf("collections %q", got)
	}
	if m.Version != "10.1.5" || string(m.Schema) != `{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}` || len(m.Present) != 17 {
		t.Fatalf("meta %+v", m)
	}
}

func TestErrors(t *testing.T) {
	const v = `{"version":"1",`
	cases := []struct {
		name   string
		doc    string
		offset int64
		field  string
		want   string
	}{
		{"empty", ``, 0, "", "document is empty"},
		{"spaces only", "  \n", 3, "", "document is empty"},
		{"not an object", `[1,2]`, 0, "", "is a JSON object"},
		{"unknown field", v + `"bogus":[]}`, 15, "bogus", `unknown field "bogus"`},
		{"wrong case", v + `"Assets":[]}`, 15, "Assets", `did you mean "assets"`},
		{"duplicate", v + `"assets":[],"assets":[]}`, 27, "assets", `duplicate field "assets"`},
		{"duplicate version", v + `"version":"2"}`, 15, "version", `duplicate field "version"`},
		{"256", v + `"assets":[1,256]}`, 27, "assets", "byte value 1 is 256"},
		{"1000", v + `"assets":[1000]}`, 25, "assets", "byte value 0 is 1000"},
		{"negative", v + `"assets":[-1]}`, 25, "assets", "byte value 0 is -1"},
		{"minus zero", v + `"assets":[-0]}`, 25, "assets", "is -0"},
		{"float", v + `"assets":[1.0]}`, 25, "assets", "is 1.0"},
		{"exponent", v + `"assets":[2,1e2]}`, 27, "assets", "byte value 1 is 1e2"},
		{"exponent upper", v + `"assets":[1E2]}`, 25, "assets", "is 1E2"},
		{"zero float", v + `"assets":[0.5]}`, 25, "assets", "is 0.5"},
		{"leading zero", v + `"assets":[01]}`, 25, "assets", "leading zeros"},
		{"string in array", v + `"assets":["a"]}`, 25, "assets", "found a string"},
		{"nested array", v + `"assets":[[1]]}`, 25, "assets", "found an array"},
		{"trailing comma", v + `"assets":[1,]}`, 27, "assets", "trailing comma"},
		{"missing comma", v + `"assets":[1 2]}`, 27, "assets", "expected ',' or ']'"},
		{"empty value", v + `"assets":[,]}`, 25, "assets", "found ','"},
		{"not an array", v + `"assets":"abc"}`, 24, "assets", "must be an array of byte values"},
		{"required null", v + `"assets":null}`, 24, "assets", "found null"},
		{"object", v + `"assets":{}}`, 24, "assets", "found an object"},
		{"version type", `{"version":3}`, 11, "version", "version must be a string"},
		{"version null", `{"version":null}`, 11, "version", "found null"},
		{"missing version", `{"assets":[]}`, 12, "version", `missing required field "version"`},
		{"empty object", `{}`, 1, "version", `missing required field "version"`},
		{"trailing data", `{"version":"1"} x`, 16, "", "after the end of the document"},
		{"two documents", `{"version":"1"}{"version":"1"}`, 15, "", "after the end"},
		{"truncated array", v + `"assets":[1,2`, 28, "assets", "ends too early"},
		{"truncated number", v + `"assets":[1,25`, 29, "assets", "ends too early"},
		{"truncated object", v + `"assets":[]`, 26, "", "ends too early"},
		{"truncated string", `{"version":"1`, 13, "version", "ends too early"},
		{"trailing comma in object", v + `}`, 15, "", "expected a field name"},
		{"unquoted key", `{version:"1"}`, 1, "", "expected a field name"},
		{"missing colon", `{"version" "1"}`, 11, "", "':'"},
		{"bad literal", v + `"schema":nul}`, 24, "schema", "invalid literal"},
		{"control char", "{\"version\":\"a\x01\"}", 13, "version", "control character"},
		{"invalid utf8", "{\"version\":\"a\xff\"}", 13, "version", "not valid UTF-8"},
		{"bad escape", `{"version":"\x"}`, 12, "version", "invalid escape"},
		{"bad unicode escape", `{"version":"\u12g4"}`, 12, "version", `\u escape`},
		{"bad schema", v + `"schema":{"x":1}}`, 25, "schema", `unknown field "x" in a schema`},
		{"schema missing semantic", v + `"schema":{"migration":1}}`, 24, "schema", "incomplete schema"},
		{"schema semantic unknown", v + `"schema":{"migration":1,"semantic":"MAJOR_1"}}`, 50, "schema", `unknown semantic version "MAJOR_1"`},
		{"schema migration string", v + `"schema":{"migration":"1","semantic":"UNKNOWN"}}`, 37, "schema", "must be a number"},
		{"schema migration bad number", v + `"schema":{"migration":01,"semantic":"UNKNOWN"}}`, 37, "schema", "not a JSON number"},
		{"schema duplicate", v + `"schema":{"migration":1,"migration":2}}`, 39, "schema", `duplicate field "migration"`},
		{"values null", v + `"values":null}`, 24, "values", "must be an object"},
		{"values array", v + `"values":[]}`, 24, "values", "must be an object"},
		{"values without iterable", v + `"values":{"schema":null}}`, 24, "values", `has no "iterable"`},
		{"values unknown", v + `"values":{"iterable":[],"extra":1}}`, 39, "values", `unknown field "extra" in values`},
		{"values duplicate iterable", v + `"values":{"iterable":[],"iterable":[]}}`, 39, "values", `duplicate field "iterable"`},
		{"iterable not array", v + `"values":{"iterable":{}}}`, 36, "values.iterable", "must be an array of entries"},
		{"entry not object", v + `"values":{"iterable":[1]}}`, 37, "values.iterable[0]", "found a number"},
		{"entry without raw", v + `"values":{"iterable":[{"id":"a","raw":[]},{"id":"a"}]}}`, 57, "values.iterable[1]", `has no "raw"`},
		{"entry without id", v + `"values":{"iterable":[{"raw":[]}]}}`, 37, "values.iterable[0]", `has no "id"`},
		{"entry empty", v + `"values":{"iterable":[{}]}}`, 37, "values.iterable[0]", `has no "id" and "raw"`},
		{"entry unknown", v + `"values":{"iterable":[{"id":"a","raw":[],"x":0}]}}`, 56, "values.iterable[0]", `unknown field "x"`},
		{"entry id number", v + `"values":{"iterable":[{"id":1,"raw":[]}]}}`, 43, "values.iterable[0].id", "id must be a string"},
		{"entry raw bad", v + `"values":{"iterable":[{"id":"a","raw":[300]}]}}`, 54, "values.iterable[0].raw", "is 300"},
		{"entry raw base64", v + `"values":{"iterable":[{"id":"a","raw":"AA=="}]}}`, 53, "values.iterable[0].raw", "must be an array of byte values"},
		{"entry duplicate id", v + `"values":{"iterable":[{"id":"a","id":"b","raw":[]}]}}`, 47, "values.iterable[0]", `duplicate field "id"`},
		{"entry schema bad", v + `"values":{"iterable":[{"id":"a","raw":[],"schema":{"migration":1,"semantic":"X"}}]}}`, 91, "values.iterable[0].schema", "unknown semantic"},
		{"iterable missing comma", v + `"values":{"iterable":[{"id":"a","raw":[]} {"id":"b","raw":[]}]}}`, 57, "values.iterable[0]", "expected ',' or ']' after an iterable entry"},
		{"message values null ok, then bad", v + `"messageValues":null,"x":1}`, 36, "x", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decode([]byte(tc.doc))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if !strings.Contains(se.Msg, tc.want) {
				t.Errorf("message %q does not say %q", se.Msg, tc.want)
			}
			if se.Offset != tc.offset || se.Field != tc.field {
				t.Errorf("at byte %d in %q, want byte %d in %q (%v)", se.Offset, se.Field, tc.offset, tc.field, err)
			}
		})
	}
}

func TestOptionalNull(t *testing.T) {
	doc := `{"version":"1","schema":null,"relationships":null,"messageValues":null,"workstreamEventValues":null,"hints":[7]}`
	got, m := mustDecode(t, []byte(doc))
	sameCollections(t, got, map[string][]byte{"hints": {7}})
	if m.Schema != nil || !slices.Equal(m.Present, []string{"hints"}) {
		t.Fatalf("meta %+v", m)
	}
}

func TestCallback(t *testing.T) {
	doc := encode(t, map[string][]byte{
		"assets": bytes.Repeat([]byte("x"), 300000),
		"tags":   []byte("t"),
		"values": []byte(`{"id":"a","raw":"` + b64(randomBytes(100000, 1)) + `"}` + "\n" + `{"id":"b","raw":""}` + "\n"),
	}, Meta{Version: "1"})

	t.Run("stop early drains", func(t *testing.T) {
		var tags []byte
		m, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error {
			switch name {
			case "tags":
				tags, _ = io.ReadAll(body)
			case "values", "assets":
				body.Read(make([]byte, 10)) // and leave the rest
			}
			return nil
		})
		if err != nil || string(tags) != "t" || m.Version != "1" {
			t.Fatalf("%v %q", err, tags)
		}
	})
	t.Run("fn error returned as is", func(t *testing.T) {
		stop := errors.New("stop")
		_, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error { return stop })
		if err != stop {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("body error surfaces", func(t *testing.T) {
		bad := []byte(`{"version":"1","assets":[1,2,x]}`)
		_, err := Decode(bytes.NewReader(bad), func(name string, body io.Reader) error {
			_, err := io.ReadAll(body)
			return fmt.Errorf("copying: %w", err)
		})
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "copying: ") || se.Offset != 29 {
			t.Fatalf("got %v", err)
		}
		_, err = Decode(bytes.NewReader(bad), func(name string, body io.Reader) error {
			io.ReadAll(body)
			return errors.New("something else")
		})
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want the syntax error that caused it", err)
		}
	})
	t.Run("read after return", func(t *testing.T) {
		var kept io.Reader
		_, err := Decode(bytes.NewReader(doc), func(name string, body io.Reader) error {
			if name == "assets" {
				kept = body
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kept.Read(make([]byte, 1)); err != errClosed {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		r := io.MultiReader(bytes.NewReader(doc[:1000]), errReader{})
		_, err := Decode(r, func(name string, body io.Reader) error { _, err := io.Copy(io.Discard, body); return err })
		if !errors.Is(err, errBroken) || err.Error() != "exported database: read: broken" {
			t.Fatalf("got %v", err)
		}
	})
}

// oneByteReader hands out one byte per Read, moving every token across buffer edges.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestSlowReader(t *testing.T) {
	cols := fullCollections()
	doc := pretty(t, encode(t, cols, Meta{Version: "é\xed\xa0\x80"}))
	got := map[string][]byte{}
	m, err := Decode(&oneByteReader{doc}, func(name string, body io.Reader) error {
		b, err := io.ReadAll(body)
		got[name] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sameCollections(t, got, cols)
	if m.Version != "é\xed\xa0\x80" {
		t.Errorf("version %q", m.Version)
	}
}

// streamDoc generates {"version":"1","formats":[n bytes...],"values":{"iterable":[{"id":"a","raw":[n bytes]}]}}
// without holding it in memory.
func streamDoc(n int) io.Reader {
	arr := func() io.Reader {
		return io.LimitReader(&repeatReader{s: `12,255,0,7,`}, int64(n)/4*11-1)
	}
	return io.MultiReader(strings.NewReader(`{"version":"1","formats":[`), arr(),
		strings.NewReader(`],"values":{"iterable":[{"id":"a","raw":[`), arr(), strings.NewReader(`]}]}}`))
}

type repeatReader struct {
	s string
	i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.i:])
		n += c
		r.i = (r.i + c) % len(r.s)
	}
	return n, nil
}

func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 2 x 64 MB")
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var total int64
	_, err := Decode(streamDoc(64<<20), func(name string, body io.Reader) error {
		n, err := io.Copy(io.Discard, body)
		total += n
		return err
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(64<<20 + len(`{"id":"a","raw":""}`+"\n") + (64<<20+2)/3*4); total != want {
		t.Fatalf("read %d bytes, want %d", total, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("decoding allocated %d bytes", alloc)
	}
}

// TestByteArrays checks the decoder on random arrays, some compact, some spaced, some
// with one bad value, read in pieces of many sizes: the bytes, or the error's offset.
func TestByteArrays(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	bad := []string{"256", "01", "1.0", "-1", "-0", "1e2", "2E1", "999", "1000", "", "x", "0.", "00"}
	spaces := []string{" ", "\n", "\r\n  ", "\t"}
	for iter := range 3000 {
		var doc bytes.Buffer
		doc.WriteString(`{"version":"1","assets":[`)
		var want []byte
		badAt := int64(-1)
		n := r.IntN(400)
		spaced := r.IntN(4) == 0
		for k := range n {
			if k > 0 {
				doc.WriteByte(',')
			}
			if spaced && r.IntN(3) == 0 {
				doc.WriteString(spaces[r.IntN(len(spaces))])
			}
			if badAt < 0 && r.IntN(500) == 0 {
				badAt = int64(doc.Len())
				doc.WriteString(bad[r.IntN(len(bad))])
			} else {
				v := byte(r.IntN(256))
				if r.IntN(2) == 0 {
					v %= 10
				}
				want = append(want, v)
				fmt.Fprint(&doc, v)
			}
			if spaced && r.IntN(3) == 0 {
				doc.WriteString(spaces[r.IntN(len(spaces))])
			}
		}
		doc.WriteString("]}")
		sizes := append([]int{1 + r.IntN(200)}, readSizes...) // vary where reads end
		got, _, err := decodeSizes(doc.Bytes(), sizes)
		if badAt < 0 {
			if err != nil || !bytes.Equal(got["assets"], want) {
				t.Fatalf("iteration %d: %v\n%s", iter, err, doc.Bytes())
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset != badAt && !(se.Offset > badAt && bytes.IndexAny(doc.Bytes()[badAt:se.Offset], "0123456789") < 0) {
			t.Fatalf("iteration %d: error %v, want one at byte %d\n%s", iter, err, badAt, doc.Bytes())
		}
	}
}
