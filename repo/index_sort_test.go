package repo

import (
	"cmp"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"cairn/chunk"
)

// BenchmarkSortLoaded: the sort of a loaded index of 270,000 chunks (a 512 MiB database).
func BenchmarkSortLoaded(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	refs := make([]BlobRef, 270_000)
	for i := range refs {
		var id chunk.ID
		for j := range 2 {
			v := rng.Uint64()
			for k := range 8 {
				id[j*8+k] = byte(v >> (8 * k))
			}
		}
		refs[i] = BlobRef{ID: id, Frame: uint32(i % 100), FrameLen: 1000, Offset: 0, Raw: 10}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		x := newIndex(true)
		for p := 0; p < len(refs); p += 4000 {
			x.s.appendUnsorted(uint32(p/4000), min(4000, len(refs)-p), func(i int) BlobRef { return refs[p+i] })
		}
		b.StartTimer()
		x.s.sortLoaded()
		runtime.KeepAlive(x) // its table's region is released with it
	}
}

// TestSortEntries: the two radix passes and the insertion sorts give the order a
// comparison sort gives, by key then pack, for tables of every shape: empty, smaller
// than a bucket, keys that share their whole prefix, keys listed for several packs,
// and keys crowded into a few top buckets.
func TestSortEntries(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	byKeyThenPack := func(a, b entry[narrowKey]) int {
		if c := cmpKey(&a.k, &b.k); c != 0 {
			return c
		}
		return cmp.Compare(a.pack, b.pack)
	}
	for _, c := range []struct {
		name string
		n    int
		key  func(i int) narrowKey
	}{
		{"empty", 0, nil},
		{"one", 1, nil},
		{"under a bucket", 31, nil},
		{"a bucket", 32, nil},
		{"spread", 100_000, nil},
		{"shared prefixes", 5000, func(i int) narrowKey { return narrowKey{uint64(i % 7), rng.Uint64()} }},
		{"repeated keys", 20_000, func(i int) narrowKey { return narrowKey{uint64(i%3000) * 0x9e3779b97f4a7c15, 1} }},
		{"crowded top", 50_000, func(int) narrowKey { return narrowKey{rng.Uint64() >> 60 << 56 >> 4, rng.Uint64()} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := make([]entry[narrowKey], c.n)
			for i := range e {
				k := narrowKey{rng.Uint64(), rng.Uint64()}
				if c.key != nil {
					k = c.key(i)
				}
				e[i] = entry[narrowKey]{k: k, pack: uint32(rng.IntN(50)), frame: uint32(i)}
			}
			want := slices.Clone(e)
			slices.SortStableFunc(want, byKeyThenPack)
			sortEntries(e)
			for i := range e {
				if byKeyThenPack(e[i], want[i]) != 0 {
					t.Fatalf("entry %d: key %x pack %d, want key %x pack %d", i, e[i].k, e[i].pack, want[i].k, want[i].pack)
				}
			}
		})
	}
}
