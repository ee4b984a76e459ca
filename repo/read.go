package repo

import (
	"context"
	"errors"
	"fmt"
	"io"

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
		if r.be.IsNotExist(err) {
			return nil, fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("load %s: pack is shorter than the index says: %w", h, ErrDamaged)
		}
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	return buf, nil
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
