package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"cairn/engine/exported"
)

// Meta is what a source says about itself besides its collections.
type Meta struct {
	Version string          `json:"version"`
	Schema  json.RawMessage `json:"schema,omitempty"`
	// Exported holds the ExportedDatabase details (value-set schemas, which optional
	// fields were present) so a restore writes the same document back.
	Exported *exported.Meta `json:"exported,omitempty"`
}

// Source is where a backup reads a database from.
type Source interface {
	// Read calls fn once per collection, in a stable order, and returns the source's
	// metadata after the last one. fn must consume r before returning, unless the
	// source is a Tagger and the collection's tag is unchanged.
	Read(ctx context.Context, fn func(name string, r io.Reader) error) (Meta, error)
	// Describe is a short text for manifests and messages.
	Describe() string
}

// A Tagger can tell, before Read, which collections changed: each collection's tag
// changes whenever its content may have. Tags are taken before the content is read,
// so a change in between makes the next backup read the collection again.
type Tagger interface {
	CollectionTags(ctx context.Context) (map[string]string, error)
}

// CollectionTags implements Tagger: each collection file's change tag (fileTag: its
// size and times, and its inode where the system has one).
func (s FolderSource) CollectionTags(ctx context.Context) (map[string]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("read source folder: %w", err)
	}
	tags := map[string]string{}
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if tag, ok := fileTag(filepath.Join(s.Dir, e.Name()), fi); ok {
			tags[n] = tag
		}
	}
	return tags, nil
}

// ErrBadSource means the source's bytes cannot be read as a database.
var ErrBadSource = errors.New("invalid source")

// folderMetaFile holds the version and schema in a folder export.
const folderMetaFile = "export.json"

// FolderSource reads a folder holding one <collection>.jsonl per collection and an
// optional export.json with {"version": ..., "schema": ...}.
type FolderSource struct{ Dir string }

// Describe implements Source.
func (s FolderSource) Describe() string { return "folder:" + s.Dir }

// Read implements Source.
func (s FolderSource) Read(ctx context.Context, fn func(string, io.Reader) error) (Meta, error) {
	var meta Meta
	if b, err := os.ReadFile(filepath.Join(s.Dir, folderMetaFile)); err == nil {
		if err := json.Unmarshal(b, &meta); err != nil {
			return meta, fmt.Errorf("%s: %v: %w", folderMetaFile, err, ErrBadSource)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return meta, fmt.Errorf("read %s: %w", folderMetaFile, err)
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return meta, fmt.Errorf("read source folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".jsonl"); ok && e.Type().IsRegular() && n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return meta, fmt.Errorf("%s holds no <collection>.jsonl files: %w", s.Dir, ErrBadSource)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return meta, err
		}
		if err := readFile(filepath.Join(s.Dir, n+".jsonl"), func(r io.Reader) error { return fn(n, r) }); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

func readFile(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// ExportedSource reads an ExportedDatabase JSON document as a stream.
type ExportedSource struct {
	Name string // for messages
	Open func() (io.ReadCloser, error)
}

// ExportedFile is an ExportedSource over a file.
func ExportedFile(path string) ExportedSource {
	return ExportedSource{Name: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// Describe implements Source.
func (s ExportedSource) Describe() string { return "exported:" + s.Name }

// Read implements Source.
func (s ExportedSource) Read(ctx context.Context, fn func(string, io.Reader) error) (Meta, error) {
	rc, err := s.Open()
	if err != nil {
		return Meta{}, fmt.Errorf("open exported database: %w", err)
	}
	defer rc.Close()
	em, err := exported.Decode(rc, func(name string, body io.Reader) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(name, body)
	})
	if err != nil {
		var se *exported.SyntaxError
		if errors.As(err, &se) {
			return Meta{}, fmt.Errorf("%s: %w: %w", s.Name, ErrBadSource, err)
		}
		return Meta{}, err
	}
	return Meta{Version: em.Version, Schema: em.Schema, Exported: &em}, nil
}
