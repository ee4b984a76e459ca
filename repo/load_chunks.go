package repo

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"

	"golang.org/x/sync/semaphore"

	"cairn/chunk"
)

// LoadChunks calls fn with the raw bytes of each chunk in ids, in order. Frames that
// sit next to each other in one pack are read together, up to runsAhead reads are in
// flight at once and decode their frames as they arrive, and decoded frames are kept
// for the chunks after them, all within a byte budget (runs.go). data is valid only
// during fn. The chunks are looked up in the index as the reads are planned, so the
// first read starts at once; a chunk the index lacks fails the call once the chunks
// before it were served.
func (r *Repository) LoadChunks(ctx context.Context, ids []chunk.ID, fn func(i int, data []byte) error) error {
	_, err := r.loadChunks(ctx, ids, defaultBudget, false, func(i, _ int, data []byte) error { return fn(i, data) })
	return err
}

// LoadChunkSpans is LoadChunks handing fn the chunks in spans: data holds chunks first
// to first+n-1 back to back, as they lie in one decoded frame, each checked against
// its id. A caller that wants the bytes in order (a restore writing a file) takes
// them without a copy per chunk. data is valid only during fn.
func (r *Repository) LoadChunkSpans(ctx context.Context, ids []chunk.ID, fn func(first, n int, data []byte) error) error {
	_, err := r.loadChunks(ctx, ids, defaultBudget, true, fn)
	return err
}

// loadChunks is LoadChunks within budget b, in spans when spans is true (in chunks
// otherwise); it also returns the most bytes of buffers it held at once.
func (r *Repository) loadChunks(ctx context.Context, ids []chunk.ID, b budget, spans bool, fn func(first, n int, data []byte) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &chunkLoader{
		r: r, idx: r.idx, ids: ids, b: b, locs: make([]place, len(ids)),
		queue: make(chan segment, runsAhead), slots: make(chan struct{}, runsAhead),
		flight: semaphore.NewWeighted(int64(b.flight)), frames: newFrameCache(b.cache),
		bufs: new(buffers),
	}
	defer l.frames.release(l.bufs)
	defer l.streams.Wait()
	go l.plan(ctx) // ends when every segment is queued or ctx ends, and its reads with it
	for seg := range l.queue {
		if err := l.serve(seg, spans, fn); err != nil {
			cancel()
			l.drain()
			return l.bufs.peak, err
		}
	}
	return l.bufs.peak, ctx.Err()
}

// locator looks chunks up in the index ahead of the planner, a block at a time.
type locator struct {
	idx  *Index
	ids  []chunk.ID
	locs []place
	n    int   // locs[:n] are looked up
	err  error // why chunk n could not be, if it could not
}

// lookupBlock is how many chunks the locator looks up at once, under one lock.
const lookupBlock = 512

// upTo looks the chunks up to (not including) want up, and up to a block beyond, and
// returns how many are, fewer than want when one is missing from the index (l.err
// says which).
func (l *locator) upTo(want int) int {
	if l.err != nil || l.n >= want || l.n == len(l.ids) {
		return l.n
	}
	end := min(len(l.ids), max(want, l.n+lookupBlock))
	l.n += l.idx.lookupMany(l.ids[l.n:end], l.locs[l.n:end])
	if l.n < end {
		l.err = fmt.Errorf("chunk %s: %w", l.ids[l.n].Short(), ErrNotFound)
	}
	return l.n
}

// chunkLoader is one LoadChunks call: a planner goroutine queues segments and starts
// their reads; the caller's goroutine takes the decoded frames in and serves chunks.
type chunkLoader struct {
	r       *Repository
	idx     *Index // the one the chunks are looked up in, whose pack ordinals locs hold
	ids     []chunk.ID
	b       budget
	locs    []place
	queue   chan segment        // planned segments in order; closed when the planner ends
	slots   chan struct{}       // one per read in flight
	flight  *semaphore.Weighted // the bytes of the reads in flight (run.cost)
	frames  *frameCache         // the decoder's: the same lookups and adds as the planner's
	bufs    *buffers            // for the reads' stored bytes and their decoded frames
	streams sync.WaitGroup      // the streams' reads

	chunks [][]byte   // the segment being served, cut out of its frames
	got    []chunk.ID // their ids as hashed
}

// plan runs the planner, starting each read as it is planned and queueing its
// segment; the runs that lie back to back in a pack are read by one stream
// (streams.go), for which the plan is looked at up to maxStreamScan runs ahead. A read
// whose segment cannot be queued (ctx ended) is waited for here, so that every read
// has ended once the queue is closed and drained.
func (l *chunkLoader) plan(ctx context.Context) {
	defer close(l.queue)
	lc := &locator{idx: l.idx, ids: l.ids, locs: l.locs}
	next, stop := iter.Pull(func(yield func(segment) bool) { planRuns(lc, l.b, yield) })
	defer stop()
	var ahead []segment // planned, not yet queued
	var open []*stream  // streams with runs yet to start
	held := 0           // what they may hold for runs not yet started
	defer func() {
		for _, s := range open { // the plan ended before their runs
			if s.left == len(s.members) && s.slot != nil {
				s.slot() // no read was started to give it back
			}
			close(s.runs)
		}
	}()
	for {
		if len(ahead) == 0 {
			seg, ok := next()
			if !ok {
				return
			}
			ahead = append(ahead, seg)
		}
		seg := ahead[0]
		ahead = ahead[1:]
		if rn := seg.run; rn != nil {
			if rn.stream == nil {
				s := l.newStream(rn, &ahead, next, l.b.flight/4-held)
				open, held = append(open, s), held+s.held
			}
			s := rn.stream
			if !l.startRead(ctx, rn, s, s.left == len(s.members)) {
				return
			}
			if s.left--; s.left == 0 { // what it held is handed out as its runs start
				close(s.runs)
				open, held = slices.DeleteFunc(open, func(o *stream) bool { return o == s }), held-s.held
			}
		}
		select {
		case l.queue <- seg:
		case <-ctx.Done():
			if rn := seg.run; rn != nil {
				l.endRead(rn)
				rn.release()
			}
			return
		}
	}
}

// newStream makes the stream of rn (streamFor), with a slot of the handle's
// streamSlots when it serves more than rn.
func (l *chunkLoader) newStream(rn *run, ahead *[]segment, next func() (segment, bool), held int) *stream {
	slots := l.r.streamSlots
	many := slots == nil || slots.TryAcquire(1)
	s := streamFor(rn, ahead, next, held, l.bufs, many)
	if slots != nil && many {
		if len(s.members) > 1 {
			s.slot = func() { slots.Release(1) }
		} else {
			slots.Release(1)
		}
	}
	return s
}

// startRead waits for a free slot and for the bytes the run costs in flight (all of
// them, when it costs more), and starts the run: its stream hands it its stored
// bytes (the stream's read starts with the first of its runs in the plan) and its own
// goroutine decodes them. It reports false when ctx ends first.
func (l *chunkLoader) startRead(ctx context.Context, rn *run, s *stream, first bool) bool {
	rn.done = make(chan struct{})
	rn.bufs = l.bufs
	rn.arrive = make(chan arrival, 1)
	rn.cost = min(rn.cost, l.b.flight)
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if l.flight.Acquire(ctx, int64(rn.cost)) != nil {
		<-l.slots
		return false
	}
	if first {
		l.streams.Add(1)
		go func() { // ends when its runs have their bytes, or the read failed
			defer l.streams.Done()
			l.r.readStream(ctx, s)
		}()
	}
	s.runs <- rn
	go func() { // ends when the run is decoded, or failed
		l.r.decode(rn)
		close(rn.done)
	}()
	return true
}

// endRead waits for a started read to end and frees its slot and bytes in flight: its
// frames are then the frame cache's, or let go.
func (l *chunkLoader) endRead(rn *run) {
	<-rn.done
	<-l.slots
	l.flight.Release(int64(rn.cost))
}

// serve takes the segment's read in, if it has one, and hands its chunks to fn.
func (l *chunkLoader) serve(seg segment, spans bool, fn func(first, n int, data []byte) error) error {
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
	return l.hand(seg, spans, fn)
}

// takeIn waits for a read and adds its decoded frames to the frame cache as the
// planner did, the first one last; the chunk that needed the read then hits like any
// other.
func (l *chunkLoader) takeIn(rn *run) error {
	l.endRead(rn)
	if rn.err != nil {
		return rn.err
	}
	for j := len(rn.frames) - 1; j >= 0; j-- {
		l.frames.add(frameKey{rn.ord, rn.frames[j]}, rn.needs[j], rn.decoded[j], l.bufs)
		rn.decoded[j] = nil
	}
	return nil
}

// cut cuts the segment's chunks out of their decoded frames into l.chunks.
func (l *chunkLoader) cut(seg segment) error {
	l.chunks = l.chunks[:0]
	for i := seg.first; i < seg.first+seg.n; i++ {
		loc := l.locs[i]
		end := chunkEnd(loc)
		f, hit := l.frames.lookup(frameKey{loc.pack, loc.frame}, end)
		if !hit {
			return fmt.Errorf("load chunks: frame %d of pack %s was planned as decoded but is not", loc.frame, l.idx.packID(loc.pack).Short())
		}
		raw := f.raw
		if end > len(raw) {
			return fmt.Errorf("pack %s: chunk %s lies past the end of its frame: %w", l.idx.packID(loc.pack).Short(), l.ids[i].Short(), ErrDamaged)
		}
		offset, _ := loc.span()
		l.chunks = append(l.chunks, raw[offset:end])
	}
	return nil
}

// hand hashes the segment's chunks together and hands them to fn, in order, each once
// it matches its id: one by one, or in spans of chunks that follow each other in a
// frame when spans is true.
func (l *chunkLoader) hand(seg segment, spans bool, fn func(first, n int, data []byte) error) error {
	l.got = slices.Grow(l.got[:0], len(l.chunks))[:len(l.chunks)]
	l.r.ChunkIDs(l.chunks, l.got)
	first, n := seg.first, 0
	var span []byte
	for k, data := range l.chunks {
		i := seg.first + k
		if l.got[k] != l.ids[i] {
			if n > 0 {
				if err := fn(first, n, span); err != nil {
					return err
				}
			}
			return fmt.Errorf("pack %s: chunk %s: content does not match its id: %w", l.idx.packID(l.locs[i].pack).Short(), l.ids[i].Short(), ErrDamaged)
		}
		if spans && n > 0 && follows(l.locs[i-1], l.locs[i]) {
			span = span[:len(span)+len(data)] // data lies right after it, in the same buffer
			n++
			continue
		}
		if n > 0 {
			if err := fn(first, n, span); err != nil {
				return err
			}
		}
		first, n, span = i, 1, data
	}
	if n > 0 {
		return fn(first, n, span)
	}
	return nil
}

// follows reports whether chunk b starts where chunk a ends, in the same frame.
func follows(a, b place) bool {
	return a.pack == b.pack && a.frame == b.frame && chunkEnd(a) == int(b.offset())
}

// drain lets every read still queued end, after the context was cancelled.
func (l *chunkLoader) drain() {
	for seg := range l.queue {
		if rn := seg.run; rn != nil {
			l.endRead(rn)
			rn.release()
		}
	}
}
