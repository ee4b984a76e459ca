package repo

import (
	"fmt"
)

// LoadChunks holds its memory to a byte budget whatever the frame size (format 2's
// frames decode to up to 1 MiB, and to 16 MiB for a chunk of its own): the decoded
// frames it keeps, up to cacheBytes, and the reads in flight (their stored bytes, a
// frame decrypted, what is kept of their decoded frames), up to flightBytes, all
// counted in the buffers they take (buffers). Each read costs at most maxRunCost, so
// that two or more are in flight (runsAhead at most): on a remote repository the next
// runs download while this one is decoded. Beyond the budget, a read decoding a frame
// of which the plan needs only part holds that frame whole for a moment, and a frame
// larger than the budget is read alone and kept alone. On a 512 MiB database restored
// after an incremental backup, these read the bytes that 32 frames kept and reads of
// up to 4 frames did, in 4% more reads, and the restore peaks at 74 MB instead of 110.
const (
	cacheBytes  = 4 << 20
	flightBytes = 4 << 20
	maxRunCost  = flightBytes * 3 / 8
	runsAhead   = 4
)

// A collection restored after an incremental backup hops from an old pack to a
// changed chunk in a new one and back: a read of the old pack takes the frames needed
// after the detour too, and they wait in the frame cache. The chunks looked at to pick
// them and their needs are those of the next aheadBytes of raw bytes (twice what a
// shared frame decodes to at most, so that a frame's chunks are all seen, detours
// notwithstanding), of aheadChunks at most; maxRunFrames bounds the frames of one read.
const (
	aheadBytes   = 4 << 20
	aheadChunks  = 1 << 14
	maxRunFrames = 64
)

// budget is what one LoadChunks call may hold.
type budget struct {
	cache, flight, runCost int
}

var defaultBudget = budget{cache: cacheBytes, flight: flightBytes, runCost: maxRunCost}

// A run is one read of neighbouring frames of one pack, decoded on the goroutine that
// reads it.
type run struct {
	pack       ObjectID
	ord        uint32 // the pack's ordinal in the index, in frame keys
	start, end uint32
	frames     []uint32 // offsets of its frames, in order
	needs      []int    // how much of each the plan needs (and keeps)
	cost       int      // what it holds in flight: stored bytes and needs
	decoded    [][]byte // frames[i] decoded, up to needs[i]
	err        error
	done       chan struct{}
	bufs       *buffers     // where its buffers come from and go back to
	stream     *stream      // the read that brings its stored bytes, once planned
	arrive     chan arrival // its stored bytes, from its stream
}

// A segment is what the decoder does next: take in a run's frames (when run is not
// nil), then serve chunks first..first+n-1 from decoded frames.
type segment struct {
	run      *run
	first, n int
	err      error // instead of a run and chunks: the chunk at first cannot be located
}

// decode waits for the run's stored bytes and decodes its frames, on its own
// goroutine: reads in flight also decompress and decrypt in parallel. The stored
// bytes' buffer goes back once its frames are decoded.
func (r *Repository) decode(rn *run) {
	a := <-rn.arrive
	if a.err != nil {
		rn.err = a.err
		return
	}
	data := a.data
	defer rn.bufs.put(data)
	var err error
	rn.decoded = make([][]byte, len(rn.frames))
	for i, f := range rn.frames {
		l, ok := rn.frameLen(i)
		if !ok {
			rn.err = fmt.Errorf("pack %s: frame %d: %w", rn.pack.Short(), f, ErrDamaged)
			rn.release()
			return
		}
		if rn.decoded[i], err = decodeFrameKept(r.box, data[f-rn.start:f-rn.start+l], rn.needs[i], rn.bufs); err != nil {
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
func planRuns(lc *locator, b budget, emit func(segment) bool) {
	sim := newFrameCache(b.cache)
	seg := segment{}
	for i := 0; i < lc.upTo(i+1); i++ {
		l := lc.locs[i]
		if _, hit := sim.lookup(frameKey{l.pack, l.frame}, chunkEnd(l)); hit {
			seg.n++
			continue
		}
		if !seg.empty() && !emit(seg) {
			return
		}
		rn := runFrom(lc, i, b)
		sim.takeIn(rn)
		sim.lookup(frameKey{l.pack, l.frame}, chunkEnd(l)) // a hit, as in the decoder
		seg = segment{run: rn, first: i, n: 1}
	}
	if !seg.empty() && !emit(seg) {
		return
	}
	if lc.err != nil {
		emit(segment{first: lc.n, err: lc.err})
	}
}

func chunkEnd(p place) int { offset, raw := p.span(); return int(offset) + int(raw) }

func (s segment) empty() bool { return s.n == 0 && s.run == nil }

// runFrom plans the read that starts at chunk i's frame: it also takes the frames
// right after it in the pack that the next chunks need, detours to other packs
// notwithstanding, while the read costs no more than b.runCost (and brings in no
// more than the frame cache keeps), up to maxRunFrames frames and maxRun stored bytes.
// It takes only frames needed before half the frame cache's bytes were served: one
// needed later would likely be let go before its turn, and read again. Each frame's
// need is the end of the last chunk of it among the next chunks.
func runFrom(lc *locator, i int, b budget) *run {
	soon := lc.soon(i)
	l := lc.locs[i]
	first := soon[l.frame]
	rn := &run{pack: lc.idx.packID(l.pack), ord: l.pack, start: l.frame, end: l.frame + first.stored, frames: []uint32{l.frame}, needs: []int{first.need}}
	kept, largest := classOf(first.need), first.stored
	for len(rn.frames) < maxRunFrames {
		f, ok := soon[rn.end]
		if !ok || f.at > b.cache/2 || rn.end-rn.start+f.stored > maxRun {
			break
		}
		k, big := kept+classOf(f.need), max(largest, f.stored)
		if runCost(rn.end-rn.start+f.stored, k, big) > b.runCost || k > b.cache {
			break
		}
		rn.frames = append(rn.frames, rn.end)
		rn.needs = append(rn.needs, f.need)
		rn.end += f.stored
		kept, largest = k, big
	}
	rn.cost = runCost(rn.end-rn.start, kept, largest)
	return rn
}

// runCost is what a read holds in flight, in the buffers it takes: its stored bytes,
// what it keeps of its frames, and (in an encrypted repository) one frame decrypted.
func runCost(stored uint32, kept int, largest uint32) int {
	return classOf(int(stored)) + kept + classOf(int(largest))
}

// soonFrame is a frame of the pack of a run's first chunk that the next chunks need.
type soonFrame struct {
	stored uint32 // its stored length
	need   int    // the end of the last chunk of it they need
	at     int    // the raw bytes of the chunks before the first of it they need
}

// soon returns the frames of chunk i's pack, from chunk i's frame on, that the chunks
// from i on need within aheadBytes raw bytes and aheadChunks chunks, by frame offset.
func (lc *locator) soon(i int) map[uint32]soonFrame {
	l := lc.locs[i]
	soon := map[uint32]soonFrame{}
	last := uint32(0)
	var f soonFrame
	raw := 0
	for j := i; j < i+aheadChunks && raw < aheadBytes && j < lc.upTo(j+1); j++ {
		m := lc.locs[j]
		offset, length := m.span()
		raw += int(length)
		if m.pack != l.pack || m.frame < l.frame {
			continue
		}
		if m.frame != last || j == i {
			if j != i {
				soon[last] = f
			}
			last, f = m.frame, soon[m.frame]
			if f.need == 0 {
				f.at = raw - int(length)
			}
		}
		f.stored, f.need = m.frameLen(), max(f.need, int(offset)+int(length))
	}
	soon[last] = f
	return soon
}

// maxRun bounds the stored bytes of one read.
const maxRun = 8 << 20

// takeIn replays, without the bytes, what the decoder does with a read: it adds the
// run's frames, the first one last, so that the chunk that needed the read then hits.
func (c *frameCache) takeIn(rn *run) {
	for j := len(rn.frames) - 1; j >= 0; j-- {
		c.add(frameKey{rn.ord, rn.frames[j]}, rn.needs[j], nil, nil)
	}
}
