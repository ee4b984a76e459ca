package repo

import (
	"cmp"
	"slices"
)

// A restore plans its reads a frame or a few at a time (runs.go), to keep what it
// decodes at once small; read one request each, a restore of 512 MiB took about 530
// requests where restic takes 9, and on a link with a round trip of 50 ms those cost
// seconds. So the runs that follow each other in the plan and lie in one pack, filling
// a stretch of it without a gap, are read by one request, a stream: it asks for the
// stretch at once and hands each run its bytes once the run has started. Bytes whose
// run has not started stay with the connection (the kernel's buffers, then the
// server, held back by TCP), not in memory: the budget of the reads in flight holds.
//
// A backup's workers seal frames side by side, so a pack holds a collection's frames
// in nearly their order, neighbours swapped. A stream reads its stretch in the pack's
// order, so a run whose bytes come before those of a run started earlier is read
// before it starts, and held: its stream is chosen so that this never holds more than
// a quarter of the budget of the reads in flight at once.
//
// A stream serves at most maxStreamRuns runs and maxStream bytes; the planner looks
// that many runs ahead to choose it.
const (
	maxStream     = 32 << 20
	maxStreamRuns = 256
)

// A stream is one read of a stretch of a pack, serving runs in turn.
type stream struct {
	pack       ObjectID
	start, end uint32    // the stretch
	members    []*run    // its runs, in the order of their bytes
	turns      []int     // members[i] is the turns[i]-th of them in the plan
	bufs       *buffers  // for the runs' stored bytes
	runs       chan *run // its runs as they start, in plan order; closed after the last or when the plan ends
}

// arrival is a run's stored bytes, or why they could not be read.
type arrival struct {
	data []byte
	err  error
}

// streamFor returns the stream that serves rn and the runs right after it in the plan
// (ahead, topped up from next) that lie in its pack: the most of them that fill a
// stretch without a gap, hold no more than held bytes of runs not yet started, and
// stay within maxStreamRuns and maxStream. The stream's runs are the next ones in the
// plan, as many as its members.
func streamFor(rn *run, ahead *[]segment, next func() (segment, bool), held int, bufs *buffers) *stream {
	cands := []*run{rn}
	for k := 0; len(cands) < maxStreamRuns; k++ {
		if k == len(*ahead) {
			seg, ok := next()
			if !ok {
				break
			}
			*ahead = append(*ahead, seg)
		}
		seg := (*ahead)[k]
		if seg.err != nil || seg.run != nil && seg.run.ord != rn.ord {
			break
		}
		if seg.run != nil {
			cands = append(cands, seg.run)
		}
	}
	// byStart holds the first n candidates by offset; early[i] is what the stream reads
	// before byStart[i]'s bytes for runs whose turn comes after it.
	var byStart []int
	var early []int
	best := 1
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
			best = n + 1
		}
	}
	s := &stream{pack: rn.pack, start: ^uint32(0), bufs: bufs, runs: make(chan *run, best)}
	for _, i := range byStart {
		if i < best {
			c := cands[i]
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
