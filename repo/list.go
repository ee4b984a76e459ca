package repo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"cairn/chunk"
)

// A collection's chunk list is stored as a chunk of its own (a list chunk), so it is
// deduplicated, packed and verified like data. A list chunk is either full or a delta
// against an earlier list chunk, which keeps the metadata of an incremental backup
// proportional to what changed instead of to the size of the database:
//
//	full:  'F' | depth u8 (0) | count u32 | ids (32 each)
//	delta: 'D' | depth u8     | base list id (32) | edit count u32 |
//	       edits: position u32 | deleted u32 | inserted u32 | inserted ids
//
// Positions count in the base list, ascending. depth is the length of the chain of
// deltas down to a full list; a delta deeper than MaxListDepth is written full instead.
const (
	listFull     = 'F'
	listDelta    = 'D'
	MaxListDepth = 16
)

// List is a resolved chunk list and what it takes to store it again as a base.
type List struct {
	ID     chunk.ID
	Chunks []chunk.ID
	Depth  int
}

type listEdit struct {
	pos, del int
	ins      []chunk.ID
}

// diffLists finds edits that turn base into next. Ids are mostly unique, so it walks
// both lists and, at each mismatch, jumps to the next id of next that appears later
// in base.
func diffLists(base, next []chunk.ID) []listEdit {
	where := make(map[chunk.ID]int, len(base))
	for i := len(base) - 1; i >= 0; i-- {
		where[base[i]] = i
	}
	var edits []listEdit
	i, j := 0, 0 // next, base
	for i < len(next) || j < len(base) {
		if i < len(next) && j < len(base) && next[i] == base[j] {
			i++
			j++
			continue
		}
		// Find the first k >= i whose id occurs in base at p >= j.
		k, p := i, len(base)
		for ; k < len(next); k++ {
			if q, ok := where[next[k]]; ok && q >= j {
				p = q
				break
			}
		}
		edits = append(edits, listEdit{pos: j, del: p - j, ins: next[i:k]})
		i, j = k, p
	}
	return edits
}

func encodeFullList(ids []chunk.ID) []byte {
	b := make([]byte, 0, 6+32*len(ids))
	b = append(b, listFull, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

func encodeDeltaList(base chunk.ID, depth int, edits []listEdit) []byte {
	b := []byte{listDelta, byte(depth)}
	b = append(b, base[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(edits)))
	for _, e := range edits {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.pos))
		b = binary.LittleEndian.AppendUint32(b, uint32(e.del))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.ins)))
		for _, id := range e.ins {
			b = append(b, id[:]...)
		}
	}
	return b
}

// SaveList stores a collection's chunk list, as a delta against base when base is
// given, shallow enough, and the delta is smaller than a full list.
func (r *Repository) SaveList(ctx context.Context, ids []chunk.ID, base *List) (List, error) {
	data := encodeFullList(ids)
	depth := 0
	if base != nil && base.Depth < MaxListDepth {
		if delta := encodeDeltaList(base.ID, base.Depth+1, diffLists(base.Chunks, ids)); len(delta) < len(data)/2 {
			data, depth = delta, base.Depth+1
		}
	}
	id := r.ChunkID(data)
	if _, err := r.SaveChunk(ctx, id, data); err != nil {
		return List{}, fmt.Errorf("save chunk list: %w", err)
	}
	if r.listStore != nil {
		r.listStore.Put(id, data)
	}
	return List{ID: id, Chunks: ids, Depth: depth}, nil
}

// listCache keeps recently resolved lists (deltas share their bases) and the raw
// bytes of prefetched list chunks until they are resolved.
type listCache struct {
	mu  sync.Mutex
	m   map[chunk.ID]List
	ids int // chunk ids held in m
	raw map[chunk.ID][]byte
}

func (c *listCache) takeRaw(id chunk.ID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.raw[id]
	delete(c.raw, id)
	return b, ok
}

func (c *listCache) putRaw(id chunk.ID, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw == nil {
		c.raw = map[chunk.ID][]byte{}
	}
	c.raw[id] = b
}

func (c *listCache) has(id chunk.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, raw := c.raw[id]
	_, done := c.m[id]
	return raw || done
}

func (c *listCache) get(id chunk.ID) (List, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	return l, ok
}

func (c *listCache) put(l List) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 64 || c.ids+len(l.Chunks) > listCacheIDs {
		c.m, c.ids = map[chunk.ID]List{}, 0
	}
	c.m[l.ID] = l
	c.ids += len(l.Chunks)
}

// listCacheIDs bounds the resolved lists kept (8 MiB of ids), so that what a backup
// keeps of its parent's lists does not grow with the database.
const listCacheIDs = 1 << 18

// LoadList resolves a list chunk to its chunk ids. visit, if not nil, is called with
// every list chunk of the chain (the list itself and its bases).
func (r *Repository) LoadList(ctx context.Context, id chunk.ID, visit func(chunk.ID)) (List, error) {
	if visit != nil {
		visit(id)
	}
	if l, ok := r.lists.get(id); ok && visit == nil {
		return l, nil
	}
	data, ok := r.lists.takeRaw(id) // checked when it was taken in
	if !ok {
		data, ok = r.cachedList(id)
	}
	if !ok {
		var err error
		if data, err = r.LoadChunk(ctx, id, nil); err != nil {
			return List{}, fmt.Errorf("chunk list %s: %w", id.Short(), err)
		}
		if r.listStore != nil {
			r.listStore.Put(id, data)
		}
	}
	bad := func(what string) error {
		return fmt.Errorf("chunk list %s: %s: %w", id.Short(), what, ErrDamaged)
	}
	if len(data) < 6 {
		return List{}, bad("too short")
	}
	l := List{ID: id, Depth: int(data[1])}
	switch data[0] {
	case listFull:
		n := int(binary.LittleEndian.Uint32(data[2:]))
		if len(data) != 6+32*n {
			return List{}, bad("length does not match its count")
		}
		l.Chunks = make([]chunk.ID, n)
		for i := range l.Chunks {
			copy(l.Chunks[i][:], data[6+32*i:])
		}
	case listDelta:
		if len(data) < 2+32+4 || l.Depth == 0 || l.Depth > MaxListDepth {
			return List{}, bad("malformed delta")
		}
		var baseID chunk.ID
		copy(baseID[:], data[2:])
		base, err := r.LoadList(ctx, baseID, visit)
		if err != nil {
			return List{}, err
		}
		if base.Depth != l.Depth-1 {
			return List{}, bad("delta depth does not follow its base")
		}
		b := data[2+32:]
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		out := make([]chunk.ID, 0, len(base.Chunks)+len(b)/32) // room for every insert: no regrowth
		at := 0
		for range n {
			if len(b) < 12 {
				return List{}, bad("truncated edit")
			}
			pos, del, ins := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:])), int(binary.LittleEndian.Uint32(b[8:]))
			b = b[12:]
			if pos < at || pos+del > len(base.Chunks) || ins > len(b)/32 {
				return List{}, bad("edit outside its base")
			}
			out = append(out, base.Chunks[at:pos]...)
			for k := range ins {
				var c chunk.ID
				copy(c[:], b[32*k:])
				out = append(out, c)
			}
			b = b[32*ins:]
			at = pos + del
		}
		if len(b) != 0 {
			return List{}, bad("trailing bytes")
		}
		l.Chunks = append(out, base.Chunks[at:]...)
	default:
		return List{}, bad("unknown list kind")
	}
	r.lists.put(l)
	return l, nil
}

// PrefetchLists loads list chunks and the bases of their deltas level by level, each
// level in one pass that reads neighbouring frames together: on a high-latency link
// resolving many lists then costs a few round trips, not one per list and base.
// Smallest lists first, up to prefetchBytes in all: the lists of the largest
// collections grow with the database, and they are loaded when used instead (one round
// trip each, small beside their size), so memory does not grow with the whole
// database's lists.
func (r *Repository) PrefetchLists(ctx context.Context, ids []chunk.ID) error {
	seen := map[chunk.ID]bool{}
	level := ids
	budget := prefetchBytes
	for len(level) > 0 && budget > 0 {
		var need, next []chunk.ID
		for _, id := range level {
			if seen[id] || r.lists.has(id) {
				continue
			}
			seen[id] = true
			if data, ok := r.cachedList(id); ok {
				r.lists.putRaw(id, data)
				next = appendBase(next, data)
				continue
			}
			need = append(need, id)
		}
		slices.SortFunc(need, func(a, b chunk.ID) int {
			la, _ := r.idx.Lookup(a)
			lb, _ := r.idx.Lookup(b)
			return cmp.Compare(la.Raw, lb.Raw)
		})
		for i, id := range need {
			l, _ := r.idx.Lookup(id)
			if budget -= int(l.Raw); budget < 0 {
				need = need[:i]
				break
			}
		}
		// In pack and frame order, so that LoadChunks reads runs of frames at once.
		slices.SortFunc(need, func(a, b chunk.ID) int {
			la, _ := r.idx.Lookup(a)
			lb, _ := r.idx.Lookup(b)
			if c := bytes.Compare(la.Pack[:], lb.Pack[:]); c != 0 {
				return c
			}
			return int(la.Frame) - int(lb.Frame)
		})
		err := r.LoadChunks(ctx, need, func(i int, data []byte) error {
			data = bytes.Clone(data)
			r.lists.putRaw(need[i], data)
			if r.listStore != nil {
				r.listStore.Put(need[i], data)
			}
			next = appendBase(next, data)
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch chunk lists: %w", err)
		}
		level = next
	}
	return nil
}

// prefetchBytes bounds the list chunks PrefetchLists holds at once.
var prefetchBytes = 8 << 20 // a variable for tests

// appendBase appends the base of a delta list chunk.
func appendBase(ids []chunk.ID, data []byte) []chunk.ID {
	if len(data) >= 2+32 && data[0] == listDelta {
		var base chunk.ID
		copy(base[:], data[2:])
		ids = append(ids, base)
	}
	return ids
}

// Resolve fills in the chunk ids of every collection of a snapshot.
func (r *Repository) Resolve(ctx context.Context, sn *Snapshot) error {
	var ids []chunk.ID
	for _, c := range sn.Collections {
		if c.Chunks == nil {
			ids = append(ids, c.List)
		}
	}
	if err := r.PrefetchLists(ctx, ids); err != nil && !IsDamage(err) {
		return err // damage shows below, naming its collection
	}
	for i := range sn.Collections {
		c := &sn.Collections[i]
		if c.Chunks != nil {
			continue
		}
		l, err := r.LoadList(ctx, c.List, nil)
		if err != nil {
			return fmt.Errorf("snapshot %s collection %s: %w", sn.ID, c.Name, err)
		}
		if len(l.Chunks) != c.Count {
			return fmt.Errorf("snapshot %s collection %s: list has %d chunks, manifest says %d: %w", sn.ID, c.Name, len(l.Chunks), c.Count, ErrDamaged)
		}
		c.Chunks = l.Chunks
	}
	return nil
}
