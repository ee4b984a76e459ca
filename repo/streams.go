package repo

import (
	"cmp"
	"slices"
)

// A restore plans its reads a frame or a few at a time (runs.go), to keep what it
// decodes at once small; read one request each, a restore of 512 MiB took about 530
// requests where restic takes 9, and on a link with a round trip of 50 ms those cost
// seconds. So the runs of the plan that lie in one pack, filling a stretch of it
// without a gap, are read by one request, a stream: it asks for the stretch at once
// and hands each run its bytes once the run has started. Bytes whose run has not
// started stay with the connection (the kernel's buffers, then the server, held back
// by TCP), not in memory: the budget of the reads in flight holds. Streams of several
// packs are read side by side: a restore after an incremental backup reads an old
// pack, detours to a changed chunk in a new one and comes back, each pack in one
// stream.
//
// A backup's workers seal frames side by side, so a pack holds a collection's frames
// in nearly their order, neighbours swapped. A stream reads its stretch in the pack's
// order, so a run whose bytes come before those of a run started earlier is read
// before it starts, and held: streams are chosen so that together they never hold more
// than a quarter of the budget of the reads in flight at once.
//
// A stream serves at most maxStreamRuns runs and maxStream bytes, chosen from the
// next maxStreamScan runs of the plan. While it waits for its next run to start it
// holds a connection, and waits on the consumer: if every connection of a server were
// held so, a read the consumer waits for could never be sent. So a stream of more
// than one run takes one of streamSlots (one fewer than the server's connections, for
// every call of the handle); without a slot, a run is read alone, as a request that
// waits for nothing.
const (
	maxStream     = 32 << 20
	maxStreamRuns = 256
	maxStreamScan = 1024
)

// A stream is one read of a stretch of a pack, serving runs in turn.
type stream struct {
	pack       ObjectID
	start, end uint32    // the stretch
	members    []*run    // its runs, in the order of their bytes
	turns      []int     // members[i] is the turns[i]-th of them in the plan
	left       int       // its runs not yet started
	held       int       // the most bytes it holds for runs not yet started
	bufs       *buffers  // for the runs' stored bytes
	slot       func()    // gives back its slot in streamSlots once its read ends; nil when it has none
	runs       chan *run // its runs as they start, in plan order; closed after the last or when the plan ends
}

// arrival is a run's stored bytes, or why they could not be read.
type arrival struct {
	data []byte
	err  error
}

// streamFor makes the stream that serves rn and the runs after it in the plan (ahead,
// topped up from next, maxStreamScan of them at most) that lie in its pack and have
// no stream yet: the most of them, in plan order, that fill a stretch without a gap,
// hold no more than held bytes of runs not yet started, and stay within
// maxStreamRuns and maxStream. Each of them then knows its stream. Without many (no
// slot for a stream of several runs), the stream reads rn alone.
func streamFor(rn *run, ahead *[]segment, next func() (segment, bool), held int, bufs *buffers, many bool) *stream {
	cands := []*run{rn}
	for k := 0; many && k < maxStreamScan && len(cands) < maxStreamRuns; k++ {
		if k == len(*ahead) {
			seg, ok := next()
			if !ok {
				break
			}
			*ahead = append(*ahead, seg)
		}
		seg := (*ahead)[k]
		if seg.err != nil {
			break
		}
		if nr := seg.run; nr != nil && nr.ord == rn.ord && nr.stream == nil {
			cands = append(cands, nr)
		}
	}
	// byStart holds the first n candidates by offset; early[i] is what the stream reads
	// before byStart[i]'s bytes for runs whose turn comes after it.
	var byStart []int
	var early []int
	best, bestHeld := 1, 0 // the longest gapless prefix, and the most it holds ahead
	for n, c := range cands {
		at, _ := slices.BinarySearchFunc(byStart, c.start, func(i int, start uint32) int { return cmp.Compare(cands[i].start, start) })
		stored := int(c.end - c.start)
		over := false
		for j := at; j < len(byStart); j++ { // they lie after c and come before it in the plan
			early[j] += stored
			over = over || early[j] > held
		}
		if over {
			break
		}
		byStart = slices.Insert(byStart, at, n)
		early = slices.Insert(early, at, 0)
		first, last := cands[byStart[0]], cands[byStart[len(byStart)-1]]
		if last.end-first.start > maxStream {
			break
		}
		if gapless(cands, byStart) {
			best, bestHeld = n+1, slices.Max(early)
		}
	}
	s := &stream{pack: rn.pack, start: ^uint32(0), left: best, held: bestHeld, bufs: bufs, runs: make(chan *run, best)}
	for _, i := range byStart {
		if i < best {
			c := cands[i]
			c.stream = s
			s.members, s.turns = append(s.members, c), append(s.turns, i)
			s.start, s.end = min(s.start, c.start), max(s.end, c.end)
		}
	}
	return s
}

// gapless reports whether the runs at byStart, in order of offset, lie back to back.
func gapless(cands []*run, byStart []int) bool {
	for k := 1; k < len(byStart); k++ {
		if cands[byStart[k-1]].end != cands[byStart[k]].start {
			return false
		}
	}
	return true
}
