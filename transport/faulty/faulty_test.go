package faulty_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformanceWithoutFaults(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return faulty.New(mem.New()) })
}

func BenchmarkSaveLoad(b *testing.B) {
	transporttest.BenchmarkSaveLoad(b, func(b *testing.B) transport.Backend { return faulty.New(mem.New()) })
}

var (
	dataH  = transport.Handle{Kind: transport.Data, Name: "0123456789abcdef"}
	indexH = transport.Handle{Kind: transport.Index, Name: "fedcba9876543210"}
	stored = []byte("0123456789")
)

// newFaulty wraps a backend holding dataH and indexH, both with the bytes of stored.
func newFaulty(t testing.TB, faults ...faulty.Fault) *faulty.Backend {
	t.Helper()
	be := mem.New()
	for _, h := range []transport.Handle{dataH, indexH} {
		if err := be.Save(t.Context(), h, stored); err != nil {
			t.Fatal(err)
		}
	}
	return faulty.New(be, faults...)
}

// call makes one call of method on h and returns its error.
func call(ctx context.Context, f *faulty.Backend, method string, h transport.Handle) error {
	switch method {
	case faulty.Save:
		return f.Save(ctx, h, stored)
	case faulty.Load:
		_, err := transport.LoadAll(ctx, f, h)
		return err
	case faulty.Stat:
		_, err := f.Stat(ctx, h)
		return err
	case faulty.List:
		return f.List(ctx, h.Kind, func(transport.FileInfo) error { return nil })
	case faulty.Remove:
		return f.Remove(ctx, h)
	}
	panic("unknown method " + method)
}

// wantInjected fails unless err is an injected error with the given permanence.
func wantInjected(t testing.TB, f *faulty.Backend, err error, permanent bool) {
	t.Helper()
	switch {
	case !errors.Is(err, faulty.ErrInjected):
		t.Fatalf("got %v, want an injected fault", err)
	case f.IsPermanent(err) != permanent:
		t.Fatalf("IsPermanent(%v) = %v, want %v", err, !permanent, permanent)
	case !strings.Contains(err.Error(), "injected fault"):
		t.Fatalf("error %q does not say it was injected", err)
	}
}

func TestFailNth(t *testing.T) {
	for _, method := range []string{faulty.Save, faulty.Load, faulty.Stat, faulty.List} {
		t.Run(method, func(t *testing.T) {
			f := newFaulty(t, faulty.FailNth(method, 2))
			for n := 1; n <= 4; n++ {
				err := call(t.Context(), f, method, dataH)
				if n == 2 {
					wantInjected(t, f, err, false)
					if f.IsNotExist(err) {
						t.Fatalf("injected fault reported as a missing object")
					}
				} else if err != nil {
					t.Fatalf("call %d: %v", n, err)
				}
				if f.Calls(method) != n {
					t.Fatalf("Calls(%s) = %d after %d calls", method, f.Calls(method), n)
				}
			}
		})
	}
}

func TestFailedSaveStoresNothing(t *testing.T) {
	f := faulty.New(mem.New(), faulty.FailNth(faulty.Save, 1))
	wantInjected(t, f, f.Save(t.Context(), dataH, stored), false)
	if _, err := f.Stat(t.Context(), dataH); !f.IsNotExist(err) {
		t.Fatalf("a failed save stored the object: stat gives %v", err)
	}
}

func TestPermanent(t *testing.T) {
	f := newFaulty(t, faulty.Fault{Method: faulty.Remove, Fail: true, Permanent: true})
	wantInjected(t, f, f.Remove(t.Context(), dataH), true)
	if _, err := transport.LoadAll(t.Context(), f, dataH); err != nil {
		t.Fatalf("a remove that failed removed the object: %v", err)
	}
}

func TestMatch(t *testing.T) {
	f := newFaulty(t, faulty.Fault{Match: func(h transport.Handle) bool { return h.Kind == transport.Index }, Fail: true})
	for _, method := range []string{faulty.Load, faulty.Stat, faulty.List} {
		if err := call(t.Context(), f, method, dataH); err != nil {
			t.Fatalf("%s of a data object: %v", method, err)
		}
		wantInjected(t, f, call(t.Context(), f, method, indexH), false)
	}
}

// failures returns which of n stat calls failed.
func failures(t testing.TB, f *faulty.Backend, n int) []bool {
	t.Helper()
	out := make([]bool, n)
	for i := range out {
		err := call(t.Context(), f, faulty.Stat, dataH)
		if err != nil && !errors.Is(err, faulty.ErrInjected) {
			t.Fatal(err)
		}
		out[i] = err != nil
	}
	return out
}

func TestProbability(t *testing.T) {
	const n = 2000
	flt := faulty.Fault{Method: faulty.Stat, Probability: 0.25, Seed: 42, Fail: true}
	a := failures(t, newFaulty(t, flt), n)
	failed := 0
	for _, f := range a {
		if f {
			failed++
		}
	}
	if failed < n/5 || failed > n*3/10 {
		t.Fatalf("%d of %d calls failed with probability 0.25", failed, n)
	}
	if b := failures(t, newFaulty(t, flt), n); !slices.Equal(a, b) {
		t.Fatal("the same seed failed different calls")
	}
	flt.Seed = 43
	if b := failures(t, newFaulty(t, flt), n); slices.Equal(a, b) {
		t.Fatal("another seed failed the same calls")
	}
}

func TestLoadEffects(t *testing.T) {
	for _, tc := range []struct {
		name           string
		fault          faulty.Fault
		length, offset int
		want           string
	}{
		{"truncate", faulty.Fault{Truncate: true}, 0, 0, "01234"},
		{"truncate range", faulty.Fault{Truncate: true}, 4, 2, "23"},
		{"flip", faulty.Fault{Flip: true}, 0, 0, "01234\xca6789"},
		{"flip range", faulty.Fault{Flip: true}, 3, 6, "6\xc88"},
		{"flip and truncate", faulty.Fault{Flip: true, Truncate: true}, 0, 0, "01234"},
		{"other kind", faulty.Fault{Flip: true, Match: func(h transport.Handle) bool { return h.Kind == transport.Index }}, 0, 0, "0123456789"},
		{"other method", faulty.Fault{Method: faulty.Stat, Truncate: true}, 0, 0, "0123456789"},
		{"second load only", faulty.Fault{Nth: 2, Truncate: true}, 0, 0, "0123456789"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFaulty(t, tc.fault)
			var got []byte
			err := f.Load(t.Context(), dataH, tc.length, int64(tc.offset), func(rd io.Reader) error {
				var err error
				got, err = io.ReadAll(rd)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("loaded %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCorruptAndTruncate(t *testing.T) {
	isData := func(h transport.Handle) bool { return h.Kind == transport.Data }
	f := newFaulty(t).Corrupt(isData)
	if got, _ := transport.LoadAll(t.Context(), f, dataH); len(got) != len(stored) || bytes.Equal(got, stored) {
		t.Fatalf("corrupt load returned %q", got)
	}
	if got, _ := transport.LoadAll(t.Context(), f, indexH); !bytes.Equal(got, stored) {
		t.Fatalf("load of an unmatched object returned %q", got)
	}
	f.Clear()
	f.Truncate(isData)
	if got, _ := transport.LoadAll(t.Context(), f, dataH); !bytes.Equal(got, stored[:5]) {
		t.Fatalf("truncated load returned %q", got)
	}
	f.Clear()
	if got, _ := transport.LoadAll(t.Context(), f, dataH); !bytes.Equal(got, stored) {
		t.Fatalf("load after Clear returned %q", got)
	}
	if n := f.Calls(faulty.Load); n != 4 {
		t.Fatalf("Clear reset the counts: %d loads", n)
	}
}

func TestDelay(t *testing.T) {
	const d = 20 * time.Millisecond
	f := newFaulty(t, faulty.Fault{Method: faulty.Stat, Delay: d})
	start := time.Now()
	if err := call(t.Context(), f, faulty.Stat, dataH); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < d {
		t.Fatalf("a stat delayed by %v took %v", d, took)
	}
	if err := call(t.Context(), f, faulty.Load, dataH); err != nil {
		t.Fatal(err)
	}

	// Cancelling the context ends the wait.
	f = newFaulty(t, faulty.Fault{Delay: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- call(ctx, f, faulty.Save, dataH) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("a delayed save with a cancelled context: %v", err)
	}
}

func TestHook(t *testing.T) {
	type seen struct {
		method string
		h      transport.Handle
	}
	var calls []seen
	f := newFaulty(t, faulty.Hook(func(method string, h transport.Handle) error {
		calls = append(calls, seen{method, h})
		if method == faulty.Load && h == indexH {
			return transport.NotExist(h) // pretend the index vanished
		}
		return nil
	}))
	if err := call(t.Context(), f, faulty.Load, dataH); err != nil {
		t.Fatal(err)
	}
	err := call(t.Context(), f, faulty.Load, indexH)
	wantInjected(t, f, err, false)
	if !f.IsNotExist(err) || !errors.Is(err, transport.ErrNotExist) {
		t.Fatalf("the hook's error is lost: %v", err)
	}
	if err := call(t.Context(), f, faulty.List, transport.Handle{Kind: transport.Snapshots}); err != nil {
		t.Fatal(err)
	}
	want := []seen{{faulty.Load, dataH}, {faulty.Load, indexH}, {faulty.List, transport.Handle{Kind: transport.Snapshots}}}
	if !slices.Equal(calls, want) {
		t.Fatalf("hook saw %v, want %v", calls, want)
	}

	f = newFaulty(t, faulty.Fault{Hook: func(string, transport.Handle) error { return errors.New("no") }, Permanent: true})
	wantInjected(t, f, call(t.Context(), f, faulty.Stat, dataH), true)
}

func TestCounts(t *testing.T) {
	f := newFaulty(t, faulty.FailNth(faulty.Save, 1))
	ctx := t.Context()
	for _, c := range []struct {
		method string
		h      transport.Handle
	}{
		{faulty.Save, dataH}, {faulty.Save, dataH}, {faulty.Save, indexH},
		{faulty.Load, dataH}, {faulty.Stat, indexH}, {faulty.List, transport.Handle{Kind: transport.Data}},
		{faulty.Remove, indexH},
	} {
		call(ctx, f, c.method, c.h)
	}
	for _, tc := range []struct {
		method string
		h      transport.Handle
		want   int
	}{
		{faulty.Save, dataH, 2}, // the failed save counts
		{faulty.Save, indexH, 1},
		{faulty.Load, dataH, 1},
		{faulty.Load, indexH, 0},
		{faulty.Stat, indexH, 1},
		{faulty.List, transport.Handle{Kind: transport.Data}, 1},
		{faulty.Remove, indexH, 1},
		{faulty.Remove, dataH, 0},
	} {
		if got := f.CallsFor(tc.method, tc.h); got != tc.want {
			t.Errorf("CallsFor(%s, %s) = %d, want %d", tc.method, tc.h, got, tc.want)
		}
	}
	if got := f.Calls(faulty.Save); got != 3 {
		t.Errorf("Calls(save) = %d, want 3", got)
	}
}

func TestConcurrentFaults(t *testing.T) {
	f := newFaulty(t,
		faulty.Fault{Probability: 0.5, Seed: 1, Fail: true},
		faulty.Fault{Method: faulty.Load, Probability: 0.5, Seed: 2, Flip: true},
	)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for _, m := range []string{faulty.Save, faulty.Load, faulty.Stat, faulty.List} {
					if err := call(t.Context(), f, m, dataH); err != nil && !errors.Is(err, faulty.ErrInjected) {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := f.Calls(faulty.Load); got != workers*each {
		t.Fatalf("Calls(load) = %d, want %d", got, workers*each)
	}
}

func TestLocation(t *testing.T) {
	if got := faulty.New(mem.New()).Location(); got != "faulty:mem:" {
		t.Fatalf("location %q", got)
	}
}
