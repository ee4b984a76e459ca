package repo

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"cairn/chunk"
)

// frameWriter collects the raw bytes of the chunks of one frame.
type frameWriter struct {
	raw      []byte
	entries  []BlobRef // Frame and FrameLen are set when the frame is sealed
	borrowed bool      // raw is the caller's bytes (a chunk of its own frame), not to be overwritten
}

func (f *frameWriter) add(id chunk.ID, data []byte) {
	f.entries = append(f.entries, BlobRef{ID: id, Offset: uint32(len(f.raw)), Raw: uint32(len(data))})
	f.raw = append(f.raw, data...)
}

// seal appends the frame's stored form to dst: compressed by enc, when that makes it
// smaller.
func (f *frameWriter) seal(dst []byte, enc *zstd.Encoder) []byte {
	return sealFrame(dst, f.raw, enc, nil)
}

// sealFrame appends the stored form of a frame's raw bytes to dst: compressed by enc
// when that makes it smaller, else raw. With values (scratch) it compresses the split
// form when the frame has one, made where raw lies: raw's bytes are the caller's
// scratch then, and not the frame's afterwards.
func sealFrame(dst, raw []byte, enc *zstd.Encoder, values *[]byte) []byte {
	n, size := len(dst), len(raw)
	src, codec := raw, codecZstd
	if values != nil {
		if form, ok := splitInPlace(raw, values); ok {
			src, codec = form, codecZstdSplit
		}
	}
	dst = append(dst, codec)
	dst = enc.EncodeAll(src, dst)
	if len(dst)-n < size+1 {
		return dst
	}
	dst = append(dst[:n], codecNone)
	if codec == codecZstd {
		return append(dst, raw...)
	}
	dst = slices.Grow(dst, size)[:n+1+size]
	if err := unsplitInto(dst[n+1:], src); err != nil {
		panic(fmt.Sprintf("a split form just made does not read back: %v", err))
	}
	return dst
}

// splitBuffers are a reader's scratch for a frame's split form.
type splitBuffers struct{ form []byte }

var splitScratch = sync.Pool{New: func() any { return new(splitBuffers) }}

// decodeSplit decodes the zstd payload of a frame stored in split form and writes its
// raw bytes into dst, grown to their length.
func decodeSplit(payload, dst []byte) ([]byte, error) {
	if _, err := frameSize(payload); err != nil {
		return nil, err
	}
	s := splitScratch.Get().(*splitBuffers)
	defer splitScratch.Put(s)
	form, err := decodeFrameZstd(payload, s.form)
	if err != nil {
		return nil, err
	}
	s.form = form
	raw, err := splitRawLen(form, maxFrameBytes)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst[:0], raw)[:raw]
	if err := unsplitInto(out, form); err != nil {
		return nil, err
	}
	return out, nil
}

// framePlain holds decrypted frames on their way to being decompressed.
var framePlain = sync.Pool{New: func() any { return new([]byte) }}

// decodeFrame turns a stored frame back into raw bytes, appended to dst[:0].
func decodeFrame(k *box, stored, dst []byte) ([]byte, error) {
	if k != nil {
		buf := framePlain.Get().(*[]byte)
		defer framePlain.Put(buf)
		plain, err := k.open((*buf)[:0], stored, nil)
		if err != nil {
			return nil, fmt.Errorf("frame: %w", err)
		}
		*buf = plain
		stored = plain
	}
	if len(stored) < 1 {
		return nil, fmt.Errorf("empty frame: %w", ErrDamaged)
	}
	switch stored[0] {
	case codecNone:
		return append(dst[:0], stored[1:]...), nil
	case codecZstd:
		out, err := decodeZstd(stored[1:], dst[:0], maxFrameBytes)
		if err != nil {
			return nil, fmt.Errorf("decompress frame: %w", err)
		}
		return out, nil
	case codecZstdSplit:
		return decodeSplit(stored[1:], dst)
	}
	return nil, fmt.Errorf("frame codec %d: %w", stored[0], ErrDamaged)
}
