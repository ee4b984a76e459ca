package repo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"cairn/chunk"
)

// TestMetaPacking: every location refFits accepts comes back from an index entry as it
// went in, at the edges of both forms, and refFits refuses what an entry cannot hold.
func TestMetaPacking(t *testing.T) {
	for _, c := range []struct {
		frameLen, offset, raw uint32
		fits                  bool
	}{
		{1, 0, 0, true},
		{1<<24 - 1, 0, 1<<24 - 1, true}, // a chunk of its own frame, as large as chunking allows
		{9000, 100, 600, true},
		{1<<22 - 1, 1<<20 - 1, 1<<21 - 1, true},  // the far corner of a shared frame
		{2<<20 + 41, 1<<20 - 1, 1<<20 - 1, true}, // a shared 1 MiB frame that did not compress, sealed
		{1 << 24, 0, 5, false},
		{5, 0, 1 << 24, false},
		{1 << 22, 1, 5, false},
		{5, 1 << 20, 5, false},
		{5, 1, 1 << 21, false},
	} {
		t.Run(fmt.Sprint(c.frameLen, "/", c.offset, "/", c.raw), func(t *testing.T) {
			if got := refFits(c.frameLen, c.offset, c.raw); got != c.fits {
				t.Fatalf("refFits = %v, want %v", got, c.fits)
			}
			if !c.fits {
				return
			}
			x := newIndex(false)
			id := chunk.Hash([]byte("x"))
			x.add(ObjectID{1}, []BlobRef{{ID: id, Frame: 77, FrameLen: c.frameLen, Offset: c.offset, Raw: c.raw}})
			l, _ := x.Lookup(id)
			if l.Frame != 77 || l.FrameLen != c.frameLen || l.Offset != c.offset || l.Raw != c.raw {
				t.Fatalf("entry gives back %+v", l)
			}
		})
	}
}

// TestEntryOutOfRangeRefused: an index file or a pack table naming a place that an
// index entry cannot hold is damaged, instead of being cut to another place.
func TestEntryOutOfRangeRefused(t *testing.T) {
	for _, format := range []int{1, 2} {
		id := chunk.Hash([]byte("chunk"))
		if format >= 2 {
			id = id.Narrow()
		}
		for _, ref := range []BlobRef{
			{ID: id, Frame: 8, FrameLen: 10, Offset: 1 << 20, Raw: 5},
			{ID: id, Frame: 8, FrameLen: 10, Offset: 3, Raw: 1 << 21},
			{ID: id, Frame: 8, FrameLen: 10, Offset: 0, Raw: 1 << 24},
		} {
			t.Run(fmt.Sprint("format", format, "/", ref.Offset, "/", ref.Raw), func(t *testing.T) {
				file, err := encodeIndex(nil, format, indexFile{{1}: {ref}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := decodeIndex(nil, format, file); !errors.Is(err, ErrDamaged) {
					t.Fatalf("index file: %v, want damaged", err)
				}
				p := newPackWriter(64<<10, nil)
				p.addSection(make([]byte, 10), []BlobRef{{ID: ref.ID, FrameLen: ref.FrameLen, Offset: ref.Offset, Raw: ref.Raw}})
				pack, _, err := p.finish(nil, format)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := parsePackEntries(nil, format, pack, DefaultPackSize); !errors.Is(err, ErrDamaged) {
					t.Fatalf("pack table: %v, want damaged", err)
				}
			})
		}
	}
}

// TestFrameSizeByFormat: a format 1 repository keeps closing frames at 64 KiB, which
// its older readers need; one whose format takes large frames closes them at 1 MiB,
// and its chunks, at offsets past 2^16, load back through a reopened index.
func TestFrameSizeByFormat(t *testing.T) {
	for _, c := range []struct {
		format int
		target int
	}{{1, frameTarget}, {2, largeFrameTarget}} {
		t.Run(fmt.Sprint("format ", c.format), func(t *testing.T) {
			ctx := context.Background()
			r, be := testRepoOf(t, c.format)
			r.cfg.PackSize = DefaultPackSize // frames are at most a quarter of a pack
			rng := rand.New(rand.NewPCG(1, 2))
			var ids []chunk.ID
			var want [][]byte
			for i := 0; i < 3*largeFrameTarget; {
				data := []byte(fmt.Sprintf("%d %x;", i, rng.Uint64()))
				for len(data) < 1000+rng.IntN(3000) {
					data = fmt.Appendf(data, "word%d ", rng.IntN(50))
				}
				id := r.ChunkID(data)
				if _, err := r.SaveChunk(ctx, id, data); err != nil {
					t.Fatal(err)
				}
				ids, want = append(ids, id), append(want, data)
				i += len(data)
			}
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			frames := map[[2]uint32]uint32{} // pack ordinal and frame: raw bytes
			var maxOffset uint32
			for _, id := range ids {
				l, _ := r.Index().Lookup(id)
				k := [2]uint32{r.Index().packOrd[l.Pack], l.Frame}
				frames[k] = max(frames[k], l.Offset+l.Raw)
				maxOffset = max(maxOffset, l.Offset)
			}
			var largest uint32
			for _, n := range frames {
				largest = max(largest, n)
			}
			if int(maxOffset) >= c.target || int(largest) < c.target || int(largest) >= 2*c.target {
				t.Fatalf("largest frame %d bytes, largest offset %d: want frames closed at %d", largest, maxOffset, c.target)
			}
			r2, err := Open(ctx, be)
			if err != nil {
				t.Fatal(err)
			}
			err = r2.LoadChunks(ctx, ids, func(i int, got []byte) error {
				if string(got) != string(want[i]) {
					return fmt.Errorf("chunk %d differs", i)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
