package repo

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"

	"cairn/chunk"
	"cairn/repo/internal/region"
)

// A pack holds frames of compressed chunks. In format 1:
//
//	envelope header (type pack, codec none)
//	frame 1 | frame 2 | ...    each: codec byte, then the frame's bytes (zstd or raw)
//	entry 1 | entry 2 | ...    each: id (32) | frame offset u32 | frame length u32 |
//	                           offset in frame u32 | length u32
//	entry count u32
//
// In an encrypted repository every frame is sealed on its own (nonce | ciphertext | tag
// of the codec byte and the frame's bytes), and the entry table with its count is
// sealed as one blob followed by the blob's length (u32), so the storage owner learns
// neither chunk ids nor where chunks start. Since envelope version 3 the table is
// padded with zeros before the count (to tableBucket), so the blob's length no longer
// gives the entry count away; version 2 packs, unpadded, are still read. In format 2
// the entries take the compact layout of refs_compact.go, followed by their length
// (u32) instead of their count (pack_compact.go); in format 3 the same without ids.
//
// A frame is the unit of compression: the raw bytes of consecutive new chunks, up to
// frameTarget, compressed together, so that small chunks (which deduplicate well)
// still compress like large ones. A chunk of frameTarget bytes or more gets a frame of
// its own. All integers are little-endian; frame offsets count from the start of the
// pack and frame lengths include the codec byte. The entry table makes every pack
// self-describing, so the index can be rebuilt from packs alone (from format 3 on, by
// hashing the chunks it locates).
const (
	packEntrySize = 32 + 4 + 4 + 4 + 4
	frameTarget   = 64 << 10
	minTable      = 4 << 10 // the smallest padded table: 85 entries or fewer look alike
)

// tableBucket is the padded length of a sealed pack's table of n bytes (entries and
// count): at least minTable, and above it rounded up as Padmé does (Nikitin et al.,
// "Reducing metadata leakage from encrypted files and communication with PURBs",
// 2019): to a multiple of 2^(e-s), where 2^e <= n < 2^(e+1) and s is the bit length
// of e. That adds 11% at most and leaves O(log log n) bits of n to be read from the
// length: a table of 16,000 entries is known to within 340.
func tableBucket(n int) int {
	if n <= minTable {
		return minTable
	}
	e := bits.Len(uint(n)) - 1
	mask := 1<<(e-bits.Len(uint(e))) - 1
	return (n + mask) &^ mask
}

// BlobRef locates one chunk in a pack.
type BlobRef struct {
	ID       chunk.ID
	Frame    uint32 // offset of the frame in the pack
	FrameLen uint32 // stored length of the frame, codec byte included
	Offset   uint32 // offset of the chunk in the frame's raw bytes
	Raw      uint32 // length of the chunk
}

// packWriter builds one pack in memory: in a region of its own (see package region),
// off the Go heap where the system allows it.
type packWriter struct {
	buf     []byte // cap(buf) is the region's size
	entries []BlobRef
	mem     *region.Region // nil: buf is on the heap
}

func newPackWriter(size int, k *box) *packWriter {
	p := &packWriter{}
	p.mem = region.NewSpared(p) // a transport may still read a pack after its Save
	// Room for the last section past size and for the entry table (48 bytes per chunk
	// of a few hundred stored bytes: up to a sixth of the pack).
	p.reserve(size + size/4)
	p.buf = appendHeader(p.buf, k, TypePack, codecNone)
	return p
}

// reserve makes room for n bytes in all, keeping those written.
func (p *packWriter) reserve(n int) {
	if n <= cap(p.buf) {
		return
	}
	if p.mem == nil {
		p.buf = slices.Grow(p.buf, n-len(p.buf))
		return
	}
	used := len(p.buf)
	p.mem.Grow(n, used)
	p.buf = p.mem.Bytes()[:used]
}

// addSection appends stored frames and their chunks, whose Frame offsets count from
// the start of section.
func (p *packWriter) addSection(section []byte, refs []BlobRef) {
	off := uint32(len(p.buf))
	for _, r := range refs {
		r.Frame += off
		p.entries = append(p.entries, r)
	}
	p.reserve(len(p.buf) + len(section))
	p.buf = append(p.buf, section...)
}

// size is what the pack's fullness is judged by: its bytes so far, or its entry table
// when that is larger (chunks that compress a hundredfold), so that a pack read whole
// stays within packMax.
func (p *packWriter) size() int { return max(len(p.buf), len(p.entries)*packEntrySize) }

// finish appends the entries (padded and sealed when k is not nil) in the layout of
// the repository's format and returns the pack bytes and its name.
// The table is written after the frames and sealed where it lies: the pack's buffer
// grows once at most, and it keeps the larger size for the packs after it.
func (p *packWriter) finish(k *box, format int) ([]byte, ObjectID, error) {
	if format >= formatNarrow {
		return p.finishCompact(k, format)
	}
	n := len(p.buf)
	table := len(p.entries)*packEntrySize + 4
	need := table
	if k != nil {
		need = tableBucket(table) + sealOverhead + 4
		p.buf[len(magic)] = envelopePadded // the header says the table is padded, whoever wrote it
	}
	p.reserve(n + need)
	if k != nil {
		p.buf = p.buf[:n+chacha20poly1305.NonceSizeX]
	}
	for _, e := range p.entries {
		p.buf = appendRef(p.buf, e)
	}
	if k != nil {
		end := len(p.buf) + tableBucket(table) - table
		clear(p.buf[len(p.buf):end])
		p.buf = p.buf[:end]
	}
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(p.entries)))
	if k != nil {
		p.buf = k.sealAt(p.buf, n, nil)
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(p.buf)-n))
	}
	return p.buf, objectID(p.buf), nil
}

func appendRef(b []byte, r BlobRef) []byte {
	b = append(b, r.ID[:]...)
	b = binary.LittleEndian.AppendUint32(b, r.Frame)
	b = binary.LittleEndian.AppendUint32(b, r.FrameLen)
	b = binary.LittleEndian.AppendUint32(b, r.Offset)
	return binary.LittleEndian.AppendUint32(b, r.Raw)
}

func readRef(b []byte) BlobRef {
	var r BlobRef
	copy(r.ID[:], b[:32])
	r.Frame = binary.LittleEndian.Uint32(b[32:])
	r.FrameLen = binary.LittleEndian.Uint32(b[36:])
	r.Offset = binary.LittleEndian.Uint32(b[40:])
	r.Raw = binary.LittleEndian.Uint32(b[44:])
	return r
}

// parsePackEntries reads the entry table at the end of a whole pack of a repository
// of the given format and pack size. The sealed table of a version 3 pack holds zeros
// between its entries and its count (format 1) or its length (format 2 and later).
// The entries of a format 3 table have no ids (zero): nameChunks finds them.
func parsePackEntries(k *box, format int, pack []byte, packSize int) ([]BlobRef, error) {
	if _, err := checkHeader(k, pack, TypePack); err != nil {
		return nil, err
	}
	if len(pack) < headerSize+4 {
		return nil, fmt.Errorf("pack of %d bytes is too short: %w", len(pack), ErrDamaged)
	}
	table, framesEnd := pack, 0 // framesEnd: where the frames stop
	if k != nil {
		sealed := int(binary.LittleEndian.Uint32(pack[len(pack)-4:]))
		framesEnd = len(pack) - 4 - sealed
		if sealed < sealOverhead || framesEnd < headerSize {
			return nil, fmt.Errorf("pack table of %d bytes does not fit its %d bytes: %w", sealed, len(pack), ErrDamaged)
		}
		var err error
		if table, err = k.open(nil, pack[framesEnd:len(pack)-4], nil); err != nil {
			return nil, fmt.Errorf("pack table: %w", err)
		}
		if len(table) < 4 {
			return nil, fmt.Errorf("pack table too short: %w", ErrDamaged)
		}
	}
	if format >= formatNarrow {
		return parseCompactTable(k != nil, format, table, framesEnd, maxPackRefs(packSize))
	}
	n := int(binary.LittleEndian.Uint32(table[len(table)-4:]))
	tableStart := len(table) - 4 - n*packEntrySize
	padded := pack[len(magic)] == envelopePadded
	if k == nil {
		framesEnd = tableStart
	} else if padded && tableStart >= 0 {
		// Entries first, then the padding.
		if slices.ContainsFunc(table[n*packEntrySize:len(table)-4], func(c byte) bool { return c != 0 }) {
			return nil, fmt.Errorf("pack table padding is not zeros: %w", ErrDamaged)
		}
		tableStart = 0
	}
	if n < 0 || n > len(table)/packEntrySize || tableStart < 0 || k == nil && tableStart < headerSize || k != nil && tableStart != 0 {
		return nil, fmt.Errorf("pack entry count %d does not fit its %d bytes: %w", n, len(pack), ErrDamaged)
	}
	entries := make([]BlobRef, n)
	b := table[tableStart:]
	for i := range entries {
		e := readRef(b)
		b = b[packEntrySize:]
		if int(e.Frame) < headerSize || e.FrameLen < 1 || int(e.Frame)+int(e.FrameLen) > framesEnd {
			return nil, fmt.Errorf("pack entry %d points outside the pack: %w", i, ErrDamaged)
		}
		if !refFits(e.FrameLen, e.Offset, e.Raw) {
			return nil, fmt.Errorf("pack entry %d out of range: %w", i, ErrDamaged)
		}
		entries[i] = e
	}
	return entries, nil
}
