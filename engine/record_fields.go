package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// FieldChange is one top-level field of a record in two versions; Before or After is
// nil where that version lacks the field (or the record).
type FieldChange struct {
	Name    string          `json:"name"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
	Changed bool            `json:"changed"`
}

// CompareFields compares two versions of a record field by field, sorted by name;
// either may be nil (the record is absent there). A field's values are the same when
// their compacted JSON is. A version that is not a JSON object is ErrBadSource.
func CompareFields(before, after []byte) ([]FieldChange, error) {
	b, err := topFields(before)
	if err != nil {
		return nil, fmt.Errorf("compare fields: earlier version: %w", err)
	}
	a, err := topFields(after)
	if err != nil {
		return nil, fmt.Errorf("compare fields: later version: %w", err)
	}
	names := make([]string, 0, len(a)+len(b))
	for n := range b {
		names = append(names, n)
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	out := make([]FieldChange, 0, len(names))
	for _, n := range names {
		fb, fa := b[n], a[n]
		out = append(out, FieldChange{Name: n, Before: fb, After: fa, Changed: fb == nil || fa == nil || !bytes.Equal(fb, fa)})
	}
	return out, nil
}

// topFields returns the members of a JSON object, each value compacted; nil for nil.
// A repeated name keeps its last value, as JSON decoders do.
func topFields(rec []byte) (map[string]json.RawMessage, error) {
	if rec == nil {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec, &m); err != nil || m == nil {
		return nil, fmt.Errorf("not a JSON object: %w", ErrBadSource)
	}
	for n, v := range m {
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("field %q: %v: %w", n, err, ErrBadSource)
		}
		m[n] = c.Bytes()
	}
	return m, nil
}
