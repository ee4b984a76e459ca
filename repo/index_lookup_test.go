package repo

import (
	"math/rand/v2"
	"testing"

	"cairn/chunk"
)

// indexOf returns an index of n chunks with random ids in packs of 1000, bulk loaded
// as from index files, and a few more added since (in its recent additions).
func indexOf(tb testing.TB, n int, narrow bool) (*Index, []chunk.ID) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	x := newIndex(narrow)
	b := &bulk{x: x}
	ids := make([]chunk.ID, 0, n+10)
	for p := 0; p*1000 < n; p++ {
		var pack ObjectID
		pack[0], pack[1] = byte(p), byte(p>>8)
		refs := make([]BlobRef, 0, 1000)
		for i := p * 1000; i < min(n, (p+1)*1000); i++ {
			var id chunk.ID
			for j := range id {
				id[j] = byte(rng.Uint32())
			}
			if narrow {
				id = id.Narrow()
			}
			ids = append(ids, id)
			refs = append(refs, BlobRef{ID: id, Frame: uint32(8 + i%1000*100), FrameLen: 100, Offset: 0, Raw: uint32(i%4000 + 1)})
		}
		b.addRefs(pack, refs)
	}
	b.finish()
	var late ObjectID
	late[0] = 0xff
	var refs []BlobRef
	for i := 0; i < 10; i++ {
		var id chunk.ID
		id[0], id[1] = byte(i), 0xee
		ids = append(ids, id)
		refs = append(refs, BlobRef{ID: id, Frame: 8, FrameLen: 50, Offset: uint32(i * 3), Raw: 3})
	}
	x.add(late, refs)
	return x, ids
}

// TestLookupManyFindsWhatLookupFinds: the block lookup gives every chunk the place
// Lookup gives it, in the sorted table and in the recent additions, whatever the
// order, and stops at the first chunk the index lacks.
func TestLookupManyFindsWhatLookupFinds(t *testing.T) {
	for _, narrow := range []bool{true, false} {
		t.Run(map[bool]string{true: "narrow", false: "wide"}[narrow], func(t *testing.T) { testLookupMany(t, narrow) })
	}
}

func testLookupMany(t *testing.T, narrow bool) {
	x, ids := indexOf(t, 50_000, narrow)
	rng := rand.New(rand.NewPCG(9, 10))
	shuffled := append([]chunk.ID(nil), ids...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var absent chunk.ID
	absent[0] = 0x42
	withAbsent := append(append(append([]chunk.ID(nil), shuffled[:777]...), absent), shuffled[777:]...)
	for _, tc := range []struct {
		name  string
		ids   []chunk.ID
		found int
	}{
		{"in storage order", ids, len(ids)},
		{"shuffled", shuffled, len(shuffled)},
		{"a few", shuffled[:3], 3},
		{"one missing", withAbsent, 777},
		{"none", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]place, len(tc.ids))
			if got := x.lookupMany(tc.ids, out); got != tc.found {
				t.Fatalf("found %d, want %d", got, tc.found)
			}
			for i, id := range tc.ids[:tc.found] {
				loc, ok := x.Lookup(id)
				offset, raw := out[i].span()
				got := Location{Pack: x.packID(out[i].pack), Frame: out[i].frame, FrameLen: out[i].frameLen(), Offset: offset, Raw: raw}
				if !ok || got != loc {
					t.Fatalf("chunk %d: %+v, Lookup says %+v", i, got, loc)
				}
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	x, ids := indexOf(b, 300_000, true)
	rng := rand.New(rand.NewPCG(11, 12))
	rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	out := make([]place, len(ids))
	b.Run("one by one", func(b *testing.B) {
		for b.Loop() {
			for _, id := range ids {
				x.Lookup(id)
			}
		}
	})
	b.Run("many", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < len(ids); i += lookupBlock {
				x.lookupMany(ids[i:min(len(ids), i+lookupBlock)], out[i:])
			}
		}
	})
}

// TestLookupDoesNotAllocate: Has and Lookup allocate nothing (an id passed through the
// store's interface by pointer escaped: a backup allocated 32 bytes per chunk).
func TestLookupDoesNotAllocate(t *testing.T) {
	for _, narrow := range []bool{true, false} {
		x, ids := indexOf(t, 5000, narrow)
		var absent chunk.ID
		absent[0] = 0x42
		if n := testing.AllocsPerRun(100, func() {
			x.Has(ids[7])
			x.Lookup(ids[4000])
			x.Has(absent)
		}); n != 0 {
			t.Fatalf("narrow %v: %v allocations per lookup", narrow, n)
		}
	}
}
