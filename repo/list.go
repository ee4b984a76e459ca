package repo

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"cairn/chunk"
)

// A collection's chunk list is stored as a chunk of its own (a list chunk), so it is
// deduplicated, packed and verified like data. A list chunk is either full or a delta
// against an earlier list chunk, which keeps the metadata of an incremental backup
// proportional to what changed instead of to the size of the database:
//
//	full:  'F' | depth u8 (0) | count u32 | ids
//	delta: 'D' | depth u8     | base list id | edit count u32 |
//	       edits: position u32 | deleted u32 | inserted u32 | inserted ids
//
// Ids take their stored width: 32 bytes in format 1, 16 in format 2.
//
// Positions count in the base list, ascending. depth is the length of the chain of
// deltas down to a full list; a delta deeper than MaxListDepth is written full instead.
const (
	listFull       = 'F'
	listDelta      = 'D'
	listFullHeader = 6 // 'F', depth, count u32
	MaxListDepth   = 16
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

func encodeFullList(ids []chunk.ID, w int) []byte {
	b := make([]byte, 0, listFullHeader+w*len(ids))
	b = append(b, listFull, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ids)))
	for _, id := range ids {
		b = appendID(b, id, w)
	}
	return b
}

func encodeDeltaList(base chunk.ID, depth int, edits []listEdit, w int) []byte {
	b := []byte{listDelta, byte(depth)}
	b = appendID(b, base, w)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(edits)))
	for _, e := range edits {
		b = binary.LittleEndian.AppendUint32(b, uint32(e.pos))
		b = binary.LittleEndian.AppendUint32(b, uint32(e.del))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.ins)))
		for _, id := range e.ins {
			b = appendID(b, id, w)
		}
	}
	return b
}

// SaveList stores a collection's chunk list, as a delta against base when base is
// given, shallow enough, and the delta is smaller than a full list.
func (r *Repository) SaveList(ctx context.Context, ids []chunk.ID, base *List) (List, error) {
	w := r.idSize()
	if r.narrowIDs() {
		if i := slices.IndexFunc(ids, func(id chunk.ID) bool { return !id.IsNarrow() }); i >= 0 {
			return List{}, fmt.Errorf("save chunk list: chunk id %s is wider than this repository's 128 bits", ids[i])
		}
	}
	data := encodeFullList(ids, w)
	depth := 0
	if base != nil && base.Depth < MaxListDepth {
		if delta := encodeDeltaList(base.ID, base.Depth+1, diffLists(base.Chunks, ids), w); len(delta) < len(data)/2 {
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

// ForgetLists lets the resolved lists the handle keeps go (up to 8 MiB of ids), for a
// caller done with lists that goes on to other work, as check does before reading
// packs.
func (r *Repository) ForgetLists() { r.lists.drop() }

// LoadList resolves a list chunk to its chunk ids. visit, if not nil, is called with
// every list chunk of the chain (the list itself and its bases).
func (r *Repository) LoadList(ctx context.Context, id chunk.ID, visit func(chunk.ID)) (List, error) {
	if r.narrowIDs() && !id.IsNarrow() {
		// Not an id this repository names anything by (a manifest says so).
		return List{}, fmt.Errorf("chunk list %s: %w", id, listDamaged("id wider than 128 bits"))
	}
	if visit != nil {
		visit(id)
	}
	if l, ok := r.lists.get(id); ok && visit == nil {
		return l, nil
	}
	data, err := r.listBytes(ctx, id)
	if err != nil {
		return List{}, err
	}
	if len(data) < 6 {
		return List{}, fmt.Errorf("chunk list %s: %w", id.Short(), listDamaged("too short"))
	}
	l := List{ID: id, Depth: int(data[1])}
	w := r.idSize()
	switch data[0] {
	case listFull:
		l.Chunks, err = decodeFullList(data, w)
	case listDelta:
		if len(data) < 2+w+4 || l.Depth == 0 || l.Depth > MaxListDepth {
			err = listDamaged("malformed delta")
			break
		}
		var base List
		if base, err = r.LoadList(ctx, readID(data[2:], w), visit); err != nil {
			return List{}, err // names the base
		}
		if base.Depth != l.Depth-1 {
			err = listDamaged("delta depth does not follow its base")
			break
		}
		l.Chunks, err = applyDelta(base.Chunks, data[2+w:], w)
	default:
		err = listDamaged("unknown list kind")
	}
	if err != nil {
		return List{}, fmt.Errorf("chunk list %s: %w", id.Short(), err)
	}
	r.lists.put(l)
	return l, nil
}

// listBytes returns a list chunk's bytes: prefetched, kept by the list store, or
// loaded from its pack (and then kept by the list store).
func (r *Repository) listBytes(ctx context.Context, id chunk.ID) ([]byte, error) {
	if data, ok := r.lists.takeRaw(id); ok { // checked when it was taken in
		return data, nil
	}
	if data, ok := r.cachedList(id); ok {
		return data, nil
	}
	data, err := r.LoadChunk(ctx, id, nil)
	if err != nil {
		return nil, fmt.Errorf("chunk list %s: %w", id.Short(), err)
	}
	if r.listStore != nil {
		r.listStore.Put(id, data)
	}
	return data, nil
}

func listDamaged(what string) error { return fmt.Errorf("%s: %w", what, ErrDamaged) }

// decodeFullList reads the ids (w bytes each) of a full list chunk of at least 6 bytes.
func decodeFullList(data []byte, w int) ([]chunk.ID, error) {
	n := int(binary.LittleEndian.Uint32(data[2:]))
	if (len(data)-6)/w != n || (len(data)-6)%w != 0 {
		return nil, listDamaged("length does not match its count")
	}
	ids := make([]chunk.ID, n)
	for i := range ids {
		ids[i] = readID(data[6+w*i:], w)
	}
	return ids, nil
}

// applyDelta applies the edits of a delta list chunk (b: from its edit count on) to
// its base's ids; inserted ids are w bytes each.
func applyDelta(base []chunk.ID, b []byte, w int) ([]chunk.ID, error) {
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	out := make([]chunk.ID, 0, len(base)+len(b)/w) // room for every insert: no regrowth
	at := 0
	for range n {
		if len(b) < 12 {
			return nil, listDamaged("truncated edit")
		}
		pos, del, ins := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:])), int(binary.LittleEndian.Uint32(b[8:]))
		b = b[12:]
		if pos < at || pos+del > len(base) || ins > len(b)/w {
			return nil, listDamaged("edit outside its base")
		}
		out = append(out, base[at:pos]...)
		for k := range ins {
			out = append(out, readID(b[w*k:], w))
		}
		b = b[w*ins:]
		at = pos + del
	}
	if len(b) != 0 {
		return nil, listDamaged("trailing bytes")
	}
	return append(out, base[at:]...), nil
}
