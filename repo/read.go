package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

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
	h := transport.Handle{Kind: transport.Data, Name: pack.String()}
	b, err := transport.LoadRange(ctx, r.be, h, length, offset)
	if err != nil {
		if r.be.IsNotExist(err) {
			return nil, fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("load %s: pack is shorter than the index says: %w", h, ErrDamaged)
		}
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	r.read.Add(int64(len(b)))
	return b, nil
}

// LoadChunks calls fn with the raw bytes of each chunk in ids, in order. Frames that
// sit next to each other in one pack are read together, up to runsAhead reads are in
// flight at once and decode their frames as they arrive, and the last recentFrames
// decoded frames are kept. data is valid only during fn.
func (r *Repository) LoadChunks(ctx context.Context, ids []chunk.ID, fn func(i int, data []byte) error) error {
	locs := make([]Location, len(ids))
	for i, id := range ids {
		l, ok := r.idx.Lookup(id)
		if !ok {
			return fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
		}
		locs[i] = l
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan segment, runsAhead)
	slots := make(chan struct{}, runsAhead)
	go func() {
		defer close(queue)
		r.planRuns(locs, func(seg segment) bool {
			if rn := seg.run; rn != nil {
				rn.done = make(chan struct{})
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return false
				}
				go func() {
					r.fetch(ctx, rn)
					close(rn.done)
				}()
			}
			select {
			case queue <- seg:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var frames frameCache
	var chunks [][]byte
	var got []chunk.ID
	fail := func(err error) error {
		cancel()
		for seg := range queue { // let every read end before returning
			if seg.run != nil {
				<-seg.run.done
				<-slots
			}
		}
		return err
	}
	for seg := range queue {
		if rn := seg.run; rn != nil {
			<-rn.done
			<-slots
			if rn.err != nil {
				return fail(rn.err)
			}
			// The same gets as the planner's: the first frame (its miss), the frames
			// after it; the chunk that needed the read then hits like any other.
			for j, f := range rn.frames {
				slot, _ := frames.get(frameKey{rn.pack, f})
				frames.raws[slot] = rn.decoded[j]
			}
		}
		// The segment's chunks are cut out of their frames, hashed together and
		// compared with their ids before any is handed on.
		chunks = chunks[:0]
		for i := seg.first; i < seg.first+seg.n; i++ {
			l := locs[i]
			slot, hit := frames.get(frameKey{l.Pack, l.Frame})
			if !hit {
				frames.used[slot] = 0
				return fail(fmt.Errorf("load chunks: frame %d of pack %s was planned as decoded but is not", l.Frame, l.Pack.Short()))
			}
			raw := frames.raws[slot]
			if end := int(l.Offset) + int(l.Raw); end <= len(raw) {
				chunks = append(chunks, raw[l.Offset:end])
			} else {
				return fail(fmt.Errorf("pack %s: chunk %s lies past the end of its frame: %w", l.Pack.Short(), ids[i].Short(), ErrDamaged))
			}
		}
		got = slices.Grow(got[:0], len(chunks))[:len(chunks)]
		r.ChunkIDs(chunks, got)
		for k, data := range chunks {
			i := seg.first + k
			if got[k] != ids[i] {
				return fail(fmt.Errorf("pack %s: chunk %s: content does not match its id: %w", locs[i].Pack.Short(), ids[i].Short(), ErrDamaged))
			}
			if err := fn(i, data); err != nil {
				return fail(err)
			}
		}
	}
	return ctx.Err()
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
