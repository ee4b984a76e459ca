package repo

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// In a repository of format 2 a pack's table and each pack of an index file list
// their chunks frame by frame, with every offset implied (frames follow each other in
// the pack, chunks follow each other in a frame):
//
//	frame count uvarint
//	per frame:  gap uvarint | stored length uvarint | entries<<1 | sparse uvarint
//	per entry:  id (16) | [skip uvarint, when sparse] | chunk length uvarint
//
// (without the id in a format 3 pack's own table, pack_compact.go)
//
// gap is the number of bytes between the end of the previous frame (for the first
// frame: the end of the pack's 8-byte envelope header) and the frame; skip is the
// number of raw bytes between the end of the previous chunk of the frame (for the
// first: the frame's start) and the chunk. A pack's own table has no gaps and no
// sparse frames; an index file that names only some chunks of a pack (prune, a
// backup's commit) skips over the others with them.

// compactFrameMax bounds the bytes a frame takes in the compact layout (three
// uvarints of at most 10 bytes each), compactEntryMax those of an entry.
const (
	compactFrameMax = 3 * binary.MaxVarintLen64
	compactEntryMax = 16 + 2*binary.MaxVarintLen64
)

// compactBound is an upper bound on the bytes appendCompactRefs writes for n refs.
func compactBound(n int) int {
	return binary.MaxVarintLen64 + n*(compactFrameMax+compactEntryMax)
}

// sortedRefs returns refs ordered by frame, then offset, without repeats of the same
// ref; refs itself is left as it is.
func sortedRefs(refs []BlobRef) []BlobRef {
	byPlace := func(a, b BlobRef) int {
		if c := cmp.Compare(a.Frame, b.Frame); c != 0 {
			return c
		}
		return cmp.Compare(a.Offset, b.Offset)
	}
	if slices.IsSortedFunc(refs, byPlace) && !hasRepeat(refs) {
		return refs
	}
	s := slices.Clone(refs)
	slices.SortStableFunc(s, byPlace)
	return slices.Compact(s)
}

func hasRepeat(refs []BlobRef) bool {
	for i := 1; i < len(refs); i++ {
		if refs[i] == refs[i-1] {
			return true
		}
	}
	return false
}

// appendCompactRefs appends refs in the compact layout with ids w bytes wide. The refs
// must be ordered by frame and offset without repeats (see sortedRefs); refs whose
// frames or chunks overlap cannot be written and are refused.
func appendCompactRefs(b []byte, refs []BlobRef, w int) ([]byte, error) {
	frames := 0
	for i := range refs {
		if i == 0 || refs[i].Frame != refs[i-1].Frame {
			frames++
		}
	}
	b = binary.AppendUvarint(b, uint64(frames))
	end := uint64(headerSize) // where the previous frame ends
	for i := 0; i < len(refs); {
		f := refs[i]
		j := i + 1
		for j < len(refs) && refs[j].Frame == f.Frame {
			j++
		}
		if uint64(f.Frame) < end || f.FrameLen < 1 {
			return b, fmt.Errorf("pack table: frame at %d of %d bytes overlaps the one before it", f.Frame, f.FrameLen)
		}
		sparse, at := false, uint64(0)
		for _, r := range refs[i:j] {
			if w > 0 && w < len(r.ID) && !r.ID.IsNarrow() {
				return b, fmt.Errorf("pack table: chunk id %s is wider than %d bits", r.ID, 8*w)
			}
			if r.FrameLen != f.FrameLen {
				return b, fmt.Errorf("pack table: frame at %d has lengths %d and %d", f.Frame, f.FrameLen, r.FrameLen)
			}
			if uint64(r.Offset) < at {
				return b, fmt.Errorf("pack table: chunks at %d and before overlap in frame at %d", r.Offset, f.Frame)
			}
			sparse = sparse || uint64(r.Offset) != at
			at = uint64(r.Offset) + uint64(r.Raw)
		}
		b = binary.AppendUvarint(b, uint64(f.Frame)-end)
		b = binary.AppendUvarint(b, uint64(f.FrameLen))
		n := uint64(j-i) << 1
		if sparse {
			n |= 1
		}
		b = binary.AppendUvarint(b, n)
		at = 0
		for _, r := range refs[i:j] {
			b = appendID(b, r.ID, w)
			if sparse {
				b = binary.AppendUvarint(b, uint64(r.Offset)-at)
			}
			b = binary.AppendUvarint(b, uint64(r.Raw))
			at = uint64(r.Offset) + uint64(r.Raw)
		}
		end = uint64(f.Frame) + uint64(f.FrameLen)
		i = j
	}
	return b, nil
}

// compactReader reads the compact layout from storage: every count is checked
// against the bytes left before anything is allocated for it, every value against
// the range its field has, and a truncated or overlong uvarint is damage. Entries
// without ids (w 0: a format 3 pack table) take a byte each at least, so maxRefs, when
// not 0, bounds how many are read, and a first pass with countOnly counts them (in n)
// before the refs are allocated.
type compactReader struct {
	b         []byte
	err       error
	maxRefs   int
	countOnly bool
	n         int // refs read, over every list
}

func (c *compactReader) uvarint(what string, limit uint64) uint64 {
	if c.err != nil {
		return 0
	}
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		c.err = fmt.Errorf("%s: truncated or overlong number: %w", what, ErrDamaged)
		return 0
	}
	c.b = c.b[n:]
	if v > limit {
		c.err = fmt.Errorf("%s %d out of range (at most %d): %w", what, v, limit, ErrDamaged)
		return 0
	}
	return v
}

// readCompactRefs reads one list of frames and entries (ids w bytes wide) from the
// start of c.b, appending the refs to dst. Frames must lie within [headerSize, limit)
// of the pack; every ref must fit the in-memory index (checkRef).
func (c *compactReader) readCompactRefs(dst []BlobRef, w int, limit uint64) []BlobRef {
	var prev BlobRef // the last ref read, when have
	have := false
	frames := c.uvarint("frame count", uint64(len(c.b)/3))
	end := uint64(headerSize)
	for range frames {
		gap := c.uvarint("frame gap", math.MaxUint32)
		stored := c.uvarint("frame length", math.MaxUint32)
		n := c.uvarint("frame entry count", uint64(len(c.b)/(w+1))<<1|1)
		if c.err != nil {
			return dst
		}
		start := end + gap
		if stored < 1 || start+stored > limit {
			c.err = fmt.Errorf("frame at %d of %d bytes lies outside the pack's %d bytes of frames: %w", start, stored, limit, ErrDamaged)
			return dst
		}
		sparse, at := n&1 == 1, uint64(0)
		for range n >> 1 {
			if len(c.b) < w {
				c.err = fmt.Errorf("pack table entry: truncated id: %w", ErrDamaged)
				return dst
			}
			r := BlobRef{ID: readID(c.b, w), Frame: uint32(start), FrameLen: uint32(stored)}
			c.b = c.b[w:]
			if sparse {
				at += c.uvarint("chunk skip", math.MaxUint32)
			}
			raw := c.uvarint("chunk length", math.MaxUint32)
			if c.err != nil {
				return dst
			}
			if at > math.MaxUint32 {
				c.err = fmt.Errorf("chunk offset %d in frame at %d out of range: %w", at, start, ErrDamaged)
				return dst
			}
			r.Offset, r.Raw = uint32(at), uint32(raw)
			if c.err = checkRef(r); c.err != nil {
				return dst
			}
			if have && prev == r {
				continue // the same chunk again (of length 0): one ref, as written
			}
			if c.maxRefs > 0 && c.n >= c.maxRefs {
				c.err = fmt.Errorf("pack table lists more than %d chunks: %w", c.maxRefs, ErrDamaged)
				return dst
			}
			prev, have = r, true
			c.n++
			if !c.countOnly {
				dst = append(dst, r)
			}
			at += raw
		}
		end = start + stored
	}
	return dst
}
