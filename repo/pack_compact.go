package repo

import (
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"

	"cairn/chunk"
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

// finishCompact is finish for format 2.
func (p *packWriter) finishCompact(k *box) ([]byte, ObjectID, error) {
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
	b, err := appendCompactRefs(p.buf[:start], sortedRefs(p.entries), chunk.NarrowSize)
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

// parseCompactTable reads a format 2 pack's table (opened, when sealed): refs, any
// zero padding (sealed tables only), their length. framesEnd is where the frames stop
// in a sealed pack; in a plain one the table says.
func parseCompactTable(sealed bool, table []byte, framesEnd int) ([]BlobRef, error) {
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
	refs := c.readCompactRefs(nil, chunk.NarrowSize, uint64(framesEnd))
	if c.err != nil {
		return nil, fmt.Errorf("pack table: %w", c.err)
	}
	if len(c.b) != 0 {
		return nil, fmt.Errorf("pack table has %d trailing bytes: %w", len(c.b), ErrDamaged)
	}
	return refs, nil
}
