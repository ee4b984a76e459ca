package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Pieces records name everything by UUID (a record's own id and each of the records
// it points at, as 36 characters of text) and date every change with ISO 8601
// timestamps of 24 characters. zstd codes those characters one by one as literals
// (random hex and clock digits do not repeat), mixed into the Huffman table of the
// words around them. From format 3 on, a frame's raw bytes are compressed in their
// split form when that is shorter: every lowercase canonical UUID and every UTC
// timestamp with milliseconds moved out of the text into a block of binary values at
// the end, 16 bytes a UUID (a repeated one is a short match) and 6 a timestamp. On the
// generator's records that stores 9% less at zstd's fastest and default levels alike,
// for less CPU: zstd has fewer bytes to compress and to decode (BENCHMARKS.md).
//
// Split form (codec 2, then zstd):
//
//	text | values | values length u32 | raw length u32
//
// text is the raw bytes with each UUID (8-4-4-4-12 digits of 0-9a-f) replaced by
// markUUID and each timestamp (YYYY-MM-DDTHH:MM:SS.mmmZ, from 1970 on) by markTime;
// values holds, mark by mark, a UUID's 16 bytes or a timestamp's milliseconds since
// 1970-01-01T00:00:00Z as 48 bits big-endian. Only frames whose raw bytes hold no byte
// 0xFD to 0xFF are split (valid UTF-8 has none), so every such byte of the text is a
// mark; and only text that its value prints back exactly is moved, so the raw bytes
// come back exactly. Each move shortens the bytes, so the form is made where the raw
// bytes lie, without a second buffer of their size.

// formatSplit is the first repository format whose frames may be stored split.
const formatSplit = 3

// splitFrames reports whether this repository's format lets frames be stored split.
func (r *Repository) splitFrames() bool { return r.cfg.Format >= formatSplit }

const (
	markTime     = 0xFD
	markUUID     = 0xFE
	splitNever   = 0xFF // in no split form's text
	uuidLen      = 36   // characters of a UUID's text
	timeLen      = 24   // characters of a timestamp's text
	timeBytes    = 6    // bytes of a timestamp's value
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

// specials finds the next byte 0xFD, 0xFE or 0xFF of text from a position on; in
// text that holds none of them it scans once for each.
type specials struct {
	b    []byte
	next [3]int // next 0xFD, 0xFE and 0xFF at or after the last from; len(b) when none
	seen [3]bool
}

func (x *specials) from(p int) int {
	e := len(x.b)
	for k := range x.next {
		if !x.seen[k] || x.next[k] < p {
			x.next[k], x.seen[k] = len(x.b), true
			if i := bytes.IndexByte(x.b[p:], byte(markTime+k)); i >= 0 {
				x.next[k] = p + i
			}
		}
		e = min(e, x.next[k])
	}
	return e
}

// splitInPlace turns raw into its split form where it lies, gathering the values in
// *values (scratch), and returns the form: the first bytes of raw, fewer than raw
// had. It returns false, with raw as it was, when raw holds a byte 0xFD to 0xFF or
// nothing to move.
func splitInPlace(raw []byte, values *[]byte) ([]byte, bool) {
	if x := (specials{b: raw}); x.from(0) < len(raw) {
		return nil, false
	}
	*values = (*values)[:0]
	w, p, i := 0, 0, 0 // form written up to w; raw moved up to p; the next dash looked for from i
	// move replaces the n bytes of text at s by mark, and keeps their value.
	move := func(s, n int, mark byte, value ...byte) {
		w += copy(raw[w:], raw[p:s])
		raw[w] = mark
		*values = append(*values, value...)
		w, p, i = w+1, s+n, s+n
	}
	for {
		d := bytes.IndexByte(raw[i:], '-')
		if d < 0 {
			break
		}
		d += i
		if s := d - 8; s >= p {
			if id, ok := parseUUID(raw[s:]); ok {
				move(s, uuidLen, markUUID, id[:]...)
				continue
			}
		}
		if s := d - 4; s >= p {
			if ms, ok := parseTime(raw[s:]); ok {
				move(s, timeLen, markTime, byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms))
				continue
			}
		}
		i = d + 1
	}
	if len(*values) == 0 {
		return nil, false // nothing was written
	}
	// Each move saved 18 bytes at least: the values and the trailer fit.
	w += copy(raw[w:], raw[p:])
	w += copy(raw[w:], *values)
	form := binary.LittleEndian.AppendUint32(raw[:w], uint32(len(*values)))
	return binary.LittleEndian.AppendUint32(form, uint32(len(raw))), true
}

// splitParts checks a split form's trailer and returns its text, its values and the
// raw length it declares: at most limit, and at most what the text and values can give
// (a UUID's 16 bytes of value give 36 bytes, a timestamp's 6 give 24, any other byte
// of text one at most).
func splitParts(b []byte, limit int) (text, values []byte, raw int, err error) {
	if len(b) < splitTrailer {
		return nil, nil, 0, fmt.Errorf("split frame of %d bytes: %w", len(b), ErrDamaged)
	}
	v := uint64(binary.LittleEndian.Uint32(b[len(b)-8:]))
	n := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if v > uint64(len(b)-splitTrailer) {
		return nil, nil, 0, fmt.Errorf("split frame holds %d bytes of values in %d bytes: %w", v, len(b), ErrDamaged)
	}
	t := uint64(len(b)-splitTrailer) - v
	if n > min(t+4*v, uint64(limit)) {
		return nil, nil, 0, fmt.Errorf("split frame declares %d raw bytes, more than its %d bytes can give or %d: %w", n, len(b), limit, ErrDamaged)
	}
	return b[:t], b[t : t+v], int(n), nil
}

// splitRawLen is the raw length a split form declares, after splitParts' checks.
func splitRawLen(b []byte, limit int) (int, error) {
	_, _, n, err := splitParts(b, limit)
	return n, err
}

// unsplitInto writes the raw bytes of split form b into out, which is as long as the
// raw bytes the caller wants: all of them (the length splitRawLen returns), or a first
// part, which is then all that is read back. A form that does not give exactly its
// declared raw length from exactly its values is damaged.
func unsplitInto(out, b []byte) error {
	text, values, raw, err := splitParts(b, maxFrameBytes)
	if err != nil {
		return err
	}
	if len(out) > raw {
		return fmt.Errorf("split frame: %d raw bytes wanted of %d: %w", len(out), raw, ErrDamaged)
	}
	full := len(out) == raw
	over := fmt.Errorf("split frame gives more than the %d raw bytes it declares: %w", raw, ErrDamaged)
	x := specials{b: text}
	w, v, p := 0, 0, 0 // written to out, values used, text read
	var t [uuidLen]byte
	for p < len(text) && (full || w < len(out)) {
		e := x.from(p)
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
		var item []byte // what the mark gives, when it does not fit in out
		switch text[e] {
		case splitNever:
			return fmt.Errorf("split frame: byte 0xff at %d of its text: %w", e, ErrDamaged)
		case markUUID:
			if v+16 > len(values) {
				return fmt.Errorf("split frame: a UUID mark past its %d bytes of values: %w", len(values), ErrDamaged)
			}
			if w+uuidLen <= len(out) {
				putUUIDText(out[w:], values[v:])
				w, v, p = w+uuidLen, v+16, e+1
				continue
			}
			putUUIDText(t[:], values[v:])
			item = t[:uuidLen]
		case markTime:
			if v+timeBytes > len(values) {
				return fmt.Errorf("split frame: a timestamp mark past its %d bytes of values: %w", len(values), ErrDamaged)
			}
			ms := uint64(values[v])<<40 | uint64(values[v+1])<<32 | uint64(values[v+2])<<24 | uint64(values[v+3])<<16 | uint64(values[v+4])<<8 | uint64(values[v+5])
			if ms > maxTime {
				return fmt.Errorf("split frame: timestamp %d ms is past year 9999: %w", ms, ErrDamaged)
			}
			if w+timeLen <= len(out) {
				putTimeText(out[w:], ms)
				w, v, p = w+timeLen, v+timeBytes, e+1
				continue
			}
			putTimeText(t[:], ms)
			item = t[:timeLen]
		}
		// What the mark gives passes the end of out.
		if full {
			return over
		}
		w += copy(out[w:], item)
		break
	}
	if full && (w != raw || v != len(values)) {
		return fmt.Errorf("split frame: %d raw bytes from %d bytes of values where it declares %d from %d: %w", w, v, raw, len(values), ErrDamaged)
	}
	if w != len(out) {
		return fmt.Errorf("split frame: %d raw bytes where %d were wanted: %w", w, len(out), ErrDamaged)
	}
	return nil
}
