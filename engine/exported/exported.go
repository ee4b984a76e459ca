// Package exported reads and writes the Pieces SDK's ExportedDatabase JSON document as a
// stream: memory does not grow with the size of the document's arrays.
//
// # Mapping
//
// The document is one JSON object. Each of its byte-array fields (analyses, assets,
// formats, ...: JSON arrays of integers 0..255) is the collection of the same name, and its
// bytes pass through untouched, whatever they are.
//
// Each of the three ExportedDatabaseFormats fields (values, messageValues,
// workstreamEventValues: {"schema"?: ..., "iterable": [{"schema"?: ..., "id": "...", "raw": [bytes]}]})
// becomes the collection of the same name with one line per iterable entry, in order:
//
//	{"id":"<id>","raw":"<raw in base64, standard alphabet, padded>"}\n
//	{"id":"<id>","raw":"<base64>","schema":{"migration":<n>,"semantic":"<enum>"}}\n   (entry with a schema)
//
// The id is written in canonical JSON escaping: the characters `"` and `\` and the control
// characters are escaped (\n, \r, \t, \b, \f, otherwise \u00xx); every other character is
// written as itself in UTF-8, except a lone UTF-16 surrogate (\ud800 to \udfff, which JSON
// allows and UTF-8 cannot hold), written as a lowercase \uxxxx escape. A schema is written
// as shown, its migration number as it appeared in the document. So every line starts
// with {"id":" and the escaped id, as the collection byte format asks.
//
// The top-level schema of a value set is kept in Meta.ValueSchemas, the document's own
// schema in Meta.Schema, both in the canonical form above.
//
// # Strictness
//
// Decode accepts exactly the SDK model: unknown or duplicate fields, values of the wrong
// type, byte values that are not integers 0..255 written plainly (1.0, 1e2, -0, 01 and 256
// are all errors), strings that are not valid UTF-8, data after the object and a missing
// version are errors, reported as a *SyntaxError with the byte offset and the field.
// Optional fields may be null, which is the same as absent; required fields may be absent
// (Meta.Present says which collections were there) but not null. A schema's semantic
// version must be one the SDK knows.
//
// Encoder writes compact JSON, the shape ExportedDatabaseFromJSON reads: the collections
// in the order they are written, then the required ones not written (empty), version and
// schema. Byte values are written as decimal integers, as JSON.stringify does.
package exported

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// kind is what a document field holds.
type kind uint8

const (
	kindBytes   kind = iota // an array of byte values: one collection
	kindValues              // an ExportedDatabaseFormats: one collection of canonical lines
	kindVersion             // the version string
	kindSchema              // an EmbeddedModelSchema
)

type field struct {
	name     string
	kind     kind
	required bool
}

// fields are the document's fields in the SDK's order.
var fields = []field{
	{"analyses", kindBytes, true},
	{"applications", kindBytes, true},
	{"assets", kindBytes, true},
	{"codeAnalyses", kindBytes, true},
	{"files", kindBytes, true},
	{"formatMetrics", kindBytes, true},
	{"formats", kindBytes, true},
	{"fragments", kindBytes, true},
	{"imageAnalyses", kindBytes, true},
	{"models", kindBytes, true},
	{"ocrAnalyses", kindBytes, true},
	{"persons", kindBytes, true},
	{"sensitives", kindBytes, true},
	{"tags", kindBytes, true},
	{"websites", kindBytes, true},
	{"values", kindValues, true},
	{"version", kindVersion, true},
	{"schema", kindSchema, false},
	{"relationships", kindBytes, false},
	{"activities", kindBytes, false},
	{"annotations", kindBytes, false},
	{"hints", kindBytes, false},
	{"anchors", kindBytes, false},
	{"anchorPoints", kindBytes, false},
	{"conversations", kindBytes, false},
	{"conversationMessages", kindBytes, false},
	{"workstreamEvents", kindBytes, false},
	{"ranges", kindBytes, false},
	{"workstreamSummaries", kindBytes, false},
	{"workstreamPatternEngineSources", kindBytes, false},
	{"messageValues", kindValues, false},
	{"workstreamEventValues", kindValues, false},
}

// fieldIndex maps a field name to its index in fields.
var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(fields))
	for i, f := range fields {
		m[f.name] = i
	}
	return m
}()

// Collections lists every collection name in the SDK's field order, the three value sets
// (values, messageValues, workstreamEventValues) included.
var Collections = func() []string {
	var names []string
	for _, f := range fields {
		if f.kind == kindBytes || f.kind == kindValues {
			names = append(names, f.name)
		}
	}
	return names
}()

// IsValueSet reports whether a collection comes from an ExportedDatabaseFormats field and
// so holds canonical value lines rather than bytes passed through.
func IsValueSet(name string) bool {
	i, ok := fieldIndex[name]
	return ok && fields[i].kind == kindValues
}

// collectionIndex returns the index in fields of a collection, or -1.
func collectionIndex(name string) int {
	i, ok := fieldIndex[name]
	if !ok || fields[i].kind != kindBytes && fields[i].kind != kindValues {
		return -1
	}
	return i
}

// Meta is what a document holds besides its collections.
type Meta struct {
	// Version is the version string, in UTF-8; a lone surrogate escape (\ud800) is kept
	// in its 3-byte form (WTF-8) so that it is written back the same.
	Version string `json:"version"`
	// Schema is the document's EmbeddedModelSchema, nil if absent.
	Schema json.RawMessage `json:"schema,omitempty"`
	// ValueSchemas holds the top-level schema of values, messageValues and
	// workstreamEventValues, for those that have one.
	ValueSchemas map[string]json.RawMessage `json:"value_schemas,omitempty"`
	// Present lists the collections present in the decoded document, in document order.
	Present []string `json:"present,omitempty"`
}

// SyntaxError says where and why a document is not a valid ExportedDatabase.
type SyntaxError struct {
	Offset int64  // byte offset in the document where the problem is
	Field  string // the field being read ("assets", "values.iterable[3].raw"), if any
	Msg    string
	Err    error // ErrNewerSchema when the document names a schema this build does not know
}

// Unwrap returns the sentinel the error carries, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrNewerSchema means the document names an EmbeddedModelSchema semantic version this
// build does not know: it was written by a newer Pieces OS.
var ErrNewerSchema = errors.New("newer schema than this build of cairn knows; update cairn")

// IsCollection reports whether name is a collection of the document.
func IsCollection(name string) bool { return slices.Contains(Collections, name) }

func (e *SyntaxError) Error() string {
	if e.Field != "" {
		return "exported database: byte " + strconv.FormatInt(e.Offset, 10) + ", field " + strconv.Quote(e.Field) + ": " + e.Msg
	}
	return "exported database: byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// semantic versions an EmbeddedModelSchema may name.
var semantics = []string{"UNKNOWN", "MAJOR_0_MINOR_0_PATCH_1"}

// Limits on values read whole. Arrays have no limit.
const (
	maxKey     = 256
	maxID      = 1 << 20
	maxVersion = 64 << 10
	maxNumber  = 64
)

func errorf(off int64, field, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: off, Field: field, Msg: fmt.Sprintf(format, args...)}
}
