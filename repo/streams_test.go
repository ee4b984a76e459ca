package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/retry"
)

// oneFrameRuns is a budget whose reads take one frame each, so that a stretch of a
// pack is many runs.
var oneFrameRuns = budget{cache: 512 << 10, flight: 512 << 10, runCost: 16 << 10}

// framesOf groups ids (in storage order) by the frame that holds them, in order, and
// says which pack holds each group.
func framesOf(tb testing.TB, r *Repository, ids []chunk.ID) (groups [][]chunk.ID, packOf []ObjectID) {
	tb.Helper()
	var last Location
	for i, id := range ids {
		loc, ok := r.idx.Lookup(id)
		if !ok {
			tb.Fatalf("chunk %s not indexed", id.Short())
		}
		if i == 0 || loc.Pack != last.Pack || loc.Frame != last.Frame {
			groups, packOf = append(groups, nil), append(packOf, loc.Pack)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], id)
		last = loc
	}
	return groups, packOf
}

// TestLoadChunksStreamsStretches: runs that follow each other in the plan and fill a
// stretch of a pack are read by one request, in storage order and with neighbouring
// frames swapped (as a backup's workers leave them), within the budget and a quarter of
// it held ahead; a plan that hops about still reads every chunk right.
func TestLoadChunksStreamsStretches(t *testing.T) {
	r0, ids, data := savedChunks(t, 3000)
	fb := faulty.New(r0.be)
	r, err := Open(context.Background(), fb)
	if err != nil {
		t.Fatal(err)
	}
	groups, packOf := framesOf(t, r, ids)
	packs := len(slices.Compact(slices.Clone(packOf)))
	var swapped []chunk.ID // each frame after the next one, in its pack
	for k := 0; k < len(groups); k++ {
		if k+1 < len(groups) && packOf[k+1] == packOf[k] {
			swapped = append(swapped, groups[k+1]...)
			swapped = append(swapped, groups[k]...)
			k++
			continue
		}
		swapped = append(swapped, groups[k]...)
	}
	shuffled, hops := orders(ids, 7, 20, 200)
	b := oneFrameRuns
	bound := b.cache + b.flight + b.flight/4 + 64<<10
	for _, tc := range []struct {
		name     string
		ids      []chunk.ID
		maxLoads int // 0: no bound
	}{
		{"storage order", ids, packs},
		{"neighbouring frames swapped", swapped, packs},
		{"shuffled", shuffled, 0},
		{"hops and repeats", hops, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loads := fb.Calls(faulty.Load)
			next := 0
			peak, err := r.loadChunks(context.Background(), tc.ids, b, false, func(i, _ int, got []byte) error {
				if i != next || !bytes.Equal(got, data[tc.ids[i]]) {
					return fmt.Errorf("chunk %d: wrong bytes, or served after %d", i, next-1)
				}
				next++
				return nil
			})
			if err != nil || next != len(tc.ids) {
				t.Fatalf("%d of %d chunks served: %v", next, len(tc.ids), err)
			}
			n := fb.Calls(faulty.Load) - loads
			if tc.maxLoads > 0 && n > tc.maxLoads {
				t.Fatalf("%d requests for %d frames in %d packs, want one per pack", n, len(groups), packs)
			}
			if peak > bound && tc.maxLoads > 0 {
				t.Fatalf("held %d bytes at once, more than %d", peak, bound)
			}
			t.Logf("%d requests for %d frames in %d packs; held %d bytes at most", n, len(groups), packs, peak)
		})
	}
}

// cutLoads cuts the body of the first cuts loads of packs after a few KiB, with an
// error a retry calls transient.
type cutLoads struct {
	transport.Backend
	mu   sync.Mutex
	cuts int
}

var errCut = errors.New("connection cut")

func (c *cutLoads) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	c.mu.Lock()
	cut := h.Kind == transport.Data && c.cuts > 0
	if cut {
		c.cuts--
	}
	c.mu.Unlock()
	if !cut {
		return c.Backend.Load(ctx, h, length, offset, fn)
	}
	return c.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(io.MultiReader(io.LimitReader(rd, 5000), errReader{errCut}))
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestLoadChunksStreamCutMidway: a stream whose connection is cut partway is taken
// up again where it stopped by the retrying layer, and every chunk comes back; one
// that cannot be read again fails the call with the read's error, and every
// goroutine of the call has ended when it returns, whether the read failed, fn
// failed, or the context ended.
func TestLoadChunksStreamCutMidway(t *testing.T) {
	r0, ids, data := savedChunks(t, 3000)
	ctx := context.Background()
	check := func(i int, got []byte) error {
		if !bytes.Equal(got, data[ids[i]]) {
			return fmt.Errorf("chunk %d: wrong bytes", i)
		}
		return nil
	}
	t.Run("taken up again", func(t *testing.T) {
		cb := &cutLoads{Backend: r0.be, cuts: 5}
		r, err := Open(ctx, retry.New(cb, retry.Options{WaitMin: time.Millisecond, WaitMax: time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.loadChunks(ctx, ids, oneFrameRuns, false, func(i, _ int, got []byte) error { return check(i, got) }); err != nil {
			t.Fatal(err)
		}
		if cb.cuts != 0 {
			t.Fatalf("%d cuts left: the loads were not cut", cb.cuts)
		}
	})
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name string
		fail func(i int) error // what fn returns for chunk i
		cuts int
		ctx  func() (context.Context, func())
	}{
		{name: "the read fails", cuts: 1 << 20},
		{name: "fn fails", fail: func(i int) error {
			if i == 700 {
				return errCut
			}
			return nil
		}},
		{name: "the context ends", ctx: func() (context.Context, func()) { return context.WithTimeout(ctx, 2*time.Millisecond) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(ctx, &cutLoads{Backend: r0.be, cuts: tc.cuts})
			if err != nil {
				t.Fatal(err)
			}
			c, cancel := ctx, func() {}
			if tc.ctx != nil {
				c, cancel = tc.ctx()
			}
			defer cancel()
			served := 0
			_, err = r.loadChunks(c, ids, oneFrameRuns, false, func(i, _ int, got []byte) error {
				served++
				if tc.ctx != nil {
					time.Sleep(10 * time.Microsecond)
				}
				if tc.fail != nil {
					if err := tc.fail(i); err != nil {
						return err
					}
				}
				return check(i, got)
			})
			if err == nil {
				t.Fatalf("no error after %d chunks", served)
			}
			if tc.cuts > 0 && !errors.Is(err, errCut) {
				t.Fatalf("error %v, want the cut", err)
			}
			t.Logf("%d chunks served: %v", served, err)
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before the calls:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestStreamForHoldsLittleAhead: a stream takes in the runs after the first that lie
// in its pack and fill a stretch without a gap, stops where they would hold more than
// its bound of bytes read before their run starts, and never reaches past a run of
// another pack.
func TestStreamForHoldsLittleAhead(t *testing.T) {
	mk := func(ord uint32, start, end uint32) segment {
		return segment{run: &run{ord: ord, start: start, end: end}}
	}
	for _, tc := range []struct {
		name    string
		plan    []segment
		held    int
		members int
		start   uint32
		end     uint32
	}{
		{"back to back", []segment{mk(1, 0, 10), mk(1, 10, 20), {}, mk(1, 20, 30)}, 0, 3, 0, 30},
		{"neighbours swapped", []segment{mk(1, 10, 20), mk(1, 0, 10), mk(1, 30, 40), mk(1, 20, 30)}, 10, 4, 0, 40},
		{"swapped beyond the bound", []segment{mk(1, 10, 20), mk(1, 0, 10), mk(1, 30, 40), mk(1, 20, 30)}, 9, 1, 10, 20},
		{"a gap", []segment{mk(1, 0, 10), mk(1, 20, 30), mk(1, 30, 40)}, 100, 1, 0, 10},
		{"a gap filled later", []segment{mk(1, 0, 10), mk(1, 20, 30), mk(1, 10, 20)}, 100, 3, 0, 30},
		{"another pack between", []segment{mk(1, 0, 10), mk(2, 10, 20), mk(1, 10, 20)}, 100, 2, 0, 20},
		{"the same frame twice", []segment{mk(1, 0, 10), mk(1, 0, 10)}, 100, 1, 0, 10},
		{"an error ahead", []segment{mk(1, 0, 10), {err: ErrNotFound}, mk(1, 10, 20)}, 100, 1, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ahead := slices.Clone(tc.plan[1:])
			next := func() (segment, bool) { return segment{}, false }
			s := streamFor(tc.plan[0].run, &ahead, next, tc.held, new(buffers), true)
			if len(s.members) != tc.members || s.start != tc.start || s.end != tc.end {
				t.Fatalf("%d runs, bytes %d to %d; want %d runs, %d to %d", len(s.members), s.start, s.end, tc.members, tc.start, tc.end)
			}
			for i := 1; i < len(s.members); i++ {
				if s.members[i-1].end != s.members[i].start {
					t.Fatalf("members out of order: %v", s.members)
				}
			}
		})
	}
}

// connLimited lets as many Loads run at once as it has connections, as an HTTP client
// with a connection limit does: a Load holds one until its callback returns.
type connLimited struct {
	transport.Backend
	conns chan struct{}
	loads sync.Mutex
	n     int
}

func (c *connLimited) Connections() int { return cap(c.conns) }

func (c *connLimited) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	select {
	case c.conns <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.conns }()
	c.loads.Lock()
	c.n++
	c.loads.Unlock()
	return c.Backend.Load(ctx, h, length, offset, fn)
}

// TestLoadChunksFewConnections: two calls side by side, each hopping between two
// packs (a stream for each, waiting for one another), finish on a server of one, two
// or three connections; with one, every run is read alone.
func TestLoadChunksFewConnections(t *testing.T) {
	r0, ids, data := savedChunks(t, 3000)
	groups, packOf := framesOf(t, r0, ids)
	// Each pair of neighbouring packs read frame by frame in turn.
	var hops []chunk.ID
	for k := 0; k < len(groups); {
		a := k
		for k < len(groups) && packOf[k] == packOf[a] {
			k++
		}
		b := k
		for k < len(groups) && packOf[k] == packOf[b] {
			k++
		}
		for i := 0; a+i < b || b+i < k; i++ {
			if a+i < b {
				hops = append(hops, groups[a+i]...)
			}
			if b+i < k {
				hops = append(hops, groups[b+i]...)
			}
		}
	}
	for _, conns := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			cl := &connLimited{Backend: r0.be, conns: make(chan struct{}, conns)}
			r, err := Open(context.Background(), cl)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before := cl.n
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					_, err := r.loadChunks(ctx, hops, oneFrameRuns, false, func(i, _ int, got []byte) error {
						if !bytes.Equal(got, data[hops[i]]) {
							return fmt.Errorf("chunk %d: wrong bytes", i)
						}
						return nil
					})
					errs <- err
				}()
			}
			for range 2 {
				if err := <-errs; err != nil {
					t.Fatalf("%v (a call stuck waiting for a connection ends with the deadline)", err)
				}
			}
			n := cl.n - before
			if conns == 1 && n < 2*len(groups) {
				t.Fatalf("%d requests for twice %d frames on one connection: a stream held it", n, len(groups))
			}
			if conns == 3 && n >= 2*len(groups) {
				t.Fatalf("%d requests for twice %d frames: no streams", n, len(groups))
			}
			t.Logf("%d requests for twice %d frames", n, len(groups))
		})
	}
}
