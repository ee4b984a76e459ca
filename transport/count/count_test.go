package count_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"cairn/transport"
	"cairn/transport/count"
	"cairn/transport/faulty"
	"cairn/transport/mem"
	"cairn/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transport.Backend { return count.New(mem.New()) })
}

var (
	dataH  = transport.Handle{Kind: transport.Data, Name: "0123456789abcdef"}
	indexH = transport.Handle{Kind: transport.Index, Name: "fedcba9876543210"}
	lockH  = transport.Handle{Kind: transport.Locks, Name: "00112233"}
)

// TestCounts: saves count their bytes once they succeed, loads the bytes their
// callbacks read, each under its kind.
func TestCounts(t *testing.T) {
	ctx := t.Context()
	f := faulty.New(mem.New())
	cb := count.New(f)
	data := bytes.Repeat([]byte("x"), 1000)
	steps := []struct {
		name          string
		do            func() error
		fail          bool
		saved, loaded map[transport.Kind]int64 // the totals after the step
	}{
		{"save a pack", func() error { return cb.Save(ctx, dataH, data) }, false,
			map[transport.Kind]int64{transport.Data: 1000}, nil},
		{"save an index file", func() error { return cb.Save(ctx, indexH, data[:300]) }, false,
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300}, nil},
		{"a save that fails", func() error {
			f.Fail(faulty.FailNth(faulty.Save, 3))
			return cb.Save(ctx, lockH, data[:10])
		}, true, map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300}, nil},
		{"load a pack whole", func() error { _, err := transport.LoadAll(ctx, cb, dataH); return err }, false,
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300}, map[transport.Kind]int64{transport.Data: 1000}},
		{"load a range", func() error { _, err := transport.LoadRange(ctx, cb, indexH, 100, 50); return err }, false,
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300},
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 100}},
		{"a callback that reads part and fails", func() error {
			return cb.Load(ctx, dataH, 0, 0, func(rd io.Reader) error {
				io.CopyN(io.Discard, rd, 10)
				return errors.New("enough")
			})
		}, true,
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300},
			map[transport.Kind]int64{transport.Data: 1010, transport.Index: 100}},
		{"a load that fails", func() error { _, err := transport.LoadAll(ctx, cb, lockH); return err }, true,
			map[transport.Kind]int64{transport.Data: 1000, transport.Index: 300},
			map[transport.Kind]int64{transport.Data: 1010, transport.Index: 100}},
	}
	for _, st := range steps {
		if err := st.do(); (err != nil) != st.fail {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, c := range []struct {
			what string
			get  func(...transport.Kind) int64
			want map[transport.Kind]int64
		}{{"saved", cb.Saved, st.saved}, {"loaded", cb.Loaded, st.loaded}} {
			var total int64
			for _, k := range transport.Kinds {
				if got := c.get(k); got != c.want[k] {
					t.Errorf("after %s: %s %d bytes of %s, want %d", st.name, c.what, got, k, c.want[k])
				}
				total += c.want[k]
			}
			if got := c.get(); got != total {
				t.Errorf("after %s: %s %d bytes in all, want %d", st.name, c.what, got, total)
			}
			if got := c.get(transport.Data, transport.Index); got != c.want[transport.Data]+c.want[transport.Index] {
				t.Errorf("after %s: %s %d bytes of data and index", st.name, c.what, got)
			}
		}
	}
}

// TestSizeAnnounced: the reader handed to Load's callback announces the size of the
// one it wraps, so transport.ReadAll still reads into one buffer of that size.
func TestSizeAnnounced(t *testing.T) {
	inner := mem.New()
	if err := inner.Save(t.Context(), dataH, make([]byte, 777)); err != nil {
		t.Fatal(err)
	}
	cb := count.New(inner)
	err := cb.Load(t.Context(), dataH, 100, 7, func(rd io.Reader) error {
		s, ok := rd.(transport.Sizer)
		if !ok || s.Size() != 100 {
			t.Errorf("the counting reader announces no size, or the wrong one")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrent: counts made by many goroutines at once add up.
func TestConcurrent(t *testing.T) {
	cb := count.New(mem.New())
	ctx := context.Background()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				h := transport.Handle{Kind: transport.Data, Name: "0000000" + string("0123456789abcdef"[w]) + string("0123456789abcdef"[i%16]) + string("0123456789abcdef"[i/16])}
				if err := cb.Save(ctx, h, make([]byte, 10)); err != nil {
					t.Error(err)
					return
				}
				if _, err := transport.LoadAll(ctx, cb, h); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if s, l := cb.Saved(), cb.Loaded(transport.Data); s != workers*each*10 || l != workers*each*10 {
		t.Fatalf("saved %d, loaded %d, want %d each", s, l, workers*each*10)
	}
}
