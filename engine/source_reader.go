package engine

import (
	"context"
	"fmt"
	"io"
)

// CollectionReader is a Source of one collection read from R, a stream such as
// standard input or a command's output, in the <collection>.jsonl form a folder
// holds.
type CollectionReader struct {
	Collection string    // the collection's name: a file name when restored to a folder
	R          io.Reader //
	From       string    // where R comes from, for manifests and messages ("stdin")
}

// Describe implements Source.
func (s CollectionReader) Describe() string { return s.From + ":" + s.Collection }

// Read implements Source.
func (s CollectionReader) Read(ctx context.Context, fn func(string, io.Reader) error) (Meta, error) {
	if !safeName(s.Collection) {
		return Meta{}, fmt.Errorf("collection name %q cannot be a file name: %w", s.Collection, ErrBadSource)
	}
	if err := ctx.Err(); err != nil {
		return Meta{}, err
	}
	return Meta{}, fn(s.Collection, s.R)
}
