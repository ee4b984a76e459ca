package repo

import (
	"slices"

	"cairn/chunk"
)

// entry is one chunk's location in memory, the whole per-chunk cost of the index once
// merged: 32 bytes with 128-bit ids, 48 with 256-bit ones. meta packs the frame
// length, the offset in the frame and the chunk length (packMeta).
type entry[K key] struct {
	k     K
	pack  uint32 // ordinal into Index.packs
	frame uint32
	meta  uint64
}

// A place is where a chunk is stored, in the index's own terms: an entry without its
// id, its pack by ordinal (Index.packID names it) and its frame, offset and length
// packed as in an entry. It takes 16 bytes where a Location takes 48, for callers that
// hold the places of many chunks at once.
type place struct {
	pack, frame uint32
	meta        uint64
}

func (p place) frameLen() uint32 { l, _, _ := unpackMeta(p.meta); return l }

func (p place) offset() uint32 { _, o, _ := unpackMeta(p.meta); return o }

// span is the chunk's offset in its frame's raw bytes and its length.
func (p place) span() (offset, raw uint32) { _, o, r := unpackMeta(p.meta); return o, r }

func (e *entry[K]) place() place { return place{e.pack, e.frame, e.meta} }

// store is the index's entries, of one key width. Its callers hold the index's lock.
type store interface {
	find(id chunk.ID) (place, bool)
	// findMany finds ids into out (as long as ids) and returns how many it found
	// before the first it did not.
	findMany(ids []chunk.ID, out []place) int
	// add records the chunks of one pack; a chunk already indexed keeps its first
	// place, and a place in another pack becomes a further place.
	add(ord uint32, refs []BlobRef)
	// merge folds the recent additions into the sorted table.
	merge()
	// appendUnsorted appends n entries of one pack to the table, unsorted (loading
	// index files); sortLoaded sorts them once all are in.
	appendUnsorted(ord uint32, n int, ref func(i int) BlobRef)
	sortLoaded()
	each(fn func(id chunk.ID, p place))
	eachDuplicate(fn func(id chunk.ID, p place))
	len() int
	memoryBytes() int64
}

// entries is a store of keys of type K: a sorted table, the recent additions (sorted,
// merged into the table in batches) and the further places of chunks stored more
// than once (a prune cut off after copying chunks leaves them in two packs; lookups
// use the first place, prune and repair see every place).
type entries[K key] struct {
	sorted *table[K]
	dir    directory
	added  []entry[K]
	dups   []entry[K]
}

func newEntries[K key](owner *Index) *entries[K] {
	return &entries[K]{sorted: newTable[K](owner)}
}

func entryOf[K key](ord uint32, r *BlobRef) entry[K] {
	k, _ := keyOf[K](&r.ID)
	return entry[K]{k: k, pack: ord, frame: r.Frame, meta: packMeta(r.FrameLen, r.Offset, r.Raw)}
}

func (s *entries[K]) find(id chunk.ID) (place, bool) {
	k, ok := keyOf[K](&id)
	if !ok {
		return place{}, false
	}
	if e, ok := s.findKey(&k); ok {
		return e.place(), true
	}
	return place{}, false
}

// lookupLanes is how many ids findMany looks up side by side.
const lookupLanes = 8

// findMany looks ids up lookupLanes at a time: first the place each id's range in the
// directory suggests, for all of them (loads that do not wait for each other, so
// their misses of the cache overlap), then each search from there.
func (s *entries[K]) findMany(ids []chunk.ID, out []place) int {
	e := s.sorted.e
	for base := 0; base < len(ids); base += lookupLanes {
		lane := ids[base:min(len(ids), base+lookupLanes)]
		var keys [lookupLanes]K
		var guess [lookupLanes]int // -1: not in the table; -2: not a key of this width
		var first uint64
		for k := range lane {
			key, ok := keyOf[K](&lane[k])
			if !ok {
				guess[k] = -2
				continue
			}
			keys[k] = key
			if guess[k] = guessPlace(&s.dir, e, &keys[k]); guess[k] >= 0 {
				first += prefix(&e[guess[k]].k) // brings the guessed entry in
			}
		}
		_ = first // summed only so that the loads are made, all before any walk (twice as fast as a first comparison per id here)
		for k := range lane {
			var at *entry[K]
			if guess[k] != -2 {
				at = s.findGuessed(&keys[k], guess[k])
			}
			if at == nil {
				return base + k
			}
			out[base+k] = at.place()
		}
	}
	return len(ids)
}

// findGuessed is findKey for a key whose place in the table was guessed (-1: it is not
// in the table).
func (s *entries[K]) findGuessed(k *K, g int) *entry[K] {
	if g >= 0 {
		if i, ok := walkFrom(s.sorted.e, k, g); ok {
			return &s.sorted.e[i]
		}
	}
	if i, ok := searchSorted(s.added, k); ok {
		return &s.added[i]
	}
	return nil
}

func (s *entries[K]) findKey(k *K) (*entry[K], bool) {
	if i, ok := searchDirectory(&s.dir, s.sorted.e, k); ok {
		return &s.sorted.e[i], true
	}
	if i, ok := searchSorted(s.added, k); ok {
		return &s.added[i], true
	}
	return nil, false
}

// searchSorted finds k in s (sorted by key). Chunk ids are keyed hashes, spread
// evenly over the id space, so an interpolation search finds the neighbourhood of an
// id in a few probes (each one a cache miss in a table of hundreds of thousands of
// entries) where a binary search takes about 18; a few steps of it narrow the range,
// and a binary search finishes, so ids that are not spread evenly cost no more than
// a binary search.
func searchSorted[K key](s []entry[K], k *K) (int, bool) {
	return searchRange(s, k, -1, len(s), 0, 0x1p64)
}

// searchRange is searchSorted where k can only lie in (lo, hi), whose entries' prefixes
// lie in [kl, kh).
func searchRange[K key](s []entry[K], k *K, lo, hi int, kl, kh float64) (int, bool) {
	want := float64(prefix(k))
	for step := 0; hi-lo > 16 && step < 6; step++ {
		p := lo + 1 + int((want-kl)/(kh-kl)*float64(hi-lo-1))
		p = min(max(p, lo+1), hi-1) // also when the bounds' prefixes are equal (NaN)
		c := cmpKey(&s[p].k, k)
		if c == 0 {
			return p, true
		}
		got := float64(prefix(&s[p].k))
		if c < 0 {
			lo, kl = p, got
		} else {
			hi, kh = p, got
		}
	}
	// Binary search in (lo, hi).
	a, b := lo+1, hi
	for a < b {
		m := int(uint(a+b) >> 1)
		if cmpKey(&s[m].k, k) < 0 {
			a = m + 1
		} else {
			b = m
		}
	}
	return a, a < len(s) && s[a].k == *k
}

func (s *entries[K]) add(ord uint32, refs []BlobRef) {
	batch := make([]entry[K], 0, len(refs))
	for i := range refs {
		e := entryOf[K](ord, &refs[i])
		if old, ok := s.findKey(&e.k); ok {
			if old.pack != ord {
				s.dups = append(s.dups, e)
			}
			continue
		}
		batch = append(batch, e)
	}
	slices.SortFunc(batch, func(a, b entry[K]) int { return cmpKey(&a.k, &b.k) })
	batch = slices.CompactFunc(batch, func(a, b entry[K]) bool { return a.k == b.k })
	s.added = mergeRuns(s.added, batch)
	if len(s.added) >= max(1<<14, len(s.sorted.e)/8) {
		s.merge()
	}
}

func (s *entries[K]) merge() {
	s.sorted.merge(s.added)
	s.added = nil
	buildDirectory(&s.dir, s.sorted.e)
}

// mergeRuns merges add into s, both sorted by key with no key in both.
func mergeRuns[K key](s, add []entry[K]) []entry[K] {
	if len(add) == 0 {
		return s
	}
	t := table[K]{e: s}
	t.merge(add)
	return t.e
}

func (s *entries[K]) appendUnsorted(ord uint32, n int, ref func(i int) BlobRef) {
	t := s.sorted
	have := len(t.e)
	t.grow(have + n)
	e := t.e[:have+n]
	for i := range n {
		r := ref(i)
		e[have+i] = entryOf[K](ord, &r)
	}
	t.e = e
}

// sortLoaded sorts the loaded entries in place (index_sort.go). A chunk listed for
// more than one pack keeps the place of the pack that sorts first; the others become
// its further places.
func (s *entries[K]) sortLoaded() {
	e := s.sorted.e
	sortEntries(e)
	out := e[:0]
	for i := 0; i < len(e); i++ {
		if len(out) > 0 && out[len(out)-1].k == e[i].k {
			if e[i].pack != e[i-1].pack {
				s.dups = append(s.dups, e[i])
			}
			continue
		}
		out = append(out, e[i])
	}
	s.sorted.e = out
	s.sorted.trim()
	buildDirectory(&s.dir, s.sorted.e)
}

func (s *entries[K]) each(fn func(id chunk.ID, p place)) {
	for _, list := range [][]entry[K]{s.sorted.e, s.added} {
		for i := range list {
			fn(list[i].k.id(), list[i].place())
		}
	}
}

func (s *entries[K]) eachDuplicate(fn func(id chunk.ID, p place)) {
	for i := range s.dups {
		fn(s.dups[i].k.id(), s.dups[i].place())
	}
}

func (s *entries[K]) len() int { return len(s.sorted.e) + len(s.added) }

func (s *entries[K]) memoryBytes() int64 {
	return s.sorted.residentBytes() + int64(cap(s.added)*s.sorted.entrySize()) + s.dir.memoryBytes()
}
