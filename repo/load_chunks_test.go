package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"cairn/chunk"
	"cairn/transport"
)

// savedChunks stores n chunks of a few KiB (many frames, more than the frame cache
// holds) and returns their ids and bytes, reopened from the backend.
func savedChunks(tb testing.TB, n int) (*Repository, []chunk.ID, map[chunk.ID][]byte) {
	tb.Helper()
	ctx := context.Background()
	r, be := testRepo(tb)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]chunk.ID, n)
	data := map[chunk.ID][]byte{}
	for i := range ids {
		b := make([]byte, 1024+rng.IntN(4096))
		for j := range b {
			b[j] = 'a' + byte(rng.IntN(4)) // compressible, so frames hold many chunks
		}
		ids[i] = r.ChunkID(b)
		data[ids[i]] = b
		if _, err := r.SaveChunk(ctx, ids[i], b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	r2, err := Open(ctx, be)
	if err != nil {
		tb.Fatal(err)
	}
	return r2, ids, data
}

// orders returns ids shuffled, and runs of runLen chunks from runs far-apart places,
// each twice (so that the frame cache evicts and its buffers are used again).
func orders(ids []chunk.ID, seed uint64, runs, runLen int) (shuffled, hops []chunk.ID) {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	shuffled = append([]chunk.ID(nil), ids...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for range runs {
		at := rng.IntN(len(ids) - runLen)
		hops = append(hops, ids[at:at+runLen]...)
		hops = append(hops, ids[at:at+runLen]...)
	}
	return shuffled, hops
}

// TestLoadChunksServesEveryOrder: whatever the order (in storage order, hopping
// between frames so that the frame cache evicts and its buffers are used again,
// repeating chunks), every chunk comes back with its own bytes, and a chunk the index
// lacks fails the call after the chunks before it were served, and no later one.
func TestLoadChunksServesEveryOrder(t *testing.T) {
	r, ids, data := savedChunks(t, 3000)
	shuffled, hops := orders(ids, 3, 40, 40)
	absent := r.ChunkID([]byte("in no pack"))
	missing := append(append(append([]chunk.ID(nil), ids[:2500]...), absent), ids[2500:]...)
	for _, tc := range []struct {
		name    string
		ids     []chunk.ID
		served  int   // chunks fn sees
		wantErr error // nil: all of them
	}{
		{"storage order", ids, len(ids), nil},
		{"shuffled", shuffled, len(shuffled), nil},
		{"hops and repeats", hops, len(hops), nil},
		{"a chunk missing from the index", missing, 2500, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := 0
			err := r.LoadChunks(context.Background(), tc.ids, func(i int, b []byte) error {
				if i != next {
					return fmt.Errorf("chunk %d served after %d", i, next-1)
				}
				next++
				if !bytes.Equal(b, data[tc.ids[i]]) {
					return fmt.Errorf("chunk %d: wrong bytes", i)
				}
				return nil
			})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if next != tc.served {
				t.Fatalf("%d chunks served, want %d", next, tc.served)
			}
		})
		t.Run(tc.name+" in spans", func(t *testing.T) {
			next, spans := 0, 0
			err := r.LoadChunkSpans(context.Background(), tc.ids, func(first, n int, b []byte) error {
				if first != next || n < 1 {
					return fmt.Errorf("chunks %d to %d served after %d", first, first+n-1, next-1)
				}
				var want []byte
				for _, id := range tc.ids[first : first+n] {
					want = append(want, data[id]...)
				}
				if !bytes.Equal(b, want) {
					return fmt.Errorf("chunks %d to %d: wrong bytes", first, first+n-1)
				}
				next, spans = first+n, spans+1
				return nil
			})
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if next != tc.served {
				t.Fatalf("%d chunks served, want %d", next, tc.served)
			}
			if tc.name == "storage order" && spans > len(tc.ids)/10 {
				t.Fatalf("%d chunks in %d spans: neighbours in a frame were not served together", next, spans)
			}
		})
	}
}

// TestLoadChunksStaysWithinBudget: whatever the budget and the order, the buffers one
// LoadChunks call holds (its reads in flight, the frames it keeps, and a quarter of the
// flight budget read ahead by its streams) stay within its budget, but for a frame a read decodes whole where the plan needs part of it, and
// every chunk comes back with its bytes; in storage order each frame is read once.
func TestLoadChunksStaysWithinBudget(t *testing.T) {
	r, ids, data := savedChunks(t, 3000)
	shuffled, hops := orders(ids, 5, 20, 200)
	type frameAt struct {
		pack  ObjectID
		frame uint32
	}
	frames := map[frameAt]bool{}
	var stored int64 // the frames of ids, each once
	largest := 0     // the most a frame decodes to, bounded by its chunks' ends
	for _, id := range ids {
		loc, ok := r.idx.Lookup(id)
		if !ok {
			t.Fatalf("chunk %s not indexed", id.Short())
		}
		if k := (frameAt{loc.Pack, loc.Frame}); !frames[k] {
			frames[k] = true
			stored += int64(loc.FrameLen)
		}
		largest = max(largest, int(loc.Offset+loc.Raw))
	}
	frame := classOf(largest + 8<<10) // a frame decoded whole, past its last chunk
	for _, tc := range []struct {
		name  string
		ids   []chunk.ID
		b     budget
		bound int // the most the call may hold
	}{
		{"storage order", ids, budget{cache: 512 << 10, flight: 512 << 10, runCost: 128 << 10}, 1<<20 + 128<<10},
		{"shuffled", shuffled, budget{cache: 512 << 10, flight: 512 << 10, runCost: 128 << 10}, 1<<20 + 128<<10 + runsAhead*frame},
		{"hops and repeats", hops, budget{cache: 256 << 10, flight: 256 << 10, runCost: 64 << 10}, 512<<10 + 64<<10 + runsAhead*frame},
		{"a budget smaller than a frame", hops, budget{cache: 4 << 10, flight: 4 << 10, runCost: 4 << 10}, 8<<10 + 1<<10 + 4*frame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read0 := r.BytesRead()
			next := 0
			peak, err := r.loadChunks(context.Background(), tc.ids, tc.b, false, func(i, _ int, b []byte) error {
				if i != next || !bytes.Equal(b, data[tc.ids[i]]) {
					return fmt.Errorf("chunk %d: wrong bytes, or served after %d", i, next-1)
				}
				next++
				return nil
			})
			if err != nil || next != len(tc.ids) {
				t.Fatalf("%d of %d chunks served: %v", next, len(tc.ids), err)
			}
			if peak > tc.bound {
				t.Fatalf("held %d bytes at once, more than %d", peak, tc.bound)
			}
			if read := r.BytesRead() - read0; tc.name == "storage order" && read != stored {
				t.Fatalf("read %d bytes, the frames hold %d", read, stored)
			}
			t.Logf("held %d bytes at most (bound %d), read %d", peak, tc.bound, r.BytesRead()-read0)
		})
	}
}

// TestSizeClasses: a buffer's class holds its length with at most a quarter more (4
// KiB at least), every class up to 32 MiB has a pool of its own, and a length of a
// class's size gets that class.
func TestSizeClasses(t *testing.T) {
	poolOf := map[int]int{} // pool -> class
	for _, n := range []int{0, 1, 4096, 4097, 5000, 5121, 65535, 65536, 65537, 100_000, 1 << 20, 1<<20 + 1, 16 << 20, 32 << 20, 32<<20 + 1, 100 << 20} {
		c, pool := sizeClass(n)
		if c < n || n > 4096 && c > n+n/4 || c < 4096 {
			t.Fatalf("length %d: class %d", n, c)
		}
		if again, p := sizeClass(c); again != c || p != pool {
			t.Fatalf("length %d: class %d (pool %d), whose own class is %d (pool %d)", n, c, pool, again, p)
		}
		if (pool < 0) != (n > 32<<20) || pool >= len(sizePools) {
			t.Fatalf("length %d: pool %d", n, pool)
		}
		if other, ok := poolOf[pool]; ok && other != c && pool >= 0 {
			t.Fatalf("classes %d and %d share pool %d", other, c, pool)
		}
		poolOf[pool] = c
	}
}

// TestLoadChunksRefusesImpossibleFrames: an index entry (index files are written by
// whoever holds the storage) whose frame lies past the end of its pack, past the end
// of what a pack offset can name, or is empty fails the call as damage, and reserves
// no buffer for it beyond its stored length.
func TestLoadChunksRefusesImpossibleFrames(t *testing.T) {
	r, ids, _ := savedChunks(t, 10)
	loc, _ := r.idx.Lookup(ids[0])
	for _, tc := range []struct {
		name            string
		frame, frameLen uint32
	}{
		{"past the end of the pack", 1 << 30, 4096},
		{"past the end of the offsets", 1<<32 - 256, 4096},
		{"empty", 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := r.ChunkID([]byte(tc.name))
			r.idx.add(loc.Pack, []BlobRef{{ID: id, Frame: tc.frame, FrameLen: tc.frameLen, Offset: 0, Raw: 100}})
			peak, err := r.loadChunks(context.Background(), []chunk.ID{id}, defaultBudget, false, func(int, int, []byte) error { return nil })
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("error %v, want damage", err)
			}
			if peak > 64<<10 {
				t.Fatalf("held %d bytes for a frame of %d", peak, tc.frameLen)
			}
		})
	}
}

// TestLoadChunksCatchesDamagedFrames: frames are decoded without zstd's checksum, so
// a byte changed anywhere in a stored frame fails the call as damage, or changes
// nothing the call hands out: no chunk reaches fn with other bytes than its own.
func TestLoadChunksCatchesDamagedFrames(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	rng := rand.New(rand.NewPCG(13, 14))
	ids := make([]chunk.ID, 40)
	data := map[chunk.ID][]byte{}
	for i := range ids {
		b := make([]byte, 500+rng.IntN(1000))
		for j := range b {
			b[j] = 'a' + byte(rng.IntN(3))
		}
		ids[i] = r.ChunkID(b)
		data[ids[i]] = b
		if _, err := r.SaveChunk(ctx, ids[i], b); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	loc, _ := r.idx.Lookup(ids[0])
	h := transport.Handle{Kind: transport.Data, Name: loc.Pack.String()}
	var pack []byte
	if err := be.Load(ctx, h, 0, 0, func(rd io.Reader) (err error) { pack, err = io.ReadAll(rd); return err }); err != nil {
		t.Fatal(err)
	}
	if pack[loc.Frame] != codecZstd {
		t.Fatalf("frame codec %d, want zstd", pack[loc.Frame])
	}
	damaged := 0
	for at := loc.Frame + 1; at < loc.Frame+loc.FrameLen; at++ {
		bad := bytes.Clone(pack)
		bad[at] ^= 0x01
		if err := be.Remove(ctx, h); err != nil {
			t.Fatal(err)
		}
		if err := be.Save(ctx, h, bad); err != nil {
			t.Fatal(err)
		}
		err := r.LoadChunks(ctx, ids, func(i int, b []byte) error {
			if !bytes.Equal(b, data[ids[i]]) {
				return fmt.Errorf("chunk %d handed out with other bytes, byte %d of the frame changed", i, at-loc.Frame)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrDamaged) {
			t.Fatal(err)
		}
		if err != nil {
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("no changed byte was found damaged")
	}
}
