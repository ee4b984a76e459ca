package repo

import (
	"context"
	"fmt"
)

// maxRun bounds one read when loading consecutive chunks.
const maxRun = 8 << 20

// runsAhead is how many reads LoadChunks keeps in flight: on a remote repository the
// next runs download while this one is decoded.
const runsAhead = 4

// A run is one read of neighbouring frames of one pack, decoded on the goroutine that
// reads it.
type run struct {
	pack       ObjectID
	start, end uint32
	frames     []uint32 // offsets of its frames, in order
	decoded    [][]byte // frames[i] decoded
	err        error
	done       chan struct{}
	reads      *buffers // where its read's buffer comes from and goes back to
	bufs       *buffers // and its decoded frames'
}

// A segment is what the decoder does next: take in a run's frames (when run is not
// nil), then serve chunks first..first+n-1 from decoded frames.
type segment struct {
	run      *run
	first, n int
	err      error // instead of a run and chunks: the chunk at first cannot be located
}

// recentFrames is how many decoded frames LoadChunks keeps, and maxRunFrames the most
// one read brings in. A collection restored after an incremental backup hops from an
// old pack to a changed chunk in a new one and back: a read of the old pack takes the
// frames needed after the detour too, and they wait here.
const (
	recentFrames      = 32
	maxRunFrames      = recentFrames / 2
	maxRunFramesLarge = 4    // frames of format 2, up to 1 MiB (of 256 KiB in a backup's batches)
	lookahead         = 1024 // chunks looked at to pick the frames a read brings in
)

// fetch reads the run and decodes its frames, on its own goroutine: reads in flight
// also decompress and decrypt in parallel. The read's buffer goes back once its
// frames are decoded.
func (r *Repository) fetch(ctx context.Context, rn *run) {
	data, err := r.loadRangeInto(ctx, rn.pack, rn.reads.get(int(rn.end-rn.start)), int64(rn.start))
	if err != nil {
		rn.err = err
		return
	}
	defer rn.reads.put(data)
	rn.decoded = make([][]byte, len(rn.frames))
	for i, f := range rn.frames {
		l, ok := rn.frameLen(i)
		if !ok {
			rn.err = fmt.Errorf("pack %s: frame %d: %w", rn.pack.Short(), f, ErrDamaged)
			rn.release()
			return
		}
		if rn.decoded[i], err = decodeFrame(r.box, data[f-rn.start:f-rn.start+l], rn.bufs.get(0)); err != nil {
			rn.err = fmt.Errorf("pack %s: %w", rn.pack.Short(), err)
			rn.release()
			return
		}
	}
}

// release hands the run's decoded frames back, when they will not be used.
func (rn *run) release() {
	for i, raw := range rn.decoded {
		if raw != nil {
			rn.bufs.put(raw)
		}
		rn.decoded[i] = nil
	}
}

// frameLen is the stored length of the run's i-th frame: frames are back to back.
func (rn *run) frameLen(i int) (uint32, bool) {
	next := rn.end
	if i+1 < len(rn.frames) {
		next = rn.frames[i+1]
	}
	return next - rn.frames[i], next > rn.frames[i]
}

// planRuns walks the chunks in order, looking them up a block ahead of it and
// replaying the decoder's frame cache, and emits a segment for each read and the
// chunks served after it, until emit returns false. A chunk that cannot be looked up
// ends the plan with a segment holding the error.
func (r *Repository) planRuns(lc *locator, emit func(segment) bool) {
	var sim frameCache
	seg := segment{}
	for i := 0; i < lc.upTo(i+1); i++ {
		locs := lc.locs[:lc.upTo(i+lookahead)]
		l := locs[i]
		if _, hit := sim.get(frameKey{l.Pack, l.Frame}); hit {
			seg.n++
			continue
		}
		if !seg.empty() && !emit(seg) {
			return
		}
		rn := runFrom(locs, i, r.maxRunFrames())
		sim.takeIn(rn)
		seg = segment{run: rn, first: i, n: 1}
	}
	if !seg.empty() && !emit(seg) {
		return
	}
	if lc.err != nil {
		emit(segment{first: lc.n, err: lc.err})
	}
}

// maxRunFrames is the most frames one read brings in: 16 of format 1's 64 KiB frames,
// 4 of format 2's larger ones, so that the frames decoded by the reads in flight stay
// about a MiB each. (16 of them took a 512 MiB restore's peak RSS from 108 to 137 MiB
// and read no fewer bytes.)
func (r *Repository) maxRunFrames() int {
	if r.largeFrames() {
		return maxRunFramesLarge
	}
	return maxRunFrames
}

func (s segment) empty() bool { return s.n == 0 && s.run == nil }

// runFrom plans the read that starts at chunk i's frame: it also takes the frames
// right after it in the pack that the next chunks need, detours to other packs
// notwithstanding, up to maxFrames frames and maxRun bytes.
func runFrom(locs []Location, i, maxFrames int) *run {
	l := locs[i]
	soon := map[uint32]uint32{} // frame offset -> stored length, of this pack
	for _, m := range locs[i:min(len(locs), i+lookahead)] {
		if m.Pack == l.Pack && m.Frame >= l.Frame {
			soon[m.Frame] = m.FrameLen
		}
	}
	rn := &run{pack: l.Pack, start: l.Frame, end: l.Frame + l.FrameLen, frames: []uint32{l.Frame}}
	for len(rn.frames) < maxFrames {
		n, ok := soon[rn.end]
		if !ok || rn.end-rn.start+n > maxRun {
			break
		}
		rn.frames = append(rn.frames, rn.end)
		rn.end += n
	}
	return rn
}

// takeIn replays, without the bytes, what the decoder does with a read that missed at
// its first frame (that miss already counted): it takes the frames after the first
// in, then serves the chunk that needed the read, a hit.
func (c *frameCache) takeIn(rn *run) {
	for _, f := range rn.frames[1:] {
		c.get(frameKey{rn.pack, f})
	}
	c.get(frameKey{rn.pack, rn.frames[0]})
}
