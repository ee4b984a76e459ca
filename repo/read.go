package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"

	"cairn/chunk"
	"cairn/transport"
)

// LoadChunk returns the raw bytes of a chunk, verified against its id.
func (r *Repository) LoadChunk(ctx context.Context, id chunk.ID, dst []byte) ([]byte, error) {
	loc, ok := r.idx.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
	}
	stored, err := r.loadRange(ctx, loc.Pack, int(loc.FrameLen), int64(loc.Frame))
	if err != nil {
		return nil, err
	}
	raw, err := decodeFrame(r.box, stored, dst)
	if err == nil {
		raw, err = r.chunkOf(raw, id, loc.Offset, loc.Raw)
	}
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", loc.Pack.Short(), err)
	}
	return raw, nil
}

func (r *Repository) loadRange(ctx context.Context, pack ObjectID, length int, offset int64) ([]byte, error) {
	return r.loadRangeInto(ctx, pack, make([]byte, length), offset)
}

// loadRangeInto reads len(buf) bytes of a pack at offset into buf.
func (r *Repository) loadRangeInto(ctx context.Context, pack ObjectID, buf []byte, offset int64) ([]byte, error) {
	h := transport.Handle{Kind: transport.Data, Name: pack.String()}
	err := r.be.Load(ctx, h, len(buf), offset, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return nil, r.loadError(h, err)
	}
	return buf, nil
}

// loadError says what a failed read of a pack means: a pack the index names but
// storage lacks is not found, one shorter than the index says is damaged.
func (r *Repository) loadError(h transport.Handle, err error) error {
	switch {
	case r.be.IsNotExist(err):
		return fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("load %s: pack is shorter than the index says: %w", h, ErrDamaged)
	}
	return fmt.Errorf("load %s: %w", h, err)
}

// chunkOf cuts a chunk out of a decoded frame and checks it against its id.
func (r *Repository) chunkOf(raw []byte, id chunk.ID, offset, length uint32) ([]byte, error) {
	end := int(offset) + int(length)
	if end > len(raw) {
		return nil, fmt.Errorf("chunk %s lies past the end of its frame: %w", id.Short(), ErrDamaged)
	}
	data := raw[offset:end]
	if r.ChunkID(data) != id {
		return nil, fmt.Errorf("chunk %s: content does not match its id: %w", id.Short(), ErrDamaged)
	}
	return data, nil
}

// decodeFrameKept decodes a stored frame into a buffer from bufs and returns its first
// need bytes (all of it when it is shorter, which the caller finds damaged), in a
// buffer of need's size class: what the plan does not need of the frame is not kept. A
// zstd frame is decoded into a buffer of the size it declares, and without zstd's own
// checksum, as frameDecoder says; when the plan needs less of it, that buffer is held
// until the part needed is copied out.
func decodeFrameKept(k *box, stored []byte, need int, bufs *buffers) ([]byte, error) {
	if k != nil {
		buf := bufs.get(len(stored))
		defer bufs.put(buf)
		plain, err := k.open(buf[:0], stored, nil)
		if err != nil {
			return nil, fmt.Errorf("frame: %w", err)
		}
		stored = plain
	}
	if len(stored) < 1 {
		return nil, fmt.Errorf("empty frame: %w", ErrDamaged)
	}
	payload := stored[1:]
	switch stored[0] {
	case codecNone:
		out := bufs.get(min(need, len(payload)))
		copy(out, payload)
		return out, nil
	case codecZstd:
		size, err := frameSize(payload)
		if err != nil {
			return nil, err
		}
		buf := bufs.get(size)
		out, err := decodeFrameZstd(payload, buf)
		bufs.grown(buf, out)
		if err != nil {
			bufs.put(out)
			return nil, err
		}
		if len(out) >= need && cap(out) != classOf(need) {
			kept := bufs.get(need)
			copy(kept, out)
			bufs.put(out)
			out = kept
		}
		return out, nil
	case codecZstdSplit:
		return decodeSplitKept(payload, need, bufs)
	}
	return nil, fmt.Errorf("frame codec %d: %w", stored[0], ErrDamaged)
}

// decodeSplitKept is decodeFrameKept of a frame stored in split form: the form is
// decoded into a buffer of the size zstd declares, and its first need raw bytes are
// written back into a buffer of need's size class.
func decodeSplitKept(payload []byte, need int, bufs *buffers) ([]byte, error) {
	size, err := frameSize(payload)
	if err != nil {
		return nil, err
	}
	buf := bufs.get(size)
	form, err := decodeFrameZstd(payload, buf)
	bufs.grown(buf, form)
	defer bufs.put(form)
	if err != nil {
		return nil, err
	}
	raw, err := splitRawLen(form, maxFrameBytes)
	if err != nil {
		return nil, err
	}
	out := bufs.get(min(need, raw))
	if err := unsplitInto(out, form); err != nil {
		bufs.put(out)
		return nil, err
	}
	return out, nil
}

// frameSize is the most the zstd payload of a frame decodes to, refused past
// maxFrameBytes.
func frameSize(payload []byte) (int, error) {
	size, err := zstdSize(payload)
	if err == nil && size > maxFrameBytes {
		err = fmt.Errorf("zstd stream decodes to up to %d bytes, more than the %d read of it: %w", size, maxFrameBytes, ErrDamaged)
	}
	if err != nil {
		return 0, fmt.Errorf("decompress frame: %w", err)
	}
	return int(size), nil
}

// decodeFrameZstd decodes the zstd payload of a frame into dst[:0] with frameDecoder,
// after frameSize has bounded it.
func decodeFrameZstd(payload, dst []byte) ([]byte, error) {
	out, err := frameDecoder().DecodeAll(payload, dst[:0])
	if err != nil {
		return out, fmt.Errorf("decompress frame: %v: %w", err, ErrDamaged)
	}
	return out, nil
}

var (
	frameDec     *zstd.Decoder
	frameDecOnce sync.Once
)

// frameDecoder decompresses the frames LoadChunks reads. It does not check the
// xxhash64 checksum zstd keeps of a frame's content: LoadChunks checks every chunk it
// cuts out of a frame against its id (a keyed BLAKE3) before anyone sees it, which a
// damaged frame fails as surely, and the checksum cost a few percent of a restore.
func frameDecoder() *zstd.Decoder {
	frameDecOnce.Do(func() {
		var err error
		frameDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(4), zstd.WithDecoderMaxMemory(1<<30), zstd.IgnoreChecksum(true))
		if err != nil {
			panic(err)
		}
	})
	return frameDec
}
