package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"cairn/transport"
)

// Load implements transport.Backend. fn is called once at most, with a reader over
// the whole range:
//   - a load that fails before fn has its reader (a 503, a refused connection) is
//     asked for again;
//   - a body that fails transiently while fn reads it (cut short on the way) is asked
//     for again from the byte where it stopped, and fn reads on as if nothing had
//     happened; the rest must be as long as what was left, or the read fails.
//
// Both draw on one budget of Options.Max retries per call. Errors of fn are handed
// back as they are and never retried.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load %s: %w", h, err)
	}
	r := &resumer{b: b, ctx: ctx, h: h, length: length, offset: offset}
	defer r.abandon()
	if err := r.open(); err != nil {
		return err
	}
	r.size = -1
	if s, ok := r.seg.rd.(transport.Sizer); ok && s.Size() >= 0 {
		r.size = s.Size()
	}
	if err := fn(r); err != nil {
		return err
	}
	return r.finish()
}

// resumer is the reader Load hands to its callback: the body of one inner Load at a
// time (a segment), the next one asked for from where the last was cut.
type resumer struct {
	b      *Backend
	ctx    context.Context
	h      transport.Handle
	length int   // of the whole range; 0: to the end of the object
	offset int64 // of the whole range
	size   int64 // bytes in the whole range, as the first segment said; -1: unknown

	seg     *segment
	read    int64 // bytes handed to the callback so far
	retries int   // retries made so far, of opening and resuming alike
	err     error // the error that ended reading, handed out again on every Read
}

// Size implements transport.Sizer: the length of the whole range when the first
// answer said it, so transport.ReadAll reads it into one buffer.
func (r *resumer) Size() int64 { return r.size }

// open asks for the range from r.read on, retrying transient failures within the
// budget.
func (r *resumer) open() error {
	for {
		seg, err := r.segment()
		if err == nil {
			r.seg = seg
			return nil
		}
		if err := r.again(err); err != nil {
			return err
		}
	}
}

// again decides after err whether to try once more (nil, after the backoff) or to
// give up (the error to report).
func (r *resumer) again(err error) error {
	if s, ok := errors.AsType[*stop](err); ok {
		return s.err
	}
	if cerr := r.ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return err
		}
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if r.b.Backend.IsPermanent(err) {
		return err
	}
	if r.retries >= r.b.opt.Max {
		return exhausted(err, r.retries)
	}
	if werr := r.b.wait(r.ctx, r.retries); werr != nil {
		return fmt.Errorf("%w (after %v)", werr, err)
	}
	r.retries++
	return nil
}

// segment asks the wrapped backend for the part of the range not yet read.
func (r *resumer) segment() (*segment, error) {
	length, offset := r.length, r.offset+r.read
	if r.length > 0 {
		length = r.length - int(r.read)
	}
	seg, err := startSegment(r.ctx, r.b.Backend, r.h, length, offset)
	if err != nil || r.read == 0 || r.size < 0 {
		return seg, err
	}
	// The rest of a range whose size the first answer gave must be exactly as long.
	left := r.size - r.read
	if s, ok := seg.rd.(transport.Sizer); ok && s.Size() >= 0 && s.Size() != left {
		seg.close()
		return nil, &stop{fmt.Errorf("load %s: asked again for the last %d bytes of %d, the server answers with %d: %w",
			r.h, left, r.size, s.Size(), io.ErrUnexpectedEOF)}
	}
	return seg, nil
}

// Read implements io.Reader. A transient error while reading ends the segment and
// opens the next one at the first byte not read.
func (r *resumer) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.size >= 0 && r.read == r.size {
			return r.atEnd(p)
		}
		n, err := r.seg.rd.Read(p)
		r.read += int64(n)
		if r.size >= 0 && r.read > r.size {
			n -= int(r.read - r.size)
			r.read = r.size
			r.err = fmt.Errorf("load %s: more than the %d bytes announced", r.h, r.size)
			return n, r.err
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		r.seg.close()
		r.seg = nil
		if err := r.again(err); err != nil {
			r.err = fmt.Errorf("load %s: after %d bytes: %w", r.h, r.read, err)
			return n, r.err
		}
		if err := r.open(); err != nil {
			r.err = err
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, r.err
}

// atEnd reads on once every byte announced has arrived: the end, whatever the
// connection does next, unless more bytes come.
func (r *resumer) atEnd(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var one [1]byte
	if n, _ := r.seg.rd.Read(one[:]); n > 0 {
		r.err = fmt.Errorf("load %s: more than the %d bytes announced", r.h, r.size)
		return 0, r.err
	}
	return 0, io.EOF
}

// finish ends the segment fn read, returning the wrapped Load's own error once its
// callback returned, if any.
func (r *resumer) finish() error {
	if r.seg == nil {
		return nil
	}
	seg := r.seg
	r.seg = nil
	return seg.end()
}

// abandon ends the segment unread, if one is open.
func (r *resumer) abandon() {
	if r.seg != nil {
		r.seg.close()
		r.seg = nil
	}
}

// segment is one Load of the wrapped backend held open while its reader is read
// elsewhere: the Load runs as a coroutine (iter.Pull2) paused in its callback, from
// startSegment until end or close, which let the callback return and the Load end.
type segment struct {
	rd   io.Reader
	next func() (io.Reader, error, bool)
	stop func()
}

// errReleased is what the paused callback returns to the wrapped Load when the
// segment is closed unfinished.
var errReleased = errors.New("load released unfinished")

// startSegment starts be.Load and returns once its callback has the reader, or the
// Load has failed without one.
func startSegment(ctx context.Context, be transport.Backend, h transport.Handle, length int, offset int64) (*segment, error) {
	pull, release := iter.Pull2(func(yield func(io.Reader, error) bool) {
		called, released := false, false
		err := be.Load(ctx, h, length, offset, func(rd io.Reader) error {
			called = true
			if !yield(rd, nil) {
				released = true
				return errReleased
			}
			return nil
		})
		switch {
		case released:
		case err != nil:
			yield(nil, err)
		case !called:
			yield(nil, &stop{fmt.Errorf("load %s: %s answered without the object", h, be.Location())})
		}
	})
	rd, err, ok := pull()
	if !ok || err != nil || rd == nil {
		release()
		if err == nil {
			err = &stop{fmt.Errorf("load %s: %s gave no reader", h, be.Location())}
		}
		return nil, err
	}
	return &segment{rd: rd, next: pull, stop: release}, nil
}

// end lets the callback return nil and the Load finish; it returns the Load's error.
func (s *segment) end() error {
	_, err, ok := s.next()
	s.stop()
	if ok {
		return err
	}
	return nil
}

// close makes the callback return errReleased and the Load end.
func (s *segment) close() { s.stop() }
