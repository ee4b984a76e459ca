package repo

import (
	"context"
	"errors"
	"io"

	"cairn/transport"
)

// streamRead is one stream being read: which of its runs have started, which have
// their bytes, and the bytes read ahead of their run's start.
type streamRead struct {
	s       *stream
	started []*run   // by turn: the runs started so far
	early   [][]byte // by turn: bytes read before the run started
	handed  []bool   // by turn: the run had its answer
	read    []bool   // by turn: its bytes were read
	unread  int      // the first turn whose bytes are not read
}

// errPlanEnded stops a stream whose plan ended before its runs started.
var errPlanEnded = errors.New("the plan ended")

// readStream reads the stream, on its own goroutine: each run sent on s.runs gets its
// stored bytes, in a buffer from s.bufs, or the error that stopped the read, on its
// arrive channel. The stretch is read in order; a run's bytes are read when the run
// has started, or before when a run that started earlier waits for bytes after them.
// It ends once s.runs is closed and every run sent on it has had its answer.
func (r *Repository) readStream(ctx context.Context, s *stream) {
	n := len(s.members)
	sr := &streamRead{s: s, early: make([][]byte, n), handed: make([]bool, n), read: make([]bool, n)}
	h := transport.Handle{Kind: transport.Data, Name: s.pack.String()}
	err := r.be.Load(ctx, h, int(s.end-s.start), int64(s.start), func(rd io.Reader) error {
		for i, rn := range s.members {
			for !sr.mayRead(i) {
				if !sr.receive() {
					return errPlanEnded
				}
			}
			buf := s.bufs.get(int(rn.end - rn.start))
			if _, err := io.ReadFull(rd, buf); err != nil {
				s.bufs.put(buf)
				return err
			}
			sr.got(s.turns[i], buf)
		}
		return nil
	})
	if s.slot != nil {
		s.slot() // its connection is free
	}
	if err != nil && !errors.Is(err, errPlanEnded) {
		err = r.loadError(h, err)
	}
	for sr.receive() { // every run yet to start: its bytes, held, or the error
	}
	sr.end(err)
}

// mayRead reports whether the bytes of member i may be read: its run started, or a
// run started earlier waits for bytes after them.
func (sr *streamRead) mayRead(i int) bool {
	t := sr.s.turns[i]
	return t < len(sr.started) || sr.unread < t
}

// receive takes the next run that started, handing it its bytes if they were read
// ahead; false when no more will start.
func (sr *streamRead) receive() bool {
	rn, ok := <-sr.s.runs
	if !ok {
		return false
	}
	t := len(sr.started)
	sr.started = append(sr.started, rn)
	if sr.read[t] {
		sr.hand(t, arrival{data: sr.early[t]})
		sr.early[t] = nil
	}
	return true
}

// got takes the bytes of the run of turn t: to the run if it started, held otherwise.
func (sr *streamRead) got(t int, buf []byte) {
	sr.read[t] = true
	for sr.unread < len(sr.read) && sr.read[sr.unread] {
		sr.unread++
	}
	if t < len(sr.started) {
		sr.hand(t, arrival{data: buf})
	} else {
		sr.early[t] = buf
	}
}

func (sr *streamRead) hand(t int, a arrival) {
	sr.started[t].arrive <- a
	sr.handed[t] = true
}

// end hands err to every started run still without an answer (a read that failed)
// and lets go of bytes held for runs that never started.
func (sr *streamRead) end(err error) {
	for t, rn := range sr.started {
		if !sr.handed[t] {
			rn.arrive <- arrival{err: err}
		}
	}
	for _, buf := range sr.early {
		if buf != nil {
			sr.s.bufs.put(buf)
		}
	}
}
