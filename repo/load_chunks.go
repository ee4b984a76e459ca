package repo

import (
	"context"
	"fmt"
	"slices"

	"cairn/chunk"
)

// LoadChunks calls fn with the raw bytes of each chunk in ids, in order. Frames that
// sit next to each other in one pack are read together, up to runsAhead reads are in
// flight at once and decode their frames as they arrive, and the last recentFrames
// decoded frames are kept. data is valid only during fn. The chunks are looked up in
// the index as the reads are planned, so the first read starts at once; a chunk the
// index lacks fails the call once the chunks before it were served.
func (r *Repository) LoadChunks(ctx context.Context, ids []chunk.ID, fn func(i int, data []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &chunkLoader{r: r, ids: ids, locs: make([]Location, len(ids)), queue: make(chan segment, runsAhead), slots: make(chan struct{}, runsAhead)}
	defer l.frames.release(&l.frameBufs)
	go l.plan(ctx) // ends when every segment is queued or ctx ends, and its reads with it
	for seg := range l.queue {
		if err := l.serve(seg, fn); err != nil {
			cancel()
			l.drain()
			return err
		}
	}
	return ctx.Err()
}

// locator looks chunks up in the index ahead of the planner, a block at a time.
type locator struct {
	idx  *Index
	ids  []chunk.ID
	locs []Location
	n    int   // locs[:n] are looked up
	err  error // why chunk n could not be, if it could not
}

// upTo looks the chunks up to (not including) want up and returns how many are,
// fewer than want when one is missing from the index (l.err says which).
func (l *locator) upTo(want int) int {
	want = min(want, len(l.ids))
	for l.err == nil && l.n < want {
		loc, ok := l.idx.Lookup(l.ids[l.n])
		if !ok {
			l.err = fmt.Errorf("chunk %s: %w", l.ids[l.n].Short(), ErrNotFound)
			break
		}
		l.locs[l.n] = loc
		l.n++
	}
	return l.n
}

// chunkLoader is one LoadChunks call: a planner goroutine queues segments and starts
// their reads; the caller's goroutine takes the decoded frames in and serves chunks.
type chunkLoader struct {
	r      *Repository
	ids    []chunk.ID
	locs   []Location
	queue  chan segment  // planned segments in order; closed when the planner ends
	slots  chan struct{} // one per read in flight
	frames frameCache    // the decoder's: the same gets in the same order as the planner's

	readBufs, frameBufs buffers    // for the reads' stored bytes and their decoded frames
	chunks              [][]byte   // the segment being served, cut out of its frames
	got                 []chunk.ID // their ids as hashed
}

// plan runs the planner, starting each read as it is planned and queueing its
// segment. A read whose segment cannot be queued (ctx ended) is waited for here, so
// that every read has ended once the queue is closed and drained.
func (l *chunkLoader) plan(ctx context.Context) {
	defer close(l.queue)
	lc := &locator{idx: l.r.idx, ids: l.ids, locs: l.locs}
	l.r.planRuns(lc, func(seg segment) bool {
		if rn := seg.run; rn != nil && !l.startRead(ctx, rn) {
			return false
		}
		select {
		case l.queue <- seg:
			return true
		case <-ctx.Done():
			if rn := seg.run; rn != nil {
				<-rn.done
				<-l.slots
				rn.release()
			}
			return false
		}
	})
}

// startRead waits for a free slot and starts the run's read, or reports false when ctx
// ends first.
func (l *chunkLoader) startRead(ctx context.Context, rn *run) bool {
	rn.done = make(chan struct{})
	rn.reads, rn.bufs = &l.readBufs, &l.frameBufs
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	go func() { // ends when the run is read and decoded, or failed
		l.r.fetch(ctx, rn)
		close(rn.done)
	}()
	return true
}

// serve takes the segment's read in, if it has one, and hands its chunks to fn.
func (l *chunkLoader) serve(seg segment, fn func(i int, data []byte) error) error {
	if seg.err != nil {
		return seg.err
	}
	if seg.run != nil {
		if err := l.takeIn(seg.run); err != nil {
			return err
		}
	}
	if err := l.cut(seg); err != nil {
		return err
	}
	return l.hand(seg, fn)
}

// takeIn waits for a read and puts its decoded frames in the frame cache, with the
// same gets as the planner's: the first frame (its miss), the frames after it; the
// chunk that needed the read then hits like any other.
func (l *chunkLoader) takeIn(rn *run) error {
	<-rn.done
	<-l.slots
	if rn.err != nil {
		return rn.err
	}
	for j, f := range rn.frames {
		slot, _ := l.frames.get(frameKey{rn.pack, f})
		l.frames.put(slot, rn.decoded[j], &l.frameBufs)
		rn.decoded[j] = nil
	}
	return nil
}

// cut cuts the segment's chunks out of their decoded frames into l.chunks.
func (l *chunkLoader) cut(seg segment) error {
	l.chunks = l.chunks[:0]
	for i := seg.first; i < seg.first+seg.n; i++ {
		loc := l.locs[i]
		slot, hit := l.frames.get(frameKey{loc.Pack, loc.Frame})
		if !hit {
			l.frames.used[slot] = 0
			return fmt.Errorf("load chunks: frame %d of pack %s was planned as decoded but is not", loc.Frame, loc.Pack.Short())
		}
		raw := l.frames.raws[slot]
		end := int(loc.Offset) + int(loc.Raw)
		if end > len(raw) {
			return fmt.Errorf("pack %s: chunk %s lies past the end of its frame: %w", loc.Pack.Short(), l.ids[i].Short(), ErrDamaged)
		}
		l.chunks = append(l.chunks, raw[loc.Offset:end])
	}
	return nil
}

// hand hashes the segment's chunks together and hands each to fn, in order, once it
// matches its id.
func (l *chunkLoader) hand(seg segment, fn func(i int, data []byte) error) error {
	l.got = slices.Grow(l.got[:0], len(l.chunks))[:len(l.chunks)]
	l.r.ChunkIDs(l.chunks, l.got)
	for k, data := range l.chunks {
		i := seg.first + k
		if l.got[k] != l.ids[i] {
			return fmt.Errorf("pack %s: chunk %s: content does not match its id: %w", l.locs[i].Pack.Short(), l.ids[i].Short(), ErrDamaged)
		}
		if err := fn(i, data); err != nil {
			return err
		}
	}
	return nil
}

// drain lets every read still queued end, after the context was cancelled.
func (l *chunkLoader) drain() {
	for seg := range l.queue {
		if rn := seg.run; rn != nil {
			<-rn.done
			<-l.slots
			rn.release()
		}
	}
}
