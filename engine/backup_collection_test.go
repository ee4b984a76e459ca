package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/repo"
	"cairn/transport/mem"
)

// snippetRecords returns n bytes of newline-delimited records that compress like snippets.
func snippetRecords(n int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, `{"id":"%08d-%x","text":"`, i, rng.Uint64())
		for k := 20 + rng.IntN(200); k > 0; k-- {
			b = fmt.Appendf(b, "word%d ", rng.IntN(300))
		}
		b = append(b, "\"}\n"...)
	}
	return b
}

// TestCollectionFramesFullAndInOrder: a collection's new chunks are stored in frames
// of about the frame target (1 MiB here), not of a quarter of it, each frame holds a
// run of consecutive chunks of the collection's list (a restore reads the frames in
// order and never goes back to one), and the batches in flight are bounded: the
// backup makes no more than workers+1 of them, however long the collection.
func TestCollectionFramesFullAndInOrder(t *testing.T) {
	ctx := context.Background()
	cfg, err := repo.NewConfig(time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize = repo.DefaultPackSize
	r, err := repo.Init(ctx, mem.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	target := r.FrameTarget()
	data := snippetRecords(12 << 20)
	b := &backup{r: r, prog: orNoProgress(nil), start: time.Now(), workers: 2}
	if err := b.collection(ctx, "formats", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if b.batches.made > b.workers+1 {
		t.Errorf("%d batches made for %d workers, want %d at most", b.batches.made, b.workers, b.workers+1)
	}
	l, err := r.LoadList(ctx, b.cols[0].List, nil)
	if err != nil {
		t.Fatal(err)
	}
	type frame struct {
		pack  repo.ObjectID
		frame uint32
	}
	seen := map[frame]bool{}
	var last frame
	for i, id := range l.Chunks {
		loc, ok := r.Index().Lookup(id)
		if !ok {
			t.Fatalf("chunk %d not indexed", i)
		}
		f := frame{loc.Pack, loc.Frame}
		if i > 0 && f != last && seen[f] {
			t.Fatalf("chunk %d goes back to a frame of earlier chunks: a restore in order would read it twice", i)
		}
		seen[f], last = true, f
	}
	// Every frame but the last of each batch-sized run closes at the target: the
	// frames are as many as the target divides the bytes into, give or take one.
	if want := len(data)/target + 1; len(seen) > want {
		t.Errorf("%d frames for %d bytes: want %d at most (frames closed at %d)", len(seen), len(data), want, target)
	}
	got, err := loadAll(ctx, r, l.Chunks)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the collection does not load back as it was")
	}
}

func loadAll(ctx context.Context, r *repo.Repository, ids []chunk.ID) ([]byte, error) {
	var out []byte
	err := r.LoadChunks(ctx, ids, func(_ int, data []byte) error {
		out = append(out, data...)
		return nil
	})
	return out, err
}

// TestExpectedChunks: the room reserved for a collection's ids follows the parent's
// count or the file's size, and stays bounded when a manifest or a file says more.
func TestExpectedChunks(t *testing.T) {
	ctx := context.Background()
	r, err := repo.Init(ctx, mem.New(), mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	avg := r.Config().Chunking.Average
	dir := t.TempDir()
	file := func(size int64) *os.File {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(size)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return f
	}
	parent := &repo.Snapshot{Collections: []repo.Collection{{Name: "formats", Count: 1600}, {Name: "lies", Count: 1 << 40}}}
	for _, c := range []struct {
		name   string
		parent *repo.Snapshot
		rd     io.Reader
		want   int
	}{
		{"formats", parent, bytes.NewReader(nil), 1700},
		{"lies", parent, bytes.NewReader(nil), maxParentChunks},
		{"new", parent, file(int64(100 * avg)), 100},
		{"huge", nil, file(1 << 40), maxSizedChunks},
		{"stream", nil, bytes.NewReader(make([]byte, 10*avg)), 0},
	} {
		b := &backup{r: r, parent: c.parent}
		if got := b.expectedChunks(c.name, c.rd); got != c.want {
			t.Errorf("%s: %d chunks expected, want %d", c.name, got, c.want)
		}
	}
}

func mustConfig(tb testing.TB) repo.Config {
	tb.Helper()
	cfg, err := repo.NewConfig(time.Unix(1_700_000_000, 0))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}
