package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"cairn/chunk"
)

// An index file lists the chunks of some packs, inside an envelope of type index with
// zstd. In format 1:
//
//	pack count u32, then per pack: pack id (32) | chunk count u32 | entries as in the pack
//
// In format 2 the entries take the compact layout of refs_compact.go (see
// encodeCompactIndex).
type indexFile map[ObjectID][]BlobRef

// splitIndex cuts f into index files of at most limit entries each, so that no file
// grows past what a reader takes (maxIndexBytes). A pack's entries stay in one file
// unless they alone are more than limit.
func splitIndex(f indexFile, limit int) []indexFile {
	packs := make([]ObjectID, 0, len(f))
	for p := range f {
		packs = append(packs, p)
	}
	slices.SortFunc(packs, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	out := []indexFile{{}}
	n := 0
	for _, p := range packs {
		for refs := f[p]; len(refs) > 0; {
			if n > 0 && n+len(refs) > limit {
				out, n = append(out, indexFile{}), 0
			}
			take := min(len(refs), limit)
			out[len(out)-1][p] = refs[:take]
			n += take
			refs = refs[take:]
		}
	}
	return out
}

// encodeIndex writes an index file in the layout of the repository's format.
func encodeIndex(k *box, format int, f indexFile) ([]byte, error) {
	packs := make([]ObjectID, 0, len(f))
	size := 4
	for p, refs := range f {
		packs = append(packs, p)
		size += 36 + len(refs)*packEntrySize
	}
	slices.SortFunc(packs, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	if format >= formatNarrow {
		b, err := encodeCompactIndex(f, packs)
		if err != nil {
			return nil, err
		}
		return sealObject(k, TypeIndex, codecZstd, b), nil
	}
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, size), uint32(len(f)))
	for _, p := range packs {
		refs := f[p]
		b = append(b, p[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(refs)))
		for _, r := range refs {
			b = appendRef(b, r)
		}
	}
	return sealObject(k, TypeIndex, codecZstd, b), nil
}

func decodeIndex(k *box, format int, data []byte) (indexFile, error) {
	b, err := openObject(k, data, TypeIndex)
	if err != nil {
		return nil, err
	}
	f := indexFile{}
	if format >= formatNarrow {
		err = walkCompactIndex(b, func(p ObjectID, refs []BlobRef) {
			f[p] = append(f[p], refs...)
		})
	} else {
		err = walkIndex(b, func(p ObjectID, entries []byte) {
			refs := make([]BlobRef, len(entries)/packEntrySize)
			for i := range refs {
				refs[i] = readRef(entries[i*packEntrySize:])
			}
			f[p] = append(f[p], refs...)
		})
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// encodeCompactIndex is the payload of a format 2 index file:
//
//	pack count uvarint, then per pack: pack id (32) | its refs (refs_compact.go)
func encodeCompactIndex(f indexFile, packs []ObjectID) ([]byte, error) {
	size := binary.MaxVarintLen64
	for _, p := range packs {
		size += 32 + compactBound(len(f[p]))
	}
	b := binary.AppendUvarint(make([]byte, 0, size), uint64(len(packs)))
	for _, p := range packs {
		b = append(b, p[:]...)
		var err error
		if b, err = appendCompactRefs(b, sortedRefs(f[p]), chunk.NarrowSize); err != nil {
			return nil, fmt.Errorf("index of pack %s: %w", p.Short(), err)
		}
	}
	return b, nil
}

// maxIndexRefs bounds the room walkCompactIndex makes at once for one pack's refs.
const maxIndexRefs = 1 << 17

// walkCompactIndex checks a format 2 index file's payload and calls fn with each
// pack's refs (valid until fn returns). Packs are named once each, in ascending order.
func walkCompactIndex(b []byte, fn func(p ObjectID, refs []BlobRef)) error {
	c := compactReader{b: b}
	n := c.uvarint("index pack count", uint64(len(b)/33))
	var last ObjectID
	// Room for every entry the file's bytes can hold (each takes an id and a length at
	// least), so that one pack's refs never grow by copying.
	refs := make([]BlobRef, 0, min(len(b)/(chunk.NarrowSize+1), maxIndexRefs))
	for i := range n {
		if c.err != nil {
			break
		}
		if len(c.b) < 32 {
			return fmt.Errorf("index is truncated: %w", ErrDamaged)
		}
		p := ObjectID(c.b[:32])
		c.b = c.b[32:]
		if i > 0 && bytes.Compare(p[:], last[:]) <= 0 {
			return fmt.Errorf("index names pack %s twice or out of order: %w", p.Short(), ErrDamaged)
		}
		last = p
		refs = c.readCompactRefs(refs[:0], chunk.NarrowSize, math.MaxUint32)
		if c.err == nil {
			fn(p, refs)
		}
	}
	if c.err != nil {
		return fmt.Errorf("index: %w", c.err)
	}
	if len(c.b) != 0 {
		return fmt.Errorf("index has %d trailing bytes: %w", len(c.b), ErrDamaged)
	}
	return nil
}

// walkIndex checks an index file's payload and calls fn with each pack's entries, as
// stored (packEntrySize bytes each, their ranges checked).
func walkIndex(b []byte, fn func(p ObjectID, entries []byte)) error {
	short := fmt.Errorf("index is truncated: %w", ErrDamaged)
	if len(b) < 4 {
		return short
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	for range n {
		if len(b) < 36 {
			return short
		}
		var p ObjectID
		copy(p[:], b)
		m := int(binary.LittleEndian.Uint32(b[32:]))
		b = b[36:]
		if m > len(b)/packEntrySize {
			return short
		}
		entries := b[:m*packEntrySize]
		b = b[m*packEntrySize:]
		for e := entries; len(e) > 0; e = e[packEntrySize:] {
			if err := checkRef(readRef(e)); err != nil {
				return err
			}
		}
		fn(p, entries)
	}
	if len(b) != 0 {
		return fmt.Errorf("index has %d trailing bytes: %w", len(b), ErrDamaged)
	}
	return nil
}

// checkRef refuses a ref the in-memory index cannot hold (refFits, index.go).
func checkRef(r BlobRef) error {
	if !refFits(r.FrameLen, r.Offset, r.Raw) {
		return fmt.Errorf("index entry out of range: %w", ErrDamaged)
	}
	return nil
}
