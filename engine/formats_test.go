package engine_test

import (
	"context"
	"testing"

	"cairn/chunk"
	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
)

// TestRepositoryFormats: a repository of format 1 (made by an older build, or with
// init --format 1), one of format 2 and one of format 3 each take a backup and an
// incremental one (delta lists), forget and prune, check with every chunk read, and
// restore; what this build writes into the format 1 repository stays format 1 (its
// config, and 256-bit ids in every index file and chunk list, read back by a fresh
// handle), and format 2 stays format 2; formats 2 and 3 name every chunk by a 128-bit
// id. Copying snapshots from the format 1 and 2 repositories into a new one (format
// 3) names the chunks anew.
func TestRepositoryFormats(t *testing.T) {
	ctx := context.Background()
	bes := map[int]transport.Backend{}
	for _, format := range []int{1, 2, 3} {
		be := mem.New()
		bes[format] = be
		cfg := testConfig(t)
		cfg.Format = format
		r, err := repo.Init(ctx, be, cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := clock()
		db := generate(t, 2<<20, 20)
		first := backup(t, r, engine.FolderSource{Dir: db}, now)
		if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.02, Seed: 21}); err != nil {
			t.Fatal(err)
		}
		second := backup(t, r, engine.FolderSource{Dir: db}, now)
		want := readFolder(t, db)
		if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
			t.Fatal(err)
		}
		r = reopen(t, r, be)
		if _, err := engine.Prune(ctx, r, engine.PruneOptions{}); err != nil {
			t.Fatalf("format %d: prune: %v", format, err)
		}
		r = reopen(t, r, be)
		if got := r.Config().Format; got != format {
			t.Fatalf("a format %d repository says format %d after backups and a prune", format, got)
		}
		if res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
			t.Fatalf("format %d: check: %v %+v", format, err, res)
		}
		sameCollections(t, want, restoreFolder(t, r, second))
		narrow := format >= 2
		r.Index().Each(func(id chunk.ID, _ repo.Location) {
			if id.IsNarrow() != narrow {
				t.Fatalf("format %d: indexed chunk id %s", format, id)
			}
		})
		cols, err := r.Resolve(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cols {
			if c.List.IsNarrow() != narrow || len(c.Chunks) > 0 && c.Chunks[0].IsNarrow() != narrow {
				t.Fatalf("format %d: collection %s lists ids of the wrong width", format, c.Name)
			}
		}
		if want := map[bool]int{false: 64, true: 32}[narrow]; len(second.Collections[0].List.String()) != want {
			t.Fatalf("format %d: list id printed as %q, want %d hex digits", format, second.Collections[0].List, want)
		}
	}
	for _, from := range []int{1, 2} {
		src, err := repo.Open(ctx, bes[from])
		if err != nil {
			t.Fatal(err)
		}
		target := mem.New()
		dst, err := repo.Init(ctx, target, testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		if dst.Config().Format != repo.FormatVersion || repo.FormatVersion != 3 {
			t.Fatalf("a new repository of format %d", dst.Config().Format)
		}
		st, err := engine.Copy(ctx, src, dst, engine.CopyOptions{})
		if err != nil || len(st.Copied) == 0 {
			t.Fatalf("copy from format %d into format 3: %v %+v", from, err, st)
		}
		if res, err := engine.Check(ctx, reopen(t, dst, target), engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
			t.Fatalf("copy from format %d: check: %v %+v", from, err, res)
		}
	}
}
