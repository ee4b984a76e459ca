// Package exported reads and writes the Pieces SDK's ExportedDatabase JSON document as a
// stream: memory does not grow with the size of its byte arrays.
//
// Each byte-array field (assets, formats, ...) is one collection; its bytes pass through
// untouched. The three ExportedDatabaseFormats fields (values, messageValues,
// workstreamEventValues) become collections with one line per iterable entry, in the
// canonical form
//
//	{"id":"<id>","raw":"<base64 of raw>"}
//	{"id":"<id>","raw":"<base64 of raw>","schema":{...}}      when the entry has a schema
//
// so that every collection is in the collection byte format and records start with
// their id. The ExportedDatabaseFormats' own schema is kept in Meta.ValueSchemas.
package exported

import (
	"encoding/json"
	"fmt"
	"slices"
)

// byteFields are the byte-array fields, in the SDK's order; the first 15 are required.
var byteFields = []string{
	"analyses", "applications", "assets", "codeAnalyses", "files", "formatMetrics", "formats", "fragments",
	"imageAnalyses", "models", "ocrAnalyses", "persons", "sensitives", "tags", "websites",
	"relationships", "activities", "annotations", "hints", "anchors", "anchorPoints", "conversations",
	"conversationMessages", "workstreamEvents", "ranges", "workstreamSummaries", "workstreamPatternEngineSources",
}

const requiredByteFields = 15

// valueSets are the ExportedDatabaseFormats fields; values is required.
var valueSets = []string{"values", "messageValues", "workstreamEventValues"}

// Collections lists every collection name, byte arrays first, then the value sets.
var Collections = append(slices.Clone(byteFields), valueSets...)

// IsValueSet reports whether a collection comes from an ExportedDatabaseFormats field.
func IsValueSet(name string) bool { return slices.Contains(valueSets, name) }

// IsCollection reports whether name is a collection of the document.
func IsCollection(name string) bool { return slices.Contains(Collections, name) }

func required(name string) bool {
	i := slices.Index(byteFields, name)
	return i >= 0 && i < requiredByteFields || name == "values"
}

// Meta is what the document holds besides its collections.
type Meta struct {
	Version      string                     `json:"version"`
	Schema       json.RawMessage            `json:"schema,omitempty"`
	ValueSchemas map[string]json.RawMessage `json:"value_schemas,omitempty"`
	Present      []string                   `json:"present,omitempty"` // collections present, in document order
}

// SyntaxError says where and why a document is not a valid ExportedDatabase.
type SyntaxError struct {
	Offset int64  // byte offset in the document
	Field  string // the field being read, if any
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("exported database: field %q at byte %d: %s", e.Field, e.Offset, e.Msg)
	}
	return fmt.Sprintf("exported database: at byte %d: %s", e.Offset, e.Msg)
}

// valueLine is the canonical line of one value-set entry.
type valueLine struct {
	ID     string          `json:"id"`
	Raw    []byte          `json:"raw"`
	Schema json.RawMessage `json:"schema,omitempty"`
}
