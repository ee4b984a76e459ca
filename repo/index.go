package repo

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"sync"

	"cairn/chunk"
)

// entry is one chunk's location in memory: 48 bytes, the whole per-chunk cost of the
// index once merged. meta packs the frame length, the offset in the frame and the
// chunk length (packMeta).
type entry struct {
	id    chunk.ID
	pack  uint32 // ordinal into Index.packs
	frame uint32
	meta  uint64
}

// An entry's meta holds one of two forms. A chunk at the start of its frame (every
// chunk of a frame of its own, and the first of a shared one) has its top bit set and
// the frame length and chunk length in 24 bits each. A chunk further into a shared
// frame has the frame length in 22 bits, the offset in 20 and the chunk length in 21:
// shared frames hold chunks shorter than the frame target (1 MiB at most) that start
// before it, so they decode to under 2 MiB and are stored in under 4 MiB.
const (
	metaFirst      = 1 << 63
	metaFirstBits  = 24
	metaFrameBits  = 22
	metaOffsetBits = 20
	metaRawBits    = 21
)

// refFits reports whether the in-memory index can hold a chunk's location: every
// entry read from storage is checked with it, and cairn writes no other.
func refFits(frameLen, offset, raw uint32) bool {
	if offset == 0 {
		return frameLen < 1<<metaFirstBits && raw < 1<<metaFirstBits
	}
	return frameLen < 1<<metaFrameBits && offset < 1<<metaOffsetBits && raw < 1<<metaRawBits
}

// packMeta packs a location that refFits.
func packMeta(frameLen, offset, raw uint32) uint64 {
	if offset == 0 {
		return metaFirst | uint64(frameLen) | uint64(raw)<<metaFirstBits
	}
	return uint64(frameLen) | uint64(offset)<<metaFrameBits | uint64(raw)<<(metaFrameBits+metaOffsetBits)
}

// unpackMeta is packMeta undone: frame length, offset in the frame, chunk length.
func unpackMeta(m uint64) (frameLen, offset, raw uint32) {
	if m&metaFirst != 0 {
		return uint32(m & (1<<metaFirstBits - 1)), 0, uint32(m >> metaFirstBits & (1<<metaFirstBits - 1))
	}
	return uint32(m & (1<<metaFrameBits - 1)), uint32(m >> metaFrameBits & (1<<metaOffsetBits - 1)), uint32(m >> (metaFrameBits + metaOffsetBits) & (1<<metaRawBits - 1))
}

func (x *Index) entryOf(ord uint32, r BlobRef) entry {
	return entry{id: r.ID, pack: ord, frame: r.Frame, meta: packMeta(r.FrameLen, r.Offset, r.Raw)}
}

func (x *Index) location(e entry) Location {
	frameLen, offset, raw := unpackMeta(e.meta)
	return Location{Pack: x.packs[e.pack], Frame: e.frame, FrameLen: frameLen, Offset: offset, Raw: raw}
}

// Location is where a chunk is stored.
type Location struct {
	Pack     ObjectID
	Frame    uint32 // offset of the frame in the pack
	FrameLen uint32 // stored length of the frame
	Offset   uint32 // offset of the chunk in the frame's raw bytes
	Raw      uint32 // length of the chunk
}

// Ref returns the pack-table form of a location.
func (l Location) Ref(id chunk.ID) BlobRef {
	return BlobRef{ID: id, Frame: l.Frame, FrameLen: l.FrameLen, Offset: l.Offset, Raw: l.Raw}
}

// Index maps chunk ids to their place in packs. It is safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	packs   []ObjectID
	packOrd map[ObjectID]uint32
	sorted  *table  // sorted by id
	added   []entry // recent additions, sorted by id; merged into sorted in batches
	// dups are further places of chunks stored more than once (a prune cut off after
	// copying chunks leaves them in two packs). Lookups use the first place; prune
	// and repair see every place.
	dups []entry
}

func newIndex() *Index {
	x := &Index{packOrd: map[ObjectID]uint32{}}
	x.sorted = newTable(x)
	return x
}

// HasPack reports whether any indexed chunk lives in pack p.
func (x *Index) HasPack(p ObjectID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.packOrd[p]
	return ok
}

func (x *Index) packOrdinal(p ObjectID) uint32 {
	if o, ok := x.packOrd[p]; ok {
		return o
	}
	o := uint32(len(x.packs))
	x.packs = append(x.packs, p)
	x.packOrd[p] = o
	return o
}

func (x *Index) find(id chunk.ID) (entry, bool) {
	if i, ok := searchSorted(x.sorted.e, &id); ok {
		return x.sorted.e[i], true
	}
	if i, ok := searchSorted(x.added, &id); ok {
		return x.added[i], true
	}
	return entry{}, false
}

// cmpID orders chunk ids as bytes.Compare would, comparing the first 8 bytes as one
// number first.
func cmpID(a, b *chunk.ID) int {
	x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[8:], b[8:])
}

// searchSorted finds id in s (sorted by id). Chunk ids are keyed hashes, spread
// evenly over the id space, so an interpolation search finds the neighbourhood of an
// id in a few probes (each one a cache miss in a table of hundreds of thousands of
// entries) where a binary search takes about 18; a few steps of it narrow the range,
// and a binary search finishes, so ids that are not spread evenly cost no more than
// a binary search.
func searchSorted(s []entry, id *chunk.ID) (int, bool) {
	lo, hi := -1, len(s) // s[lo] < id < s[hi], as far as probed
	kl, kh := 0.0, 0x1p64
	key := float64(binary.BigEndian.Uint64(id[:8]))
	for step := 0; hi-lo > 16 && step < 6; step++ {
		p := lo + 1 + int((key-kl)/(kh-kl)*float64(hi-lo-1))
		p = min(max(p, lo+1), hi-1) // also when the bounds' prefixes are equal (NaN)
		c := cmpID(&s[p].id, id)
		if c == 0 {
			return p, true
		}
		k := float64(binary.BigEndian.Uint64(s[p].id[:8]))
		if c < 0 {
			lo, kl = p, k
		} else {
			hi, kh = p, k
		}
	}
	// Binary search in (lo, hi).
	a, b := lo+1, hi
	for a < b {
		m := int(uint(a+b) >> 1)
		if cmpID(&s[m].id, id) < 0 {
			a = m + 1
		} else {
			b = m
		}
	}
	return a, a < len(s) && s[a].id == *id
}

// Has reports whether the chunk is indexed.
func (x *Index) Has(id chunk.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.find(id)
	return ok
}

// Lookup returns where a chunk is stored.
func (x *Index) Lookup(id chunk.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.find(id)
	if !ok {
		return Location{}, false
	}
	return x.location(e), true
}

// add records the chunks of one pack. A chunk already indexed keeps its first place.
func (x *Index) add(pack ObjectID, refs []BlobRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ord := x.packOrdinal(pack)
	batch := make([]entry, 0, len(refs))
	for _, r := range refs {
		if e, ok := x.find(r.ID); ok {
			if e.pack != ord {
				x.dups = append(x.dups, x.entryOf(ord, r))
			}
			continue
		}
		batch = append(batch, x.entryOf(ord, r))
	}
	slices.SortFunc(batch, func(a, b entry) int { return cmpID(&a.id, &b.id) })
	batch = slices.CompactFunc(batch, func(a, b entry) bool { return a.id == b.id })
	x.added = mergeRuns(x.added, batch)
	if len(x.added) >= max(1<<14, len(x.sorted.e)/8) {
		x.mergeLocked()
	}
}

// merge folds the recent additions into the sorted table.
func (x *Index) merge() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.mergeLocked()
}

// mergeLocked folds the recent additions into the sorted table.
func (x *Index) mergeLocked() {
	x.sorted.merge(x.added)
	x.added = nil
}

// mergeRuns merges add into s, both sorted by id with no id in both.
func mergeRuns(s, add []entry) []entry {
	if len(add) == 0 {
		return s
	}
	t := table{e: s}
	t.merge(add)
	return t.e
}

// bulk loads the entries of index files straight into the index's table, unsorted,
// and sorts them there once all are in.
type bulk struct {
	mu sync.Mutex
	x  *Index
}

// addStored appends the chunks of one pack from an index file's stored entries.
func (b *bulk) addStored(pack ObjectID, entries []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	x := b.x
	ord := x.packOrdinal(pack)
	n, k := len(x.sorted.e), len(entries)/packEntrySize
	x.sorted.grow(n + k)
	e := x.sorted.e[:n+k]
	for i := range k {
		e[n+i] = x.entryOf(ord, readRef(entries[i*packEntrySize:]))
	}
	x.sorted.e = e
}

// finish sorts the loaded entries in place. A chunk listed for more than one pack
// keeps the place of the pack met first; the others become its further places. Ids
// are spread evenly, so the entries are first put in buckets by their leading bits
// (an in-place radix pass: each entry is moved once, into its bucket) and each bucket
// of a few entries is then sorted.
func (b *bulk) finish() {
	x := b.x
	e := x.sorted.e
	bits := 1
	for 1<<(bits+2) < len(e) && bits < 20 {
		bits++
	}
	shift := 64 - bits
	bucket := func(v *entry) uint64 { return binary.BigEndian.Uint64(v.id[:8]) >> shift }
	start := make([]int32, 1<<bits+1)
	for i := range e {
		start[bucket(&e[i])+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	next := slices.Clone(start[:len(start)-1])
	for k := range next {
		for next[k] < start[k+1] {
			// Carry the entry at the bucket's next free place to where it belongs,
			// and the one found there onwards, until one belongs here.
			v := e[next[k]]
			for d := bucket(&v); d != uint64(k); d = bucket(&v) {
				e[next[d]], v = v, e[next[d]]
				next[d]++
			}
			e[next[k]] = v
			next[k]++
		}
	}
	next = nil
	byIDThenPack := func(a, b entry) int {
		if c := cmpID(&a.id, &b.id); c != 0 {
			return c
		}
		return cmp.Compare(a.pack, b.pack)
	}
	for k := 0; k+1 < len(start); k++ {
		if bucket := e[start[k]:start[k+1]]; len(bucket) > 1 {
			slices.SortFunc(bucket, byIDThenPack)
		}
	}
	out := e[:0]
	for i := 0; i < len(e); i++ {
		if len(out) > 0 && out[len(out)-1].id == e[i].id {
			if e[i].pack != e[i-1].pack {
				x.dups = append(x.dups, e[i])
			}
			continue
		}
		out = append(out, e[i])
	}
	x.sorted.e = out
	x.sorted.trim()
}

// Len returns the number of indexed chunks.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.sorted.e) + len(x.added)
}

// MemoryBytes is the memory the merged index takes per chunk, times chunks.
func (x *Index) MemoryBytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.sorted.residentBytes() + int64(cap(x.added))*entrySize + int64(len(x.packs))*(32+8)
}

// Each calls fn for every indexed chunk, grouped by nothing in particular.
func (x *Index) Each(fn func(id chunk.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, list := range [][]entry{x.sorted.e, x.added} {
		for _, e := range list {
			fn(e.id, x.location(e))
		}
	}
}

// EachDuplicate calls fn for every further place of a chunk stored more than once.
func (x *Index) EachDuplicate(fn func(id chunk.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.dups {
		fn(e.id, x.location(e))
	}
}

// A place is where a chunk is stored, in the index's own terms: its pack by ordinal
// (packID names it) and its frame, offset and length packed as in an entry. It takes
// 16 bytes where a Location takes 48, for callers that hold the places of many
// chunks at once.
type place struct {
	pack  uint32
	frame uint32
	meta  uint64
}

func (p place) frameLen() uint32 { l, _, _ := unpackMeta(p.meta); return l }

func (p place) offset() uint32 { _, o, _ := unpackMeta(p.meta); return o }

// span is the chunk's offset in its frame's raw bytes and its length.
func (p place) span() (offset, raw uint32) { _, o, r := unpackMeta(p.meta); return o, r }

// lookupMany looks ids up, under one read lock, into out (as long as ids), and
// returns how many it found before the first it did not. It searches the sorted table
// for lookupLanes ids at once, a step of each search in turn: their probes are cache
// misses the processor then waits for side by side, not one after the other.
func (x *Index) lookupMany(ids []chunk.ID, out []place) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.sorted.e
	for base := 0; base < len(ids); base += lookupLanes {
		lane := ids[base:min(len(ids), base+lookupLanes)]
		var at [lookupLanes]int
		searchMany(s, lane, at[:len(lane)])
		for k := range lane {
			e, ok := entry{}, false
			if i := at[k]; i >= 0 {
				e, ok = s[i], true
			} else if i, found := searchSorted(x.added, &lane[k]); found {
				e, ok = x.added[i], true
			}
			if !ok {
				return base + k
			}
			out[base+k] = place{pack: e.pack, frame: e.frame, meta: e.meta}
		}
	}
	return len(ids)
}

// lookupLanes is how many searches lookupMany runs side by side.
const lookupLanes = 8

// searchMany sets at[k] to the index of ids[k] in s (sorted by id), or to -1, a step
// of each id's search in turn. Ids are spread evenly, so the place of an id is about
// its prefix times len(s) / 2^64: each step probes where the last probe's prefix and
// that density put the id, inside the bounds found so far. The first probe lands a few
// hundred entries off in a large table, the second a few dozen, the third in the same
// page, where searchSorted's interpolation between far bounds probes across the table
// several times first (a block of shuffled ids is looked up in half the time). After
// six steps a binary search finishes, so ids that are not spread evenly cost little
// more than one.
func searchMany(s []entry, ids []chunk.ID, at []int) {
	type search struct{ lo, hi, p int }
	var st [lookupLanes]search
	scale := float64(len(s)) / 0x1p64
	for k := range ids {
		p := int(float64(binary.BigEndian.Uint64(ids[k][:8])) * scale)
		st[k] = search{lo: -1, hi: len(s), p: min(max(p, 0), len(s)-1)}
		at[k] = -1
	}
	for step := 0; step < 6; step++ {
		for k := range ids {
			q := &st[k]
			if q.hi-q.lo <= 4 || at[k] >= 0 {
				continue
			}
			c := cmpID(&s[q.p].id, &ids[k])
			if c == 0 {
				at[k] = q.p
				continue
			}
			off := (float64(binary.BigEndian.Uint64(ids[k][:8])) - float64(binary.BigEndian.Uint64(s[q.p].id[:8]))) * scale
			if c < 0 {
				q.lo = q.p
				q.p += max(int(off), 1)
			} else {
				q.hi = q.p
				q.p += min(int(off), -1)
			}
			q.p = min(max(q.p, q.lo+1), q.hi-1)
		}
	}
	for k := range ids {
		if at[k] >= 0 {
			continue
		}
		a, b := st[k].lo+1, st[k].hi
		for a < b {
			m := int(uint(a+b) >> 1)
			if cmpID(&s[m].id, &ids[k]) < 0 {
				a = m + 1
			} else {
				b = m
			}
		}
		if a < len(s) && s[a].id == ids[k] {
			at[k] = a
		}
	}
}

// packID is the pack of ordinal ord in places.
func (x *Index) packID(ord uint32) ObjectID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.packs[ord]
}
