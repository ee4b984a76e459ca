package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
)

// An index file lists the chunks of some packs:
//
//	pack count u32, then per pack: pack id (32) | chunk count u32 | entries as in the pack
//
// inside an envelope of type index with zstd.
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

func encodeIndex(k *box, f indexFile) []byte {
	size := 4
	packs := make([]ObjectID, 0, len(f))
	for p, refs := range f {
		packs = append(packs, p)
		size += 36 + len(refs)*packEntrySize
	}
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, size), uint32(len(f)))
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
	f := indexFile{}
	err = walkIndex(b, func(p ObjectID, entries []byte) {
		refs := make([]BlobRef, len(entries)/packEntrySize)
		for i := range refs {
			refs[i] = readRef(entries[i*packEntrySize:])
		}
		f[p] = append(f[p], refs...)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
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
			frameLen, offset, raw := binary.LittleEndian.Uint32(e[36:]), binary.LittleEndian.Uint32(e[40:]), binary.LittleEndian.Uint32(e[44:])
			if !refFits(frameLen, offset, raw) {
				return fmt.Errorf("index entry out of range: %w", ErrDamaged)
			}
		}
		fn(p, entries)
	}
	if len(b) != 0 {
		return fmt.Errorf("index has %d trailing bytes: %w", len(b), ErrDamaged)
	}
	return nil
}
