package engine_test

import (
	"bytes"
	"context"
	"math/rand"
	"slices"
	"testing"

	"cairn/chunk"
	"cairn/engine"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
)

// formatRepo makes a repository of the given format, encrypted or not.
func formatRepo(t *testing.T, format int, encrypted bool) (*repo.Repository, transport.Backend) {
	t.Helper()
	be := mem.New()
	cfg := testConfig(t)
	cfg.Format = format
	var opts []repo.Option
	if encrypted {
		cfg.Encryption = repo.EncryptionXChaCha
		opts = append(opts, repo.WithPassword("pw", copyKDF))
	}
	r, err := repo.Init(context.Background(), be, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if encrypted {
		if r, err = repo.Open(context.Background(), be, repo.WithPassword("pw", repo.KDFParams{})); err != nil {
			t.Fatal(err)
		}
	}
	return r, be
}

// TestCheckFormat3FlippedFrame: in a format 3 repository, whose pack tables hold no
// ids, check --read-data reports every chunk of a frame with a flipped byte (the
// index's ids, at the index's locations), and no other chunk, encrypted or not.
func TestCheckFormat3FlippedFrame(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			r, be := formatRepo(t, 3, encrypted)
			if r.Config().Format != 3 || !r.TableIDsHashed() {
				t.Fatalf("format %d repository", r.Config().Format)
			}
			sn := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 8)}, clock())
			col := resolvedCollection(t, r, sn, "formats")
			loc := flipInFrame(t, r, be, col.Chunks[0])
			var inFrame []string
			r.Index().Each(func(id chunk.ID, l repo.Location) {
				if l.Pack == loc.Pack && l.Frame == loc.Frame {
					inFrame = append(inFrame, id.String())
				}
			})
			res, err := engine.Check(t.Context(), reopenFormat(t, be, encrypted), engine.CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			var bad []string
			for _, p := range res.Errors {
				if p.Kind == engine.ProblemChunk {
					if p.Pack != loc.Pack.String() {
						t.Errorf("chunk %s of pack %s reported, only pack %s was damaged", p.Chunk, p.Pack, loc.Pack)
					}
					bad = append(bad, p.Chunk)
				}
			}
			slices.Sort(bad)
			slices.Sort(inFrame)
			if len(inFrame) == 0 || !slices.Equal(bad, inFrame) {
				t.Fatalf("check reported chunks %v, the damaged frame holds %v", bad, inFrame)
			}
			if !slices.ContainsFunc(res.Damaged, func(d engine.Damage) bool { return d.Snapshot == sn.ID && d.Collection == "formats" }) {
				t.Errorf("damage report %+v does not name collection formats", res.Damaged)
			}
		})
	}
}

// TestCheckFormat3VerifiesIndexIDs: a format 3 pack names its chunks by their bytes,
// so it cannot lie about them, but the index can: a chunk the index places where other
// bytes lie is reported even when the pack holds its true bytes elsewhere. Here the
// bytes of A are stored under id X (X -> A's copy) and other bytes under A's id (A ->
// the other copy); the pack reads back as A and B (B for the other bytes), both
// whole, and check must report X and A, whose index locations do not hold them.
func TestCheckFormat3VerifiesIndexIDs(t *testing.T) {
	ctx := context.Background()
	r, be := formatRepo(t, 3, false)
	rnd := rand.New(rand.NewSource(1))
	a, other := make([]byte, 3000), make([]byte, 3000)
	rnd.Read(a)
	rnd.Read(other)
	good := make([]byte, 3000)
	rnd.Read(good)
	idA, liar := r.ChunkID(a), r.ChunkID(good)
	liar[0] ^= 1
	for _, c := range []struct {
		id   chunk.ID
		data []byte
	}{{liar, a}, {idA, other}, {r.ChunkID(good), good}} {
		if _, err := r.SaveChunk(ctx, c.id, c.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := reopen(t, r, be)
	res, err := engine.Check(ctx, r2, engine.CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, p := range res.Errors {
		if p.Kind == engine.ProblemChunk {
			bad = append(bad, p.Chunk)
		}
	}
	want := []string{idA.String(), liar.String()}
	slices.Sort(bad)
	slices.Sort(want)
	if !slices.Equal(bad, want) {
		t.Fatalf("check reported chunks %v, want %v (the good chunk %s passes)", bad, want, r.ChunkID(good))
	}
	// The pack itself reads back whole, its chunks named by their bytes.
	loc, _ := r2.Index().Lookup(idA)
	_, refs, err := r2.LoadPack(ctx, loc.Pack)
	if err != nil {
		t.Fatal(err)
	}
	var names [][]byte
	for _, ref := range refs {
		names = append(names, slices.Clone(ref.ID[:]))
	}
	if !slices.ContainsFunc(names, func(n []byte) bool { return bytes.Equal(n, idA[:]) }) || len(refs) != 3 {
		t.Fatalf("pack named %d chunks %x", len(refs), names)
	}
}

func reopenFormat(t *testing.T, be transport.Backend, encrypted bool) *repo.Repository {
	t.Helper()
	var opts []repo.Option
	if encrypted {
		opts = append(opts, repo.WithPassword("pw", repo.KDFParams{}))
	}
	r, err := repo.Open(context.Background(), be, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
