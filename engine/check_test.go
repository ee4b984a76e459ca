package engine_test

import (
	"context"
	"io"
	"slices"
	"testing"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
)

// flipInFrame flips the first byte of the frame that holds chunk id (its codec, or
// the nonce of an encrypted frame), so that none of the frame's chunks decodes.
func flipInFrame(tb testing.TB, r *repo.Repository, be transport.Backend, id [32]byte) repo.Location {
	tb.Helper()
	ctx := context.Background()
	loc, ok := r.Index().Lookup(id)
	if !ok {
		tb.Fatal("chunk not indexed")
	}
	h := transport.Handle{Kind: transport.Data, Name: loc.Pack.String()}
	var data []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) (err error) { data, err = io.ReadAll(rd); return err })
	if err != nil {
		tb.Fatal(err)
	}
	data[loc.Frame] ^= 0x40
	if err := be.Remove(ctx, h); err != nil {
		tb.Fatal(err)
	}
	if err := be.Save(ctx, h, data); err != nil {
		tb.Fatal(err)
	}
	return loc
}

// TestCheckProblemsAreTyped: each kind of damage is reported as a Problem of its kind
// that names the object it concerns, and the damaged collection is named.
func TestCheckProblemsAreTyped(t *testing.T) {
	cases := []struct {
		name     string
		readData bool
		// damage harms the repository and returns the problems check must report.
		damage func(t *testing.T, r *repo.Repository, be transport.Backend, sn *repo.Snapshot, col repo.ResolvedCollection) []engine.Problem
	}{
		{"missing pack", false, func(t *testing.T, r *repo.Repository, be transport.Backend, _ *repo.Snapshot, col repo.ResolvedCollection) []engine.Problem {
			loc, _ := r.Index().Lookup(col.Chunks[0])
			if err := be.Remove(t.Context(), transport.Handle{Kind: transport.Data, Name: loc.Pack.String()}); err != nil {
				t.Fatal(err)
			}
			return []engine.Problem{{Kind: engine.ProblemPack, Pack: loc.Pack.String()}}
		}},
		{"index gone", false, func(t *testing.T, r *repo.Repository, be transport.Backend, sn *repo.Snapshot, col repo.ResolvedCollection) []engine.Problem {
			var names []string
			be.List(t.Context(), transport.Index, func(fi transport.FileInfo) error { names = append(names, fi.Name); return nil })
			for _, n := range names {
				if err := be.Remove(t.Context(), transport.Handle{Kind: transport.Index, Name: n}); err != nil {
					t.Fatal(err)
				}
			}
			// The chunk lists cannot be found without an index.
			return []engine.Problem{{Kind: engine.ProblemCollection, Snapshot: sn.ID, Collection: col.Name}}
		}},
		{"flipped byte in a chunk", true, func(t *testing.T, r *repo.Repository, be transport.Backend, _ *repo.Snapshot, col repo.ResolvedCollection) []engine.Problem {
			loc := flipInFrame(t, r, be, col.Chunks[0])
			return []engine.Problem{
				{Kind: engine.ProblemPack, Pack: loc.Pack.String()},
				{Kind: engine.ProblemChunk, Pack: loc.Pack.String(), Chunk: col.Chunks[0].String()},
			}
		}},
		{"flipped byte in a chunk list", false, func(t *testing.T, r *repo.Repository, be transport.Backend, sn *repo.Snapshot, col repo.ResolvedCollection) []engine.Problem {
			flipInFrame(t, r, be, col.List)
			return []engine.Problem{{Kind: engine.ProblemCollection, Snapshot: sn.ID, Collection: col.Name}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := mem.New()
			r := newRepo(t, be)
			sn := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 8)}, clock())
			col := resolvedCollection(t, r, sn, "formats")
			want := c.damage(t, r, be, sn, col)
			res, err := engine.Check(t.Context(), reopen(t, r, be), engine.CheckOptions{ReadData: c.readData})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatalf("check found nothing wrong: %+v", res)
			}
			for _, w := range want {
				if !slices.ContainsFunc(res.Errors, func(p engine.Problem) bool {
					return p.Kind == w.Kind && p.Snapshot == w.Snapshot && p.Collection == w.Collection &&
						p.Pack == w.Pack && p.Chunk == w.Chunk && p.Message != ""
				}) {
					t.Errorf("no problem %#v among %#v", w, res.Errors)
				}
			}
			if !slices.ContainsFunc(res.Damaged, func(d engine.Damage) bool { return d.Snapshot == sn.ID && d.Collection == "formats" }) {
				t.Errorf("damage report %+v does not name snapshot %s collection formats", res.Damaged, sn.ID)
			}
		})
	}
}

// resolvedCollection is the collection name of sn with its chunk ids.
func resolvedCollection(t *testing.T, r *repo.Repository, sn *repo.Snapshot, name string) repo.ResolvedCollection {
	t.Helper()
	resolved, err := r.Resolve(t.Context(), sn)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(resolved, func(c repo.ResolvedCollection) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("snapshot %s has no collection %s", sn.ID, name)
	}
	return resolved[i]
}
