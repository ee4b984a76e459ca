package repo

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"cairn/chunk"
)

// frameWriter collects the raw bytes of the chunks of one frame.
type frameWriter struct {
	raw     []byte
	entries []BlobRef // Frame and FrameLen are set when the frame is sealed
}

func (f *frameWriter) add(id chunk.ID, data []byte) {
	f.entries = append(f.entries, BlobRef{ID: id, Offset: uint32(len(f.raw)), Raw: uint32(len(data))})
	f.raw = append(f.raw, data...)
}

// seal appends the frame's stored form to dst: compressed by enc, when that makes it
// smaller.
func (f *frameWriter) seal(dst []byte, enc *zstd.Encoder) []byte {
	n := len(dst)
	dst = append(dst, codecZstd)
	dst = enc.EncodeAll(f.raw, dst)
	if len(dst)-n >= len(f.raw)+1 {
		dst = append(dst[:n], codecNone)
		dst = append(dst, f.raw...)
	}
	return dst
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
	}
	return nil, fmt.Errorf("frame codec %d: %w", stored[0], ErrDamaged)
}
