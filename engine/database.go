package engine

import (
	"bytes"
	"context"
	"io"
	"slices"

	"cairn/engine/localdb"
)

// DatabaseSource reads the daemon's local database from one consistent read
// transaction.
type DatabaseSource struct{ DB *localdb.DB }

// Describe implements Source.
func (s DatabaseSource) Describe() string { return "database:" + s.DB.Path() }

// Read implements Source.
func (s DatabaseSource) Read(ctx context.Context, fn func(string, io.Reader) error) (Meta, error) {
	m, err := s.DB.Read(ctx, fn)
	return Meta{Version: m.Version, Schema: m.Schema}, err
}

// CollectionTags implements Tagger: every write to a collection gives it a new tag.
func (s DatabaseSource) CollectionTags(ctx context.Context) (map[string]string, error) {
	tags, err := s.DB.Tags()
	for name, t := range tags {
		tags[name] = "db:" + t
	}
	return tags, err
}

// DatabaseSink restores into the local database: a whole-database snapshot replaces it
// (built beside it and swapped in on Commit), an assets snapshot is merged into it.
type DatabaseSink struct {
	ctx   context.Context
	db    *localdb.DB
	merge bool
	p     *localdb.Pending
}

// NewDatabaseSink returns a sink that replaces the database, or merges into it; ctx
// ends its wait for the database's writer.
func NewDatabaseSink(ctx context.Context, db *localdb.DB, merge bool) *DatabaseSink {
	return &DatabaseSink{ctx: ctx, db: db, merge: merge}
}

// Begin implements Sink.
func (s *DatabaseSink) Begin(meta Meta) error {
	var err error
	if s.merge {
		s.p, err = s.db.BeginMerge(s.ctx)
		return err
	}
	if s.p, err = s.db.BeginReplace(s.ctx); err != nil {
		return err
	}
	return s.p.SetMeta(localdb.Meta{Version: meta.Version, Schema: meta.Schema})
}

// Collection implements Sink.
func (s *DatabaseSink) Collection(name string, fn func(io.Writer) error) error {
	return pipe(fn, func(r io.Reader) error { return s.p.Collection(name, r) })
}

// Commit implements Sink.
func (s *DatabaseSink) Commit() error { return s.p.Commit(context.Background()) }

// Abort implements Sink.
func (s *DatabaseSink) Abort() {
	if s.p != nil {
		s.p.Abort()
	}
}

// pipe connects a writer-side function to a reader-side one. consume runs on its own
// goroutine, which ends before pipe returns.
func pipe(produce func(io.Writer) error, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := consume(pr)
		pr.CloseWithError(err) // a consumer that stops early fails the producer's writes
		done <- err
	}()
	err := produce(pw)
	pw.CloseWithError(err)
	if cerr := <-done; err == nil || err == io.ErrClosedPipe {
		if cerr != nil {
			err = cerr
		}
	}
	return err
}

// BytesSource is a database held in memory: collections by name, and a version.
type BytesSource struct {
	Version     string
	Collections map[string][]byte
}

// Describe implements Source.
func (s BytesSource) Describe() string { return "request" }

// Read implements Source.
func (s BytesSource) Read(ctx context.Context, fn func(string, io.Reader) error) (Meta, error) {
	names := make([]string, 0, len(s.Collections))
	for n := range s.Collections {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return Meta{}, err
		}
		if err := fn(n, bytes.NewReader(s.Collections[n])); err != nil {
			return Meta{}, err
		}
	}
	return Meta{Version: s.Version}, nil
}
