package repo

import (
	"sync"

	"cairn/chunk"
)

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

func (x *Index) location(p place) Location {
	frameLen, offset, raw := unpackMeta(p.meta)
	return Location{Pack: x.packs[p.pack], Frame: p.frame, FrameLen: frameLen, Offset: offset, Raw: raw}
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
	s       store // entries[narrowKey] in a format 2 repository, entries[wideKey] in format 1
}

// newIndex returns an empty index for 128-bit ids (narrow) or 256-bit ones.
func newIndex(narrow bool) *Index {
	x := &Index{packOrd: map[ObjectID]uint32{}}
	if narrow {
		x.s = newEntries[narrowKey](x)
	} else {
		x.s = newEntries[wideKey](x)
	}
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

// Has reports whether the chunk is indexed.
func (x *Index) Has(id chunk.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.s.find(id)
	return ok
}

// Lookup returns where a chunk is stored.
func (x *Index) Lookup(id chunk.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	p, ok := x.s.find(id)
	if !ok {
		return Location{}, false
	}
	return x.location(p), true
}

// lookupMany looks ids up, under one read lock, into out (as long as ids), and
// returns how many it found before the first it did not.
func (x *Index) lookupMany(ids []chunk.ID, out []place) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.s.findMany(ids, out)
}

// packID is the pack of ordinal ord in places.
func (x *Index) packID(ord uint32) ObjectID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.packs[ord]
}

// add records the chunks of one pack. A chunk already indexed keeps its first place.
func (x *Index) add(pack ObjectID, refs []BlobRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.s.add(x.packOrdinal(pack), refs)
}

// merge folds the recent additions into the sorted table.
func (x *Index) merge() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.s.merge()
}

// bulk loads the entries of index files straight into the index's table, unsorted,
// and sorts them there once all are in.
type bulk struct {
	mu sync.Mutex
	x  *Index
}

// addStored appends the chunks of one pack from a format 1 index file's stored entries.
func (b *bulk) addStored(pack ObjectID, stored []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.x.s.appendUnsorted(b.x.packOrdinal(pack), len(stored)/packEntrySize, func(i int) BlobRef { return readRef(stored[i*packEntrySize:]) })
}

// addRefs appends the chunks of one pack from a format 2 index file.
func (b *bulk) addRefs(pack ObjectID, refs []BlobRef) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.x.s.appendUnsorted(b.x.packOrdinal(pack), len(refs), func(i int) BlobRef { return refs[i] })
}

// finish sorts the loaded entries.
func (b *bulk) finish() { b.x.s.sortLoaded() }

// Len returns the number of indexed chunks.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.s.len()
}

// MemoryBytes is the memory the merged index takes per chunk, times chunks.
func (x *Index) MemoryBytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.s.memoryBytes() + int64(len(x.packs))*(32+8)
}

// Each calls fn for every indexed chunk, grouped by nothing in particular.
func (x *Index) Each(fn func(id chunk.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.s.each(func(id chunk.ID, p place) { fn(id, x.location(p)) })
}

// EachDuplicate calls fn for every further place of a chunk stored more than once.
func (x *Index) EachDuplicate(fn func(id chunk.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.s.eachDuplicate(func(id chunk.ID, p place) { fn(id, x.location(p)) })
}
