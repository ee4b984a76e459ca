package engine_test

import (
	"context"
	"io"
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
)

// TestCheckReadsIndexFilesNotTheLocalCache: a check sees a damaged index file even
// when the local index cache, built before the damage, would spare a load reading it.
func TestCheckReadsIndexFilesNotTheLocalCache(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := newRepo(t, be)
	backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 8)}, clock())
	cache := t.TempDir()
	open := func() *repo.Repository {
		t.Helper()
		r, err := repo.Open(ctx, be, repo.WithIndexCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	open() // writes the cache
	var name string
	be.List(ctx, transport.Index, func(fi transport.FileInfo) error { name = fi.Name; return nil })
	h := transport.Handle{Kind: transport.Index, Name: name}
	var data []byte
	if err := be.Load(ctx, h, 0, 0, func(rd io.Reader) (err error) { data, err = io.ReadAll(rd); return err }); err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0x40 // the zstd checksum
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
	res, err := engine.Check(ctx, open(), engine.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Errors {
		if p.Kind == engine.ProblemIndex {
			return
		}
	}
	t.Fatalf("check missed the damaged index file: %+v", res.Errors)
}
