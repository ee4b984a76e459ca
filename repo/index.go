package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"cairn/chunk"
)

// entry is one chunk's location in memory: 48 bytes, the whole per-chunk cost of the
// index once merged. meta packs the frame length (24 bits), the offset in the frame
// (16 bits: frames take no new chunk past frameTarget) and the chunk length (24 bits).
type entry struct {
	id    chunk.ID
	pack  uint32 // ordinal into Index.packs
	frame uint32
	meta  uint64
}

func (x *Index) entryOf(ord uint32, r BlobRef) entry {
	return entry{id: r.ID, pack: ord, frame: r.Frame, meta: uint64(r.FrameLen) | uint64(r.Offset)<<24 | uint64(r.Raw)<<40}
}

func (x *Index) location(e entry) Location {
	return Location{Pack: x.packs[e.pack], Frame: e.frame, FrameLen: uint32(e.meta & (1<<24 - 1)), Offset: uint32(e.meta >> 24 & 0xffff), Raw: uint32(e.meta >> 40)}
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
	sorted  []entry          // sorted by id
	pending map[chunk.ID]int // recent additions, as positions in added; merged in batches
	added   []entry
	// dups are further places of chunks stored more than once (a prune cut off after
	// copying chunks leaves them in two packs). Lookups use the first place; prune
	// and repair see every place.
	dups []entry
}

func newIndex() *Index {
	return &Index{packOrd: map[ObjectID]uint32{}, pending: map[chunk.ID]int{}}
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
	i, ok := slices.BinarySearchFunc(x.sorted, id, func(e entry, id chunk.ID) int { return bytes.Compare(e.id[:], id[:]) })
	if ok {
		return x.sorted[i], true
	}
	if p, ok := x.pending[id]; ok {
		return x.added[p], true
	}
	return entry{}, false
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
	for _, r := range refs {
		if e, ok := x.find(r.ID); ok {
			if e.pack != ord {
				x.dups = append(x.dups, x.entryOf(ord, r))
			}
			continue
		}
		x.pending[r.ID] = len(x.added)
		x.added = append(x.added, x.entryOf(ord, r))
	}
	if len(x.added) >= max(1<<14, len(x.sorted)/8) {
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
	if len(x.added) == 0 {
		return
	}
	cmp := func(a, b entry) int { return bytes.Compare(a.id[:], b.id[:]) }
	slices.SortFunc(x.added, cmp)
	merged := make([]entry, 0, len(x.sorted)+len(x.added))
	i, j := 0, 0
	for i < len(x.sorted) && j < len(x.added) {
		if cmp(x.sorted[i], x.added[j]) <= 0 {
			merged = append(merged, x.sorted[i])
			i++
		} else {
			merged = append(merged, x.added[j])
			j++
		}
	}
	merged = append(merged, x.sorted[i:]...)
	merged = append(merged, x.added[j:]...)
	x.sorted = merged
	// Drop the batch's memory: a map does not shrink when cleared.
	x.added = nil
	x.pending = map[chunk.ID]int{}
}

// Len returns the number of indexed chunks.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.sorted) + len(x.added)
}

// MemoryBytes is the memory the merged index takes per chunk, times chunks.
func (x *Index) MemoryBytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	const entrySize = 48
	return int64(cap(x.sorted)+cap(x.added))*entrySize + int64(len(x.packs))*(32+8)
}

// Each calls fn for every indexed chunk, grouped by nothing in particular.
func (x *Index) Each(fn func(id chunk.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, list := range [][]entry{x.sorted, x.added} {
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

// An index file lists the chunks of some packs:
//
//	pack count u32, then per pack: pack id (32) | chunk count u32 | entries as in the pack
//
// inside an envelope of type index with zstd.
type indexFile map[ObjectID][]BlobRef

func encodeIndex(k *box, f indexFile) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
	packs := make([]ObjectID, 0, len(f))
	for p := range f {
		packs = append(packs, p)
	}
	slices.SortFunc(packs, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	for _, p := range packs {
		refs := f[p]
		b = append(b, p[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(refs)))
		for _, r := range refs {
			b = appendRef(b, r)
		}
	}
	return sealObject(k, TypeIndex, codecZstd, b)
}

func decodeIndex(k *box, data []byte) (indexFile, error) {
	b, err := openObject(k, data, TypeIndex)
	if err != nil {
		return nil, err
	}
	short := fmt.Errorf("index is truncated: %w", ErrDamaged)
	if len(b) < 4 {
		return nil, short
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	f := make(indexFile, min(n, len(b)/36))
	for range n {
		if len(b) < 36 {
			return nil, short
		}
		var p ObjectID
		copy(p[:], b)
		m := int(binary.LittleEndian.Uint32(b[32:]))
		b = b[36:]
		if m > len(b)/packEntrySize {
			return nil, short
		}
		refs := make([]BlobRef, m)
		for i := range refs {
			refs[i] = readRef(b)
			b = b[packEntrySize:]
			if refs[i].FrameLen >= 1<<24 || refs[i].Offset >= 1<<16 || refs[i].Raw >= 1<<24 {
				return nil, fmt.Errorf("index entry out of range: %w", ErrDamaged)
			}
		}
		f[p] = append(f[p], refs...)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("index has %d trailing bytes: %w", len(b), ErrDamaged)
	}
	return f, nil
}
