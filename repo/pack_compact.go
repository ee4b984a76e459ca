package repo

import (
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// The table of a format 2 pack is its refs in the compact layout (refs_compact.go)
// followed by their length in bytes, u32:
//
//	envelope header | frames | refs | refs length u32
//
// and in an encrypted repository, sealed and padded as in format 1:
//
//	envelope header (version 3) | sealed frames |
//	sealed (refs | zero padding | refs length u32) | sealed length u32
//
// A format 3 pack's table is the same without the ids: every entry is its chunk's
// length (and skip, in a sparse frame) alone. Whoever reads the pack whole names its
// chunks by decoding the frames and hashing the chunks as the writer did
// (pack_names.go); the index files, which carry the ids, stay the authority on where
// a chunk lives.

// formatHashedTables is the first repository format whose pack tables leave the
// chunk ids out.
const formatHashedTables = 3

// tableIDSize is the width of the ids in a pack table of the given format: 0 from
// format 3 on, where they are recovered from the chunks.
func tableIDSize(format int) int {
	if format >= formatHashedTables {
		return 0
	}
	return idSize(format)
}

// maxPackRefs is the most entries a format 3 pack table may list in a repository of
// the given pack size: as many as the 48-byte entries of format 1 that fit in a whole
// pack at its bound (packMax). A writer closes a pack once its entries at 48 bytes
// each reach the pack size, so no pack it writes comes near; an entry takes a byte or
// two of the table, and this bounds what a forged table makes a reader allocate.
func maxPackRefs(packSize int) int { return int(packMax(packSize) / packEntrySize) }

// finishCompact is finish for format 2 and later.
func (p *packWriter) finishCompact(k *box, format int) ([]byte, ObjectID, error) {
	n := len(p.buf)
	bound := compactBound(len(p.entries)) + 4
	need := bound
	if k != nil {
		need = tableBucket(bound) + sealOverhead + 4
		p.buf[len(magic)] = envelopePadded
	}
	// Room for the whole table first: the buffer is a region, and appending past its
	// capacity would leave it.
	p.reserve(n + need)
	start := n
	if k != nil {
		start += chacha20poly1305.NonceSizeX
	}
	b, err := appendCompactRefs(p.buf[:start], sortedRefs(p.entries), tableIDSize(format))
	if err != nil {
		return nil, ObjectID{}, err
	}
	refs := len(b) - start
	if k != nil {
		end := len(b) + tableBucket(refs+4) - refs - 4
		clear(b[len(b):end])
		b = b[:end]
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(refs))
	if k != nil {
		b = k.sealAt(b, n, nil)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(b)-n))
	}
	p.buf = b
	return p.buf, objectID(p.buf), nil
}

// parseCompactTable reads a format 2 or 3 pack's table (opened, when sealed): refs,
// any zero padding (sealed tables only), their length. framesEnd is where the frames
// stop in a sealed pack; in a plain one the table says. The refs of a format 3 table
// have no ids (zero); a format 3 table of more than maxRefs entries is refused.
func parseCompactTable(sealed bool, format int, table []byte, framesEnd, maxRefs int) ([]BlobRef, error) {
	n := int(binary.LittleEndian.Uint32(table[len(table)-4:]))
	if n > len(table)-4 || !sealed && len(table)-4-n < headerSize {
		return nil, fmt.Errorf("pack table of %d bytes does not fit its %d bytes: %w", n, len(table), ErrDamaged)
	}
	start := 0
	if sealed {
		if slices.ContainsFunc(table[n:len(table)-4], func(c byte) bool { return c != 0 }) {
			return nil, fmt.Errorf("pack table padding is not zeros: %w", ErrDamaged)
		}
	} else {
		start = len(table) - 4 - n
		framesEnd = start
	}
	c := compactReader{b: table[start : start+n]}
	w := tableIDSize(format)
	var refs []BlobRef
	if w == 0 {
		// Entries of a byte or two: counted first, so that the refs (48 bytes each)
		// are allocated once, for as many as there are.
		count := compactReader{b: c.b, maxRefs: maxRefs, countOnly: true}
		count.readCompactRefs(nil, w, uint64(framesEnd))
		if count.err != nil {
			return nil, fmt.Errorf("pack table: %w", count.err)
		}
		refs = make([]BlobRef, 0, count.n)
	}
	refs = c.readCompactRefs(refs, w, uint64(framesEnd))
	if c.err != nil {
		return nil, fmt.Errorf("pack table: %w", c.err)
	}
	if len(c.b) != 0 {
		return nil, fmt.Errorf("pack table has %d trailing bytes: %w", len(c.b), ErrDamaged)
	}
	return refs, nil
}
