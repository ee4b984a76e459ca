package repo

import (
	"encoding/binary"
	"fmt"

	"cairn/chunk"
)

// A pack holds many compressed chunks:
//
//	envelope header (type pack, codec none)
//	chunk 1 | chunk 2 | ...          each: codec byte, then the (compressed) bytes
//	entry 1 | entry 2 | ...          each: id (32) | offset u32 | length u32 | raw length u32
//	entry count u32
//
// All integers are little-endian. Offsets count from the start of the pack and
// lengths include the codec byte. The entries let check and repair rebuild the index
// from the packs alone.
const packEntrySize = 32 + 4 + 4 + 4

// BlobRef locates one chunk in a pack.
type BlobRef struct {
	ID     chunk.ID
	Offset uint32
	Length uint32 // stored length, codec byte included
	Raw    uint32 // length of the chunk's raw bytes
}

// packWriter builds one pack in memory.
type packWriter struct {
	buf     []byte
	entries []BlobRef
}

func newPackWriter(size int) *packWriter {
	buf := make([]byte, 0, size+size/8)
	buf = append(buf, magic...)
	buf = append(buf, envelopeVersion, byte(TypePack), codecNone)
	return &packWriter{buf: buf}
}

// add appends a chunk in its stored form (codec byte first).
func (p *packWriter) add(id chunk.ID, stored []byte, raw int) {
	p.entries = append(p.entries, BlobRef{ID: id, Offset: uint32(len(p.buf)), Length: uint32(len(stored)), Raw: uint32(raw)})
	p.buf = append(p.buf, stored...)
}

func (p *packWriter) size() int { return len(p.buf) }

// finish appends the entries and returns the pack bytes and its name.
func (p *packWriter) finish() ([]byte, ObjectID) {
	for _, e := range p.entries {
		p.buf = append(p.buf, e.ID[:]...)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, e.Offset)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, e.Length)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, e.Raw)
	}
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(p.entries)))
	return p.buf, objectID(p.buf)
}

// parsePackEntries reads the entry table at the end of a whole pack.
func parsePackEntries(pack []byte) ([]BlobRef, error) {
	if _, err := checkHeader(pack, TypePack); err != nil {
		return nil, err
	}
	if len(pack) < headerSize+4 {
		return nil, fmt.Errorf("pack of %d bytes is too short: %w", len(pack), ErrDamaged)
	}
	n := int(binary.LittleEndian.Uint32(pack[len(pack)-4:]))
	tableStart := len(pack) - 4 - n*packEntrySize
	if n < 0 || n > len(pack)/packEntrySize || tableStart < headerSize {
		return nil, fmt.Errorf("pack entry count %d does not fit its %d bytes: %w", n, len(pack), ErrDamaged)
	}
	entries := make([]BlobRef, n)
	b := pack[tableStart:]
	for i := range entries {
		e := &entries[i]
		copy(e.ID[:], b[:32])
		e.Offset = binary.LittleEndian.Uint32(b[32:])
		e.Length = binary.LittleEndian.Uint32(b[36:])
		e.Raw = binary.LittleEndian.Uint32(b[40:])
		b = b[packEntrySize:]
		if int(e.Offset) < headerSize || e.Length < 1 || int(e.Offset)+int(e.Length) > tableStart {
			return nil, fmt.Errorf("pack entry %d points outside the pack: %w", i, ErrDamaged)
		}
	}
	return entries, nil
}

// encodeChunk returns the stored form of a chunk: zstd when that is smaller.
func encodeChunk(raw, dst []byte) []byte {
	enc, _ := codecs()
	dst = append(dst[:0], codecZstd)
	dst = enc.EncodeAll(raw, dst)
	if len(dst) >= len(raw)+1 {
		dst = append(dst[:0], codecNone)
		dst = append(dst, raw...)
	}
	return dst
}

// decodeChunk turns a stored chunk back into raw bytes and checks its id.
func decodeChunk(id chunk.ID, stored []byte, raw int, dst []byte) ([]byte, error) {
	if len(stored) < 1 {
		return nil, fmt.Errorf("chunk %s: empty: %w", id.Short(), ErrDamaged)
	}
	var out []byte
	switch stored[0] {
	case codecNone:
		out = append(dst[:0], stored[1:]...)
	case codecZstd:
		_, dec := codecs()
		if cap(dst) < raw {
			dst = make([]byte, 0, raw)
		}
		var err error
		out, err = dec.DecodeAll(stored[1:], dst[:0])
		if err != nil {
			return nil, fmt.Errorf("chunk %s: decompress: %v: %w", id.Short(), err, ErrDamaged)
		}
	default:
		return nil, fmt.Errorf("chunk %s: codec %d: %w", id.Short(), stored[0], ErrDamaged)
	}
	if len(out) != raw {
		return nil, fmt.Errorf("chunk %s: %d bytes, index says %d: %w", id.Short(), len(out), raw, ErrDamaged)
	}
	if chunk.Hash(out) != id {
		return nil, fmt.Errorf("chunk %s: content does not match its id: %w", id.Short(), ErrDamaged)
	}
	return out, nil
}
