package localdb

import (
	"encoding/json"
	"strings"
	"testing"
)

// validCases are values on both sides of each rule json.Valid applies.
var validCases = []string{
	``, ` `, `{}`, `[]`, ` {} `, "\t[\n]\r", `{`, `}`, `[`, `]`, `{]`, `[}`, `{}}`, `[]]`, `{}{}`, `{} x`,
	`{"id":"a"}`, `{"id":"a",}`, `{"id":"a" "b":1}`, `{"id" "a"}`, `{id:"a"}`, `{"id":}`, `{,}`, `[,]`, `[1,]`, `[,1]`,
	`[1 2]`, `{"a":[1,{"b":null}],"c":{"d":[true,false]}}`, `{"a":1}x`, `{"a":1},`,
	`"abc"`, `"abc`, `"a\"b"`, `"a\\"`, `"a\\\"`, `"\/\b\f\n\r\t"`, `"\x"`, `"\u00e9"`, `"\u00E9"`, `"\u00g9"`,
	`"\u00e"`, `"\ud800"`, "\"a\x01b\"", "\"a\x1fb\"", "\"a\x7fb\"", "\"\xff\xfe\"", "\"é\"", `"\`, `"\u`,
	"\"0123456789abcdef\x00\"", `"0123456789abcdef\"0123"`, `"01234567\"`, `"0123456"`, `"01234567"`,
	`0`, `-0`, `01`, `-`, `-01`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e10`, `+1`, `1.5.5`,
	`true`, `false`, `null`, `tru`, `nul`, `nulll`, `True`, `[true,false,null]`, `[t]`,
	`{"a":1,"b":[1,2,{"c":"d\n"}]}`, `{"":""}`, `{"a":{"b":{"c":{}}}}`, "{\"a\"\n:\n1\n}",
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := append([]string(nil), validCases...)
	cases = append(cases,
		strings.Repeat("[", maxDepth)+strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1),
		strings.Repeat(`{"a":`, maxDepth)+"1"+strings.Repeat("}", maxDepth),
		strings.Repeat(`{"a":`, maxDepth+1)+"1"+strings.Repeat("}", maxDepth+1),
		strings.Repeat("[", maxDepth-1)+"{}"+strings.Repeat("]", maxDepth-1),
		strings.Repeat("[", maxDepth)+"{}"+strings.Repeat("]", maxDepth),
		`{"id":"`+strings.Repeat("x", 1000)+`"}`,
		`{"id":"`+strings.Repeat("x", 1000)+"\x02"+`"}`,
	)
	// A string's end, an escape or a control character at every place of a few blocks.
	for at := range 200 {
		for _, stop := range []string{`"`, `\"`, `\n`, `\x`, "\x01", "\x1f", `\`, "\x7f", "\xc3\xa9"} {
			cases = append(cases, `{"id":"a","text":"`+strings.Repeat("t", at)+stop+strings.Repeat("u", 150-at%150)+`"}`)
		}
	}
	for _, c := range cases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}
