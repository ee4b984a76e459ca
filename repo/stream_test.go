package repo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"cairn/chunk"
)

// TestSaveRun: a run's new chunks go into frames in run order, each frame closed at the
// frame target (a chunk of the target or more in a frame of its own, after the frame
// of the chunks before it), chunks the repository has or the run repeats are not
// stored again, and every chunk loads back after the run's bytes were reused.
func TestSaveRun(t *testing.T) {
	ctx := context.Background()
	r, be := testRepoOf(t, 2)
	r.cfg.PackSize = 64 << 20 // one pack: frame offsets give the order
	target := r.frameSize()
	rng := rand.New(rand.NewPCG(3, 4))
	var chunks [][]byte
	for n := 0; n < 3*target; {
		data := fmt.Appendf(nil, "{\"id\":\"%x\"}", rng.Uint64())
		for len(data) < 500+rng.IntN(3000) {
			data = fmt.Appendf(data, " word%d", rng.IntN(50))
		}
		if len(chunks) == 700 {
			data = make([]byte, target+10) // a chunk of its own frame
			for i := range data {
				data[i] = byte(rng.IntN(4))
			}
		}
		chunks = append(chunks, data)
		n += len(data)
	}
	chunks = append(chunks, chunks[5]) // repeated in the run
	known := chunks[9]                 // stored before the run
	if _, err := r.SaveChunk(ctx, r.ChunkID(known), known); err != nil {
		t.Fatal(err)
	}
	var data []byte
	var ends []int
	ids := make([]chunk.ID, len(chunks))
	for i, c := range chunks {
		data = append(data, c...)
		ends = append(ends, len(data))
		ids[i] = r.ChunkID(c)
	}
	isNew := make([]bool, len(chunks))
	st := r.NewStream()
	if err := st.SaveRun(ctx, data, ends, ids, isNew); err != nil {
		t.Fatal(err)
	}
	clear(data) // the run's bytes are the caller's again
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range chunks {
		if want := i != 9 && i != len(chunks)-1; isNew[i] != want {
			t.Fatalf("chunk %d: new %v, want %v", i, isNew[i], want)
		}
	}
	// Walk the new chunks in run order: frames follow each other in the pack, each
	// holds consecutive chunks from offset 0, and only the last reaches past the
	// target or ends below it without a chunk of its own frame after it.
	var prev Location
	var frameRaw []uint32
	for i, id := range ids {
		if !isNew[i] {
			continue
		}
		l, ok := r.Index().Lookup(id)
		if !ok {
			t.Fatalf("chunk %d not indexed", i)
		}
		switch {
		case len(frameRaw) > 0 && l.Frame == prev.Frame:
			if l.Offset != prev.Offset+prev.Raw {
				t.Fatalf("chunk %d at %d in its frame, want %d", i, l.Offset, prev.Offset+prev.Raw)
			}
			frameRaw[len(frameRaw)-1] += l.Raw
		case len(frameRaw) == 0 || l.Frame > prev.Frame:
			if l.Offset != 0 {
				t.Fatalf("chunk %d starts a frame at %d", i, l.Offset)
			}
			frameRaw = append(frameRaw, l.Raw)
		default:
			t.Fatalf("chunk %d in frame at %d, before its predecessor's at %d", i, l.Frame, prev.Frame)
		}
		if int(l.Offset) >= target {
			t.Fatalf("chunk %d at offset %d, past the frame target %d", i, l.Offset, target)
		}
		prev = l
	}
	short := 0
	for _, n := range frameRaw[:len(frameRaw)-1] {
		if int(n) < target {
			short++
		}
	}
	if short > 1 || len(frameRaw) > 5 { // the frame before the large chunk may be short
		t.Fatalf("frames of %v raw bytes: want frames closed at the target %d", frameRaw, target)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	err = r2.LoadChunks(ctx, ids, func(i int, got []byte) error {
		if !slices.Equal(got, chunks[i]) {
			return fmt.Errorf("chunk %d differs", i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSaveRunBadInput: a run whose ends, ids and flags do not agree, or whose chunks
// end outside its bytes or before they start, is refused and nothing is claimed.
func TestSaveRunBadInput(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepoOf(t, 2)
	id := chunk.Hash([]byte("a")).Narrow()
	for _, c := range []struct {
		name  string
		data  []byte
		ends  []int
		ids   []chunk.ID
		isNew []bool
	}{
		{"fewer ids", []byte("ab"), []int{1, 2}, []chunk.ID{id}, make([]bool, 2)},
		{"fewer flags", []byte("ab"), []int{1, 2}, []chunk.ID{id, id}, make([]bool, 1)},
		{"past the bytes", []byte("ab"), []int{3}, []chunk.ID{id}, make([]bool, 1)},
		{"negative end", []byte("ab"), []int{-1}, []chunk.ID{id}, make([]bool, 1)},
		{"ends going back", []byte("abc"), []int{2, 1}, []chunk.ID{id, chunk.Hash([]byte("b")).Narrow()}, make([]bool, 2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := r.NewStream().SaveRun(ctx, c.data, c.ends, c.ids, c.isNew); err == nil {
				t.Fatal("SaveRun accepted it")
			}
			if _, busy := r.inflight[id]; busy {
				t.Fatal("a refused run left its chunk claimed")
			}
		})
	}
}
