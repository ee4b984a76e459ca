package retry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return New(mem.New(), Options{}) })
}

var (
	dataH  = transport.Handle{Kind: transport.Data, Name: "0123456789abcdef"}
	stored = bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
)

// waits records the backoffs a Backend asks for instead of sleeping them.
type waits struct {
	mu sync.Mutex
	n  int
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.n++
	w.mu.Unlock()
	return ctx.Err()
}

// newRetry wraps inner with max retries, counting its waits instead of sleeping them.
func newRetry(inner transport.Backend, max int) (*Backend, *waits) {
	b := New(inner, Options{Max: max})
	w := &waits{}
	b.sleep = w.sleep
	return b, w
}

// filled is a mem backend holding dataH.
func filled(t testing.TB) *mem.Backend {
	t.Helper()
	be := mem.New()
	if err := be.Save(t.Context(), dataH, stored); err != nil {
		t.Fatal(err)
	}
	return be
}

// call makes one call of method on dataH through be.
func call(ctx context.Context, be transport.Backend, method string) error {
	switch method {
	case faulty.Save:
		return be.Save(ctx, dataH, stored)
	case faulty.Load:
		got, err := transport.LoadAll(ctx, be, dataH)
		if err == nil && !bytes.Equal(got, stored) {
			return errors.New("loaded bytes differ")
		}
		return err
	case faulty.Stat:
		_, err := be.Stat(ctx, dataH)
		return err
	case faulty.List:
		return be.List(ctx, transport.Data, func(transport.FileInfo) error { return nil })
	case faulty.Remove:
		return be.Remove(ctx, dataH)
	}
	panic(method)
}

// TestRetries: a call that fails transiently is made again, up to Max retries with a
// backoff before each; one that fails permanently is made once.
func TestRetries(t *testing.T) {
	methods := []string{faulty.Save, faulty.Load, faulty.Stat, faulty.List, faulty.Remove}
	for _, tc := range []struct {
		name      string
		max       int
		fail      int  // the first fail calls of the method fail
		permanent bool // with a permanent error
		calls     int  // calls the wrapped backend sees
		ok        bool
	}{
		{"succeeds at once", 3, 0, false, 1, true},
		{"two transient failures", 3, 2, false, 3, true},
		{"as many failures as retries", 3, 3, false, 4, true},
		{"more failures than retries", 3, 10, false, 4, false},
		{"no retries", -1, 10, false, 1, false},
		{"permanent failure", 3, 10, true, 1, false},
	} {
		for _, method := range methods {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				n := 0
				f := faulty.New(filled(t), faulty.Fault{Method: method, Permanent: tc.permanent, Hook: func(string, transport.Handle) error {
					if n++; n <= tc.fail {
						return errors.New("try again")
					}
					return nil
				}})
				be, w := newRetry(f, tc.max)
				err := call(t.Context(), be, method)
				if got := f.Calls(method); got != tc.calls {
					t.Errorf("%d calls, want %d", got, tc.calls)
				}
				if w.n != tc.calls-1 {
					t.Errorf("%d backoffs for %d calls", w.n, tc.calls)
				}
				switch {
				case tc.ok && err != nil:
					t.Fatalf("failed: %v", err)
				case !tc.ok && !errors.Is(err, faulty.ErrInjected):
					t.Fatalf("error %v, want the injected one", err)
				case !tc.ok && be.IsPermanent(err) != tc.permanent:
					t.Fatalf("IsPermanent %v for %v", be.IsPermanent(err), err)
				case !tc.ok && tc.calls > 1 && !strings.Contains(err.Error(), "tried 4 times"):
					t.Fatalf("the error does not say how often it was tried: %v", err)
				}
			})
		}
	}
}

// TestCancelStopsRetrying: a context done during the backoff ends the call with its
// error at once.
func TestCancelStopsRetrying(t *testing.T) {
	f := faulty.New(filled(t), faulty.Fault{Method: faulty.Stat, Fail: true})
	be := New(f, Options{Max: 100, WaitMin: time.Hour, WaitMax: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	be.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return transport.Sleep(ctx, d)
	}
	_, err := be.Stat(ctx, dataH)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("stat cancelled while waiting: %v", err)
	}
	if n := f.Calls(faulty.Stat); n != 1 {
		t.Fatalf("%d calls after the cancel", n)
	}
}

// cutting is a backend whose loads fail part way: the first cuts loads deliver only
// cutAt bytes and then fail with a cut body, which IsPermanent calls transient. It
// records the ranges asked for.
type cutting struct {
	*mem.Backend
	cuts   int
	cutAt  int
	size   int64 // the size a resumed load announces; 0: the true one
	ranges [][2]int64
}

type sized struct {
	io.Reader
	size int64
}

func (s sized) Size() int64 { return s.size }

func (c *cutting) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	c.ranges = append(c.ranges, [2]int64{offset, int64(length)})
	return c.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		size := rd.(transport.Sizer).Size()
		if c.size != 0 && len(c.ranges) > 1 {
			size = c.size
		}
		if c.cuts == 0 {
			return fn(sized{rd, size})
		}
		c.cuts--
		cut := io.MultiReader(io.LimitReader(rd, int64(c.cutAt)), errReader{&transport.ShortBody{Err: io.ErrUnexpectedEOF}})
		return fn(sized{cut, size})
	})
}

func (c *cutting) IsPermanent(err error) bool {
	if _, ok := errors.AsType[*transport.ShortBody](err); ok {
		return false
	}
	return c.Backend.IsPermanent(err)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestLoadResumes: a body cut short is asked for again from the byte where it stopped;
// the callback is called once and reads the range whole, in one stream.
func TestLoadResumes(t *testing.T) {
	for _, tc := range []struct {
		name           string
		length         int
		offset         int64
		cuts, cutAt    int
		max            int
		want           [][2]int64 // the ranges asked for
		fail           bool
		failSize       int64 // a resumed load announces this size
		wantErrContain string
	}{
		{name: "whole object, one cut", cuts: 1, cutAt: 300, max: 3, want: [][2]int64{{0, 0}, {300, 0}}},
		{name: "range, two cuts", length: 500, offset: 100, cuts: 2, cutAt: 200, max: 3, want: [][2]int64{{100, 500}, {300, 300}, {500, 100}}},
		{name: "cut before the first byte", cuts: 1, cutAt: 0, max: 3, want: [][2]int64{{0, 0}, {0, 0}}},
		{name: "cuts outlast the retries", cuts: 5, cutAt: 100, max: 2, fail: true, want: [][2]int64{{0, 0}, {100, 0}, {200, 0}}, wantErrContain: "tried 3 times"},
		{name: "resumed answer of another length", cuts: 1, cutAt: 100, max: 3, failSize: 5000, fail: true, want: [][2]int64{{0, 0}, {100, 0}}, wantErrContain: "the server answers with 5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cutting{Backend: filled(t), cuts: tc.cuts, cutAt: tc.cutAt, size: tc.failSize}
			be, _ := newRetry(c, tc.max)
			calls := 0
			var got []byte
			err := be.Load(t.Context(), dataH, tc.length, tc.offset, func(rd io.Reader) error {
				calls++
				if s, ok := rd.(transport.Sizer); !ok || s.Size() != int64(len(stored))-tc.offset && tc.length == 0 || tc.length > 0 && s.Size() != int64(tc.length) {
					t.Errorf("the reader announces the wrong size")
				}
				var err error
				got, err = transport.ReadAll(rd)
				return err
			})
			if calls != 1 {
				t.Errorf("fn called %d times", calls)
			}
			if len(c.ranges) != len(tc.want) {
				t.Fatalf("ranges asked for %v, want %v", c.ranges, tc.want)
			}
			for i := range tc.want {
				if c.ranges[i] != tc.want[i] {
					t.Fatalf("ranges asked for %v, want %v", c.ranges, tc.want)
				}
			}
			if tc.fail {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContain) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErrContain)
				}
				return
			}
			want := stored[tc.offset:]
			if tc.length > 0 {
				want = want[:tc.length]
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes (%v), want the %d of the range", len(got), err, len(want))
			}
		})
	}
}

// TestLoadCallbackErrorNotRetried: an error of fn is handed back as it is, after one
// request, whatever the wrapped backend thinks of it.
func TestLoadCallbackErrorNotRetried(t *testing.T) {
	f := faulty.New(filled(t))
	be, _ := newRetry(f, 5)
	mine := errors.New("not today")
	err := be.Load(t.Context(), dataH, 0, 0, func(rd io.Reader) error {
		io.CopyN(io.Discard, rd, 10)
		return mine
	})
	if err != mine || f.Calls(faulty.Load) != 1 || f.IsPermanent(err) {
		t.Fatalf("load: %v after %d calls", err, f.Calls(faulty.Load))
	}
}

// listing is a backend whose first listings report some names and then fail.
type listing struct {
	*mem.Backend
	fails, after int
	calls        int
}

func (l *listing) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	l.calls++
	n := 0
	err := l.Backend.List(ctx, k, func(fi transport.FileInfo) error {
		if n++; l.fails > 0 && n > l.after {
			return errTransient
		}
		return fn(fi)
	})
	if errors.Is(err, errTransient) {
		l.fails--
	}
	return err
}

var errTransient = errors.New("connection reset")

// TestListOnceEach: a listing that fails part way is asked for again, and fn hears of
// each name once; an error of fn ends the listing at once.
func TestListOnceEach(t *testing.T) {
	inner := mem.New()
	for i := range 20 {
		h := transport.Handle{Kind: transport.Data, Name: strings.Repeat(string("0123456789abcdef"[i%16]), 8+i)}
		if err := inner.Save(t.Context(), h, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l := &listing{Backend: inner, fails: 2, after: 7}
	be, _ := newRetry(l, 5)
	seen := map[string]int{}
	err := be.List(t.Context(), transport.Data, func(fi transport.FileInfo) error { seen[fi.Name]++; return nil })
	if err != nil || len(seen) != 20 || l.calls != 3 {
		t.Fatalf("list: %v, %d names, %d listings", err, len(seen), l.calls)
	}
	for name, n := range seen {
		if n != 1 {
			t.Fatalf("%s reported %d times", name, n)
		}
	}
	l.calls, l.fails = 0, 0
	mine := errors.New("enough")
	err = be.List(t.Context(), transport.Data, func(transport.FileInfo) error { return mine })
	if err != mine || l.calls != 1 {
		t.Fatalf("list with a failing callback: %v after %d listings", err, l.calls)
	}
}

// lostAnswer is a backend whose first Remove removes the object and then reports a
// transient failure, as when the answer is lost on the way.
type lostAnswer struct {
	*mem.Backend
	lost bool
}

func (l *lostAnswer) Remove(ctx context.Context, h transport.Handle) error {
	if err := l.Backend.Remove(ctx, h); err != nil {
		return err
	}
	if !l.lost {
		l.lost = true
		return errTransient
	}
	return nil
}

// TestRemoveAnswerLost: a Remove whose answer was lost and that finds the object gone
// on the next attempt succeeds; a Remove of an object never there does not.
func TestRemoveAnswerLost(t *testing.T) {
	l := &lostAnswer{Backend: filled(t)}
	be, _ := newRetry(l, 3)
	if err := be.Remove(t.Context(), dataH); err != nil {
		t.Fatalf("remove with the answer lost: %v", err)
	}
	if _, err := be.Stat(t.Context(), dataH); !be.IsNotExist(err) {
		t.Fatalf("stat after remove: %v", err)
	}
	if err := be.Remove(t.Context(), dataH); !be.IsNotExist(err) {
		t.Fatalf("remove of a missing object: %v", err)
	}
}

// TestDefaults: the zero Options are the documented defaults.
func TestDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want Options }{
		{Options{}, Options{Max: DefaultMax, WaitMin: DefaultWaitMin, WaitMax: DefaultWaitMax}},
		{Options{Max: -1}, Options{Max: 0, WaitMin: DefaultWaitMin, WaitMax: DefaultWaitMax}},
		{Options{Max: 2, WaitMin: time.Minute}, Options{Max: 2, WaitMin: time.Minute, WaitMax: time.Minute}},
	} {
		if got := New(mem.New(), tc.in).Options(); got != tc.want {
			t.Errorf("New(%+v).Options() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestBackoff: waits grow with the attempt, never past the cap, and vary.
func TestBackoff(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 2 * time.Second
	for _, tc := range []struct {
		attempt int
		ceil    time.Duration
	}{{0, lo}, {1, 2 * lo}, {3, 8 * lo}, {5, hi}, {40, hi}, {1000, hi}} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(lo, hi, tc.attempt)
			if d < lo/2 || d >= lo/2+tc.ceil {
				t.Fatalf("attempt %d: waited %v, want [%v, %v)", tc.attempt, d, lo/2, lo/2+tc.ceil)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: %d different waits of 200", tc.attempt, len(seen))
		}
	}
}

// overlong announces fewer bytes than its loads hold.
type overlong struct{ *mem.Backend }

func (o overlong) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return o.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error { return fn(sized{rd, 100}) })
}

// TestLoadMoreThanAnnounced: a body that holds more than its answer announced fails
// the read, however it is read.
func TestLoadMoreThanAnnounced(t *testing.T) {
	be, _ := newRetry(overlong{filled(t)}, 3)
	for name, read := range map[string]func(io.Reader) ([]byte, error){
		"io.ReadAll": io.ReadAll, "transport.ReadAll": transport.ReadAll,
		"one byte at a time": func(rd io.Reader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(rd)) },
	} {
		var got []byte
		err := be.Load(t.Context(), dataH, 0, 0, func(rd io.Reader) error {
			var err error
			got, err = read(rd)
			return err
		})
		if err == nil || len(got) > 100 {
			t.Errorf("%s: read %d bytes of an answer announcing 100: %v", name, len(got), err)
		}
	}
}
