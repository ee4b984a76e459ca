package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Query matches records by id or text, ignoring case: a record matches when its id
// holds the text, or its bytes do, the text read as it stands or as JSON writes it
// inside a string (a quote in the text matches \" in the record). Text a record
// writes with \u escapes is matched as written. An empty query matches every record.
type Query struct {
	text    []byte // lower-cased
	escaped []byte // lower-cased, as inside a JSON string; nil when the same as text
	buf     []byte // the record lower-cased, reused
}

// NewQuery returns a query for text.
func NewQuery(text string) *Query {
	q := &Query{text: bytes.ToLower([]byte(text))}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(text) == nil {
		esc := bytes.ToLower(bytes.TrimSuffix(bytes.TrimSpace(b.Bytes()), []byte{'"'})[1:])
		if !bytes.Equal(esc, q.text) {
			q.escaped = esc
		}
	}
	return q
}

// Match reports whether the record rec, whose id is id, matches. Not safe for
// concurrent use.
func (q *Query) Match(id string, rec []byte) bool {
	if len(q.text) == 0 {
		return true
	}
	if strings.Contains(strings.ToLower(id), string(q.text)) {
		return true
	}
	q.buf = lowerInto(q.buf[:0], rec)
	return bytes.Contains(q.buf, q.text) || (q.escaped != nil && bytes.Contains(q.buf, q.escaped))
}

// lowerInto appends b lower-cased to dst: ASCII byte by byte, the rest by
// bytes.ToLower.
func lowerInto(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			return append(dst, bytes.ToLower(b[i:])...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// previewRunes is how many characters of a record Preview keeps.
const previewRunes = 120

// Preview is the start of a record, at most previewRunes characters, as valid UTF-8.
func Preview(rec []byte) string {
	rec = bytes.TrimSuffix(rec, []byte{'\n'})
	n, i := 0, 0
	for i < len(rec) && n < previewRunes {
		_, size := utf8.DecodeRune(rec[i:])
		i += size
		n++
	}
	return strings.ToValidUTF8(string(rec[:i]), "\uFFFD")
}
