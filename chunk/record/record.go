// Package record reads the record line of the collection byte format: each collection
// is newline-delimited JSON objects, one record per line, each with a string "id"
// unique in its collection. Lines written by cairn and by Pieces start with the id:
//
//	{"id":"<id in JSON escaping>",...}\n
//
// Key finds that id cheaply, as written, for the chunker, diff, ls and cat; ID reads
// and checks it strictly, for records coming in from outside (an import).
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxID is the longest id, in bytes, that ID accepts.
const MaxID = 1024

// ErrInvalid means a line is not a record: a JSON object with a string "id" of 1 to
// MaxID bytes.
var ErrInvalid = errors.New("invalid record")

// prefix starts every line whose id comes first.
var prefix = []byte(`{"id":"`)

// Key returns the id of a line that starts with {"id":", as written between its
// quotes (escapes left as they are), and true; else nil and false. It looks no
// further than the id's closing quote: it does not check that the rest is JSON.
func Key(line []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(line, prefix)
	if !ok {
		return nil, false
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '"':
			return rest[:i], true
		case '\\':
			i++ // the escaped character, a quote included
		}
	}
	return nil, false
}

// Unescape returns the id a key from Key stands for: the key itself when it holds no
// escape, else its JSON decoding. It fails when an escape is not valid JSON.
func Unescape(key []byte) (string, error) {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key), nil
	}
	quoted := make([]byte, 0, len(key)+2)
	quoted = append(append(append(quoted, '"'), key...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", fmt.Errorf("id: %v: %w", err, ErrInvalid)
	}
	return s, nil
}

// ID returns the id of a record line (without its newline): the line must be one
// JSON object whose first member named "id" is a string of 1 to MaxID bytes (once its
// escapes are decoded). Lines that start with the id are read without decoding the
// rest; the others are walked member by member.
func ID(line []byte) (string, error) {
	if !json.Valid(line) {
		return "", fmt.Errorf("not a JSON object: %w", ErrInvalid)
	}
	var id string
	if key, ok := Key(line); ok {
		s, err := Unescape(key)
		if err != nil {
			return "", err
		}
		id = s
	} else {
		s, err := firstID(line)
		if err != nil {
			return "", err
		}
		id = s
	}
	if id == "" || len(id) > MaxID {
		return "", fmt.Errorf("id must be 1 to %d bytes: %w", MaxID, ErrInvalid)
	}
	return id, nil
}

// firstID walks the members of a valid JSON value to the first one named "id".
func firstID(line []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", fmt.Errorf("not a JSON object: %w", ErrInvalid)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("%v: %w", err, ErrInvalid)
		}
		if t == "id" {
			v, err := dec.Token()
			if s, ok := v.(string); ok && err == nil {
				return s, nil
			}
			return "", fmt.Errorf(`"id" is not a string: %w`, ErrInvalid)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", fmt.Errorf("%v: %w", err, ErrInvalid)
		}
	}
	return "", fmt.Errorf(`no string "id": %w`, ErrInvalid)
}
