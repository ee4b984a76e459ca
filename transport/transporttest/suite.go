// Package transporttest is the conformance suite every transport.Backend passes: the
// in-memory and local backends today, the REST and S3 ones against real servers later.
package transporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"sync"
	"testing"

	"cairn/transport"
)

// Run runs every conformance test against backends made by newBackend; each subtest
// gets a fresh, empty backend.
func Run(t *testing.T, newBackend func(t *testing.T) transport.Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, transport.Backend)
	}{
		{"SaveLoad", testSaveLoad},
		{"Ranges", testRanges},
		{"Stat", testStat},
		{"List", testList},
		{"Remove", testRemove},
		{"SaveTwice", testSaveTwice},
		{"Config", testConfig},
		{"InvalidHandles", testInvalidHandles},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"Large", testLarge},
		{"Empty", testEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			defer be.Close()
			tc.fn(t, be)
		})
	}
}

// object makes random bytes and a handle named by their SHA-256.
func object(rng *rand.Rand, k transport.Kind, size int) (transport.Handle, []byte) {
	data := make([]byte, size)
	rng.Read(data)
	sum := sha256.Sum256(data)
	return transport.Handle{Kind: k, Name: hex.EncodeToString(sum[:])}, data
}

func save(t *testing.T, be transport.Backend, h transport.Handle, data []byte) {
	t.Helper()
	if err := be.Save(context.Background(), h, data); err != nil {
		t.Fatalf("save %s: %v", h, err)
	}
}

func load(t *testing.T, be transport.Backend, h transport.Handle, length int, offset int64) []byte {
	t.Helper()
	var got []byte
	err := be.Load(context.Background(), h, length, offset, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		t.Fatalf("load %s [%d+%d]: %v", h, offset, length, err)
	}
	return got
}

func testSaveLoad(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(1))
	for _, k := range []transport.Kind{transport.Data, transport.Index, transport.Snapshots, transport.Keys, transport.Locks} {
		h, data := object(rng, k, 1000+rng.Intn(5000))
		save(t, be, h, data)
		if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
			t.Fatalf("%s: loaded %d bytes differ from the %d saved", h, len(got), len(data))
		}
	}
}

func testRanges(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(2))
	h, data := object(rng, transport.Data, 10000)
	save(t, be, h, data)
	for _, r := range []struct{ off, n int }{{0, 1}, {0, 10000}, {1, 9999}, {5000, 100}, {9999, 1}, {4096, 0}, {10000, 0}} {
		want := data[r.off:]
		if r.n > 0 {
			want = want[:r.n]
		}
		if got := load(t, be, h, r.n, int64(r.off)); !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: got %d bytes, want %d", r.off, r.n, len(got), len(want))
		}
	}
	// A range past the end is an error, not a short read.
	for _, r := range []struct{ off, n int }{{9990, 20}, {10001, 0}, {20000, 5}} {
		err := be.Load(context.Background(), h, r.n, int64(r.off), func(rd io.Reader) error {
			b, err := io.ReadAll(rd)
			if err == nil && len(b) != r.n {
				return io.ErrUnexpectedEOF
			}
			return err
		})
		if err == nil {
			t.Fatalf("range %d+%d past the end of 10000 bytes succeeded", r.off, r.n)
		}
	}
}

func testStat(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(3))
	h, data := object(rng, transport.Index, 1234)
	save(t, be, h, data)
	fi, err := be.Stat(context.Background(), h)
	if err != nil || fi.Size != 1234 {
		t.Fatalf("stat: %+v %v", fi, err)
	}
	missing, _ := object(rng, transport.Index, 10)
	if _, err := be.Stat(context.Background(), missing); !be.IsNotExist(err) {
		t.Fatalf("stat of a missing object: %v", err)
	}
}

func listNames(t *testing.T, be transport.Backend, k transport.Kind) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := be.List(context.Background(), k, func(fi transport.FileInfo) error {
		out[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", k, err)
	}
	return out
}

func testList(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(4))
	want := map[string]int64{}
	for i := range 30 {
		h, data := object(rng, transport.Data, 10+i)
		save(t, be, h, data)
		want[h.Name] = int64(len(data))
	}
	other, data := object(rng, transport.Snapshots, 50)
	save(t, be, other, data)
	got := listNames(t, be, transport.Data)
	if len(got) != len(want) {
		t.Fatalf("listed %d data objects, want %d", len(got), len(want))
	}
	for name, size := range want {
		if got[name] != size {
			t.Fatalf("%s listed with size %d, want %d", name, got[name], size)
		}
	}
	if s := listNames(t, be, transport.Snapshots); len(s) != 1 {
		t.Fatalf("snapshots lists %d objects, want 1", len(s))
	}
	if s := listNames(t, be, transport.Index); len(s) != 0 {
		t.Fatalf("empty kind lists %d objects", len(s))
	}
	stop := errors.New("stop")
	n := 0
	err := be.List(context.Background(), transport.Data, func(transport.FileInfo) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("list did not stop at the callback's error: %v after %d", err, n)
	}
}

func testRemove(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(5))
	h, data := object(rng, transport.Locks, 100)
	save(t, be, h, data)
	ctx := context.Background()
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	err := be.Load(ctx, h, 0, 0, func(io.Reader) error { return nil })
	if !be.IsNotExist(err) || !errors.Is(err, transport.ErrNotExist) {
		t.Fatalf("load after remove: %v", err)
	}
	if !be.IsPermanent(err) {
		t.Fatalf("a missing object is not a permanent error: %v", err)
	}
	if _, err := be.Stat(ctx, h); !be.IsNotExist(err) {
		t.Fatalf("stat after remove: %v", err)
	}
	if err := be.Remove(ctx, h); !be.IsNotExist(err) {
		t.Fatalf("second remove: %v", err)
	}
	if got := listNames(t, be, transport.Locks); len(got) != 0 {
		t.Fatalf("removed object still listed: %v", got)
	}
}

func testSaveTwice(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(6))
	h, data := object(rng, transport.Data, 500)
	save(t, be, h, data)
	save(t, be, h, data)
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatal("object changed after a second save")
	}
	if n := len(listNames(t, be, transport.Data)); n != 1 {
		t.Fatalf("%d objects after saving one twice", n)
	}
}

func testConfig(t *testing.T, be transport.Backend) {
	h := transport.Handle{Kind: transport.Config}
	if _, err := be.Stat(context.Background(), h); !be.IsNotExist(err) {
		t.Fatalf("config of an empty backend: %v", err)
	}
	save(t, be, h, []byte("config bytes"))
	if got := load(t, be, h, 0, 0); string(got) != "config bytes" {
		t.Fatalf("config: %q", got)
	}
}

func testInvalidHandles(t *testing.T, be transport.Backend) {
	ctx := context.Background()
	for _, h := range []transport.Handle{
		{Kind: transport.Data, Name: ""},
		{Kind: transport.Data, Name: "../../etc/passwd"},
		{Kind: transport.Data, Name: "ABCDEF0123456789"},
		{Kind: transport.Index, Name: "0123"},
		{Kind: "bogus", Name: "0123456789abcdef"},
		{Kind: transport.Config, Name: "0123456789abcdef"},
		{Kind: transport.Snapshots, Name: "0123456789abcdef/../x"},
	} {
		if err := be.Save(ctx, h, []byte("x")); err == nil {
			t.Errorf("save %q accepted", h)
		}
		if err := be.Load(ctx, h, 0, 0, func(io.Reader) error { return nil }); err == nil {
			t.Errorf("load %q accepted", h)
		}
		if err := be.Remove(ctx, h); err == nil {
			t.Errorf("remove %q accepted", h)
		}
	}
}

func testCancelled(t *testing.T, be transport.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rng := rand.New(rand.NewSource(7))
	h, data := object(rng, transport.Data, 100)
	if err := be.Save(ctx, h, data); !errors.Is(err, context.Canceled) {
		t.Fatalf("save with a cancelled context: %v", err)
	}
	if err := be.List(ctx, transport.Data, func(transport.FileInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("list with a cancelled context: %v", err)
	}
	if err := be.Load(ctx, h, 0, 0, func(io.Reader) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("load with a cancelled context: %v", err)
	}
}

func testConcurrent(t *testing.T, be transport.Backend) {
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(100 + w)))
			for range each {
				h, data := object(rng, transport.Data, 1+rng.Intn(20000))
				if err := be.Save(context.Background(), h, data); err != nil {
					errs <- err
					return
				}
				var got []byte
				err := be.Load(context.Background(), h, 0, 0, func(rd io.Reader) error {
					var err error
					got, err = io.ReadAll(rd)
					return err
				})
				if err == nil && !bytes.Equal(got, data) {
					err = fmt.Errorf("%s read back differently", h)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(listNames(t, be, transport.Data)); n != workers*each {
		t.Fatalf("%d objects after %d concurrent saves", n, workers*each)
	}
}

func testLarge(t *testing.T, be transport.Backend) {
	rng := rand.New(rand.NewSource(8))
	h, data := object(rng, transport.Data, 8<<20+13)
	save(t, be, h, data)
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatal("large object differs")
	}
	if got := load(t, be, h, 1<<20, 7<<20); !bytes.Equal(got, data[7<<20:8<<20]) {
		t.Fatal("range of a large object differs")
	}
}

func testEmpty(t *testing.T, be transport.Backend) {
	h := transport.Handle{Kind: transport.Index, Name: hex.EncodeToString(sha256.New().Sum(nil))}
	save(t, be, h, nil)
	if got := load(t, be, h, 0, 0); len(got) != 0 {
		t.Fatalf("empty object loaded as %d bytes", len(got))
	}
	names := slices.Collect(func(yield func(string) bool) {
		for n := range listNames(t, be, transport.Index) {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) != 1 {
		t.Fatalf("empty object listed %d times", len(names))
	}
}
