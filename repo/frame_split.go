package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Pieces records name everything by UUID: a record's own id and each of the records it
// points at, as 36 characters of text. zstd codes those characters one by one as
// literals (random hex does not repeat), mixed into the Huffman table of the words
// around them. From format 3 on, a frame's raw bytes are compressed in their split
// form when that is shorter: every lowercase canonical UUID moved out of the text into
// a block of 16-byte values at the end, where a repeated UUID is a 16-byte match and a
// new one costs 16 bytes. On the generator's records it stores 6.9% less at zstd's
// fastest and default levels alike (BENCHMARKS.md).
//
// Split form (codec 2, then zstd):
//
//	text | ids | UUID count u32 | raw length u32
//
// text is the raw bytes with each UUID (8-4-4-4-12 digits of 0-9a-f) replaced by
// splitMark, and each raw byte 0xFE or 0xFF preceded by splitEscape (valid UTF-8 holds
// neither); ids holds 16 bytes per mark, in order. Reading it back gives exactly the
// raw bytes: only lowercase UUIDs are moved, so their text is what the digits print.

// formatSplit is the first repository format whose frames may be stored split.
const formatSplit = 3

// splitFrames reports whether this repository's format lets frames be stored split.
func (r *Repository) splitFrames() bool { return r.cfg.Format >= formatSplit }

const (
	splitMark    = 0xFE
	splitEscape  = 0xFF
	uuidLen      = 36 // characters of a UUID's text
	splitTrailer = 8
)

// hexValue maps a byte to its value as a lowercase hex digit, or 0xFF.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

// uuidDigits are the offsets of a UUID's hex digits in its text, in pairs.
var uuidDigits = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// parseUUID returns the 16 bytes of the UUID whose text starts b, when it is one.
func parseUUID(b []byte) (id [16]byte, ok bool) {
	if len(b) < uuidLen || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return id, false
	}
	var bad byte
	for i, o := range uuidDigits {
		hi, lo := hexValue[b[o]], hexValue[b[o+1]]
		bad |= hi | lo
		id[i] = hi<<4 | lo
	}
	return id, bad&0xF0 == 0
}

// putUUIDText writes the text of the UUID id into t, 36 bytes.
func putUUIDText(t []byte, id []byte) {
	const digits = "0123456789abcdef"
	t = t[:uuidLen]
	t[8], t[13], t[18], t[23] = '-', '-', '-', '-'
	for i, o := range uuidDigits {
		t[o], t[o+1] = digits[id[i]>>4], digits[id[i]&15]
	}
}

// escapes finds the raw bytes that need splitEscape, both kinds, from a position on;
// in text that holds none it scans once.
type escapes struct {
	b          []byte
	mark, esc  int // next splitMark and splitEscape at or after the last from; len(b) when none
	markOK, ok bool
}

func (e *escapes) next(from int) int {
	if !e.markOK || e.mark < from {
		e.mark, e.markOK = indexByteFrom(e.b, from, splitMark), true
	}
	if !e.ok || e.esc < from {
		e.esc, e.ok = indexByteFrom(e.b, from, splitEscape), true
	}
	return min(e.mark, e.esc)
}

// indexByteFrom is the index of c in b at or after from, or len(b).
func indexByteFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

// appendSplit appends the split form of raw to dst, its ids gathered in *ids (scratch,
// grown as needed). It reports false, with dst as it came, when the split form would
// not be shorter than raw: no UUID, or too many bytes to escape.
func appendSplit(dst, raw []byte, ids *[]byte) ([]byte, bool) {
	start := len(dst)
	ex := escapes{b: raw}
	*ids = (*ids)[:0]
	p, i := 0, 0 // raw before p is written; the next dash is looked for from i
	for {
		d := bytes.IndexByte(raw[i:], '-')
		if d < 0 {
			break
		}
		s := i + d - 8
		if s < p {
			i += d + 1
			continue
		}
		id, ok := parseUUID(raw[s:])
		if !ok {
			i += d + 1
			continue
		}
		dst = appendEscaped(dst, raw, p, s, &ex)
		dst = append(dst, splitMark)
		*ids = append(*ids, id[:]...)
		p = s + uuidLen
		i = p
	}
	dst = appendEscaped(dst, raw, p, len(raw), &ex)
	n := len(*ids) / 16
	if n == 0 || len(dst)-start+len(*ids)+splitTrailer >= len(raw) {
		return dst[:start], false
	}
	dst = append(dst, *ids...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return binary.LittleEndian.AppendUint32(dst, uint32(len(raw))), true
}

// appendEscaped appends raw[from:to], each 0xFE or 0xFF byte escaped.
func appendEscaped(dst, raw []byte, from, to int, ex *escapes) []byte {
	for from < to {
		e := ex.next(from)
		if e >= to {
			return append(dst, raw[from:to]...)
		}
		dst = append(dst, raw[from:e]...)
		dst = append(dst, splitEscape, raw[e])
		from = e + 1
	}
	return dst
}

// splitRawLen reads the raw length a split form declares, after checking that its
// trailer fits: at most limit.
func splitRawLen(b []byte, limit int) (int, error) {
	if len(b) < splitTrailer {
		return 0, fmt.Errorf("split frame of %d bytes: %w", len(b), ErrDamaged)
	}
	n := uint64(binary.LittleEndian.Uint32(b[len(b)-8:]))
	raw := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if n*16 > uint64(len(b)-splitTrailer) {
		return 0, fmt.Errorf("split frame names %d UUIDs in %d bytes: %w", n, len(b), ErrDamaged)
	}
	// A mark gives 36 bytes, any other byte of text one at most.
	if most := uint64(len(b)-splitTrailer) - 16*n + 35*n; raw > min(most, uint64(limit)) {
		return 0, fmt.Errorf("split frame declares %d raw bytes, more than its %d bytes can give or %d: %w", raw, len(b), limit, ErrDamaged)
	}
	return int(raw), nil
}

// unsplitInto writes the raw bytes of split form b into out, which is as long as the
// raw bytes the caller wants: all of them (the length splitRawLen returns), or a first
// part, which is then all that is read back. A form that does not give exactly its
// declared raw length and UUID count is damaged.
func unsplitInto(out, b []byte) error {
	raw, err := splitRawLen(b, maxFrameBytes)
	if err != nil {
		return err
	}
	if len(out) > raw {
		return fmt.Errorf("split frame: %d raw bytes wanted of %d: %w", len(out), raw, ErrDamaged)
	}
	full := len(out) == raw
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	ids := b[len(b)-splitTrailer-16*n : len(b)-splitTrailer]
	text := b[:len(b)-splitTrailer-16*n]
	over := fmt.Errorf("split frame gives more than the %d raw bytes it declares: %w", raw, ErrDamaged)
	ex := escapes{b: text}
	w, k, p := 0, 0, 0 // written to out, UUIDs used, text read
	var t [uuidLen]byte
	for p < len(text) && (full || w < len(out)) {
		e := ex.next(p)
		if w+e-p > len(out) {
			if full {
				return over
			}
			w += copy(out[w:], text[p:e])
			break
		}
		w += copy(out[w:], text[p:e])
		if p = e; p == len(text) {
			break
		}
		if text[e] == splitEscape {
			if e+1 == len(text) || text[e+1] < splitMark {
				return fmt.Errorf("split frame: escape at %d not before 0xfe or 0xff: %w", e, ErrDamaged)
			}
			if w == len(out) {
				if full {
					return over
				}
				break
			}
			out[w] = text[e+1]
			w, p = w+1, e+2
			continue
		}
		if k == n {
			return fmt.Errorf("split frame: more marks than its %d UUIDs: %w", n, ErrDamaged)
		}
		if w+uuidLen > len(out) {
			if full {
				return over
			}
			putUUIDText(t[:], ids[16*k:])
			w += copy(out[w:], t[:])
			break
		}
		putUUIDText(out[w:], ids[16*k:])
		w, k, p = w+uuidLen, k+1, e+1
	}
	if full && (w != raw || k != n) {
		return fmt.Errorf("split frame: %d raw bytes and %d UUIDs where it declares %d and %d: %w", w, k, raw, n, ErrDamaged)
	}
	if w != len(out) {
		return fmt.Errorf("split frame: %d raw bytes where %d were wanted: %w", w, len(out), ErrDamaged)
	}
	return nil
}
