// Package transporttest is the conformance suite every transport.Backend passes: the
// in-memory and local backends today, the REST and S3 ones against real servers later.
//
// A backend's test file calls Run with a function that makes a fresh, empty backend:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T) transport.Backend { return mem.New() })
//	}
//
// The suite never skips: a backend that cannot do something fails.
package transporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"cairn/transport"
)

// Run runs every conformance test as a subtest; each gets a fresh, empty backend from
// newBackend, closed when the subtest ends.
func Run(t *testing.T, newBackend func(t *testing.T) transport.Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, transport.Backend)
	}{
		{"Fresh", testFresh},
		{"SaveLoad", testSaveLoad},
		{"Ranges", testRanges},
		{"LoadCallbackError", testLoadCallbackError},
		{"Stat", testStat},
		{"List", testList},
		{"ListStops", testListStops},
		{"Remove", testRemove},
		{"SaveTwice", testSaveTwice},
		{"Config", testConfig},
		{"InvalidHandles", testInvalidHandles},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"ConcurrentSameObject", testConcurrentSameObject},
		{"Large", testLarge},
		{"Empty", testEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t, newBackend))
		})
	}
}

// open makes a backend and closes it when the test ends.
func open[T testing.TB](t T, newBackend func(T) transport.Backend) transport.Backend {
	t.Helper()
	be := newBackend(t)
	if be == nil {
		t.Fatal("newBackend returned nil")
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("close %s: %v", be.Location(), err)
		}
	})
	return be
}

// objectKinds are the kinds whose objects have names.
var objectKinds = []transport.Kind{transport.Data, transport.Index, transport.Snapshots, transport.Keys, transport.Locks}

// object makes size random bytes and a handle of kind k named by their SHA-256.
func object(rng *rand.Rand, k transport.Kind, size int) (transport.Handle, []byte) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return handle(k, data), data
}

// handle names data by its SHA-256.
func handle(k transport.Kind, data []byte) transport.Handle {
	sum := sha256.Sum256(data)
	return transport.Handle{Kind: k, Name: hex.EncodeToString(sum[:])}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func save(t testing.TB, be transport.Backend, h transport.Handle, data []byte) {
	t.Helper()
	if err := be.Save(t.Context(), h, data); err != nil {
		t.Fatalf("save %s: %v", h, err)
	}
}

func load(t testing.TB, be transport.Backend, h transport.Handle, length int, offset int64) []byte {
	t.Helper()
	got, err := loadErr(t.Context(), be, h, length, offset)
	if err != nil {
		t.Fatalf("load %s [%d+%d]: %v", h, offset, length, err)
	}
	return got
}

// loadErr reads what Load hands to its callback, however short.
func loadErr(ctx context.Context, be transport.Backend, h transport.Handle, length int, offset int64) ([]byte, error) {
	var got []byte
	err := be.Load(ctx, h, length, offset, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	return got, err
}

func stat(t testing.TB, be transport.Backend, h transport.Handle) int64 {
	t.Helper()
	fi, err := be.Stat(t.Context(), h)
	if err != nil {
		t.Fatalf("stat %s: %v", h, err)
	}
	if fi.Name != h.Name {
		t.Fatalf("stat %s: name %q", h, fi.Name)
	}
	return fi.Size
}

// list returns the names and sizes List reports for kind k, failing on a name listed twice.
func list(t testing.TB, be transport.Backend, k transport.Kind) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := be.List(t.Context(), k, func(fi transport.FileInfo) error {
		if _, dup := out[fi.Name]; dup {
			return fmt.Errorf("%q listed twice", fi.Name)
		}
		out[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", k, err)
	}
	return out
}

// wantNotExist fails unless err says the object is missing, both through the backend
// and through transport.ErrNotExist, and is permanent.
func wantNotExist(t testing.TB, be transport.Backend, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s of a missing object succeeded", what)
	case !be.IsNotExist(err) || !errors.Is(err, transport.ErrNotExist):
		t.Fatalf("%s of a missing object: IsNotExist false for %v", what, err)
	case !be.IsPermanent(err):
		t.Fatalf("%s of a missing object: IsPermanent false for %v", what, err)
	}
}

func testFresh(t *testing.T, be transport.Backend) {
	for _, k := range transport.Kinds {
		if got := list(t, be, k); len(got) != 0 {
			t.Errorf("a fresh backend lists %d %s objects", len(got), k)
		}
	}
	_, err := be.Stat(t.Context(), transport.Handle{Kind: transport.Config})
	wantNotExist(t, be, "stat config", err)
	if be.Location() == "" {
		t.Error("empty location")
	}
}

func testSaveLoad(t *testing.T, be transport.Backend) {
	rng := newRand(1)
	for _, k := range objectKinds {
		h, data := object(rng, k, 1000+rng.IntN(5000))
		save(t, be, h, data)
		if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
			t.Fatalf("%s: loaded %d bytes differ from the %d saved", h, len(got), len(data))
		}
	}
	// The backend keeps its own copy: changing the saved slice changes nothing.
	h, data := object(rng, transport.Data, 100)
	save(t, be, h, data)
	want := bytes.Clone(data)
	clear(data)
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, want) {
		t.Fatal("changing the saved slice changed the object")
	}
}

func testRanges(t *testing.T, be transport.Backend) {
	const size = 10000
	h, data := object(newRand(2), transport.Data, size)
	save(t, be, h, data)
	for _, r := range []struct {
		off int64
		n   int
	}{
		{0, 1}, {0, size}, {1, size - 1}, {5000, 100}, {size - 1, 1},
		{0, 0}, {4096, 0}, {size - 1, 0}, {size, 0}, // length 0: to the end, maybe nothing
	} {
		want := data[r.off:]
		if r.n > 0 {
			want = want[:r.n]
		}
		if got := load(t, be, h, r.n, r.off); !bytes.Equal(got, want) {
			t.Errorf("range %d+%d: got %d bytes, want %d", r.off, r.n, len(got), len(want))
		}
	}
	// A range past the end or a negative one is an error, never a short read.
	for _, r := range []struct {
		off int64
		n   int
	}{
		{size - 10, 20}, {0, size + 1}, {size, 1}, {size + 1, 0}, {2 * size, 5}, {-1, 0}, {0, -1},
	} {
		got, err := loadErr(t.Context(), be, h, r.n, r.off)
		if err == nil {
			t.Errorf("range %d+%d of %d bytes succeeded with %d bytes", r.off, r.n, size, len(got))
		} else if be.IsNotExist(err) {
			t.Errorf("range %d+%d of %d bytes: IsNotExist true for %v", r.off, r.n, size, err)
		}
	}
}

// testLoadCallbackError: Load calls its callback once, and hands back its error.
func testLoadCallbackError(t *testing.T, be transport.Backend) {
	h, data := object(newRand(3), transport.Index, 100)
	save(t, be, h, data)
	stop := errors.New("callback failed")
	calls := 0
	err := be.Load(t.Context(), h, 0, 0, func(io.Reader) error { calls++; return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("load returned %v, not the callback's error", err)
	}
	if calls != 1 {
		t.Fatalf("a callback that failed was called %d times", calls)
	}
	calls = 0
	if err := be.Load(t.Context(), h, 0, 0, func(rd io.Reader) error { calls++; _, err := io.ReadAll(rd); return err }); err != nil || calls != 1 {
		t.Fatalf("load: %v, callback called %d times, want once", err, calls)
	}
	called := false
	missing, _ := object(newRand(4), transport.Index, 10)
	err = be.Load(t.Context(), missing, 0, 0, func(io.Reader) error { called = true; return nil })
	wantNotExist(t, be, "load", err)
	if called {
		t.Fatal("load called back for a missing object")
	}
}

func testStat(t *testing.T, be transport.Backend) {
	rng := newRand(5)
	for _, size := range []int{1, 100, 1234, 65537} {
		h, data := object(rng, transport.Index, size)
		save(t, be, h, data)
		if got := stat(t, be, h); got != int64(size) {
			t.Errorf("stat %s: size %d, want %d", h, got, size)
		}
	}
	missing, _ := object(rng, transport.Index, 10)
	_, err := be.Stat(t.Context(), missing)
	wantNotExist(t, be, "stat", err)
}

func testList(t *testing.T, be transport.Backend) {
	rng := newRand(6)
	// A different number of objects of each kind, data spread over many prefixes.
	want := map[transport.Kind]map[string]int64{}
	for i, k := range objectKinds {
		want[k] = map[string]int64{}
		for j := range 40 - 5*i {
			h, data := object(rng, k, 10+j)
			save(t, be, h, data)
			want[k][h.Name] = int64(len(data))
		}
	}
	for _, k := range objectKinds {
		if got := list(t, be, k); !maps.Equal(got, want[k]) {
			t.Errorf("list %s: %d objects, want %d (or sizes differ)", k, len(got), len(want[k]))
		}
	}
	if got := list(t, be, transport.Config); len(got) != 0 {
		t.Errorf("list config without one: %v", got)
	}
	save(t, be, transport.Handle{Kind: transport.Config}, []byte("cfg"))
	if got := list(t, be, transport.Config); len(got) != 1 || got[""] != 3 {
		t.Errorf("list config: %v, want one unnamed object of 3 bytes", got)
	}
	for _, k := range []transport.Kind{"", "bogus", "../data", "Data", "data/00"} {
		if err := be.List(t.Context(), k, func(transport.FileInfo) error { return nil }); err == nil {
			t.Errorf("list of kind %q succeeded", k)
		}
	}
}

func testListStops(t *testing.T, be transport.Backend) {
	rng := newRand(7)
	for range 10 {
		h, data := object(rng, transport.Data, 10)
		save(t, be, h, data)
	}
	stop := errors.New("stop")
	n := 0
	err := be.List(t.Context(), transport.Data, func(transport.FileInfo) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("list did not stop at the callback's error: %v after %d calls", err, n)
	}
	// The callback may use the backend.
	err = be.List(t.Context(), transport.Data, func(fi transport.FileInfo) error {
		_, err := be.Stat(t.Context(), transport.Handle{Kind: transport.Data, Name: fi.Name})
		return err
	})
	if err != nil {
		t.Fatalf("list with a callback calling stat: %v", err)
	}
}

func testRemove(t *testing.T, be transport.Backend) {
	rng := newRand(8)
	ctx := t.Context()
	h, data := object(rng, transport.Locks, 100)
	keep, keepData := object(rng, transport.Locks, 100)
	save(t, be, h, data)
	save(t, be, keep, keepData)
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	_, err := loadErr(ctx, be, h, 0, 0)
	wantNotExist(t, be, "load after remove", err)
	_, err = be.Stat(ctx, h)
	wantNotExist(t, be, "stat after remove", err)
	wantNotExist(t, be, "second remove", be.Remove(ctx, h))
	if got := list(t, be, transport.Locks); len(got) != 1 || got[keep.Name] != 100 {
		t.Fatalf("after removing one of two objects, list gives %v", got)
	}
	// A removed object can be saved again.
	save(t, be, h, data)
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatal("object saved after a remove differs")
	}
}

func testSaveTwice(t *testing.T, be transport.Backend) {
	h, data := object(newRand(9), transport.Data, 500)
	save(t, be, h, data)
	save(t, be, h, data)
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatal("object changed after a second save")
	}
	if got := list(t, be, transport.Data); len(got) != 1 {
		t.Fatalf("%d objects after saving one twice", len(got))
	}
}

func testConfig(t *testing.T, be transport.Backend) {
	h := transport.Handle{Kind: transport.Config}
	save(t, be, h, []byte("config bytes"))
	if got := load(t, be, h, 0, 0); string(got) != "config bytes" {
		t.Fatalf("config: %q", got)
	}
	if got := load(t, be, h, 5, 7); string(got) != "bytes" {
		t.Fatalf("config range: %q", got)
	}
	if size := stat(t, be, h); size != 12 {
		t.Fatalf("config size %d", size)
	}
	if err := be.Remove(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	_, err := be.Stat(t.Context(), h)
	wantNotExist(t, be, "stat config after remove", err)
}

func testInvalidHandles(t *testing.T, be transport.Backend) {
	ctx := t.Context()
	for _, h := range []transport.Handle{
		{Kind: transport.Data, Name: ""},
		{Kind: transport.Data, Name: "../x"},
		{Kind: transport.Data, Name: "../../etc/passwd"},
		{Kind: transport.Data, Name: "ABCDEF0123456789"},
		{Kind: transport.Data, Name: "0123456789abcdeg"},
		{Kind: transport.Index, Name: "0123"},
		{Kind: transport.Keys, Name: "01234567 "},
		{Kind: transport.Keys, Name: "01234567/89abcdef"},
		{Kind: transport.Keys, Name: strings.Repeat("a", 129)},
		{Kind: "bogus", Name: "0123456789abcdef"},
		{Kind: "", Name: "0123456789abcdef"},
		{Kind: "../data", Name: "0123456789abcdef"},
		{Kind: transport.Config, Name: "0123456789abcdef"},
		{Kind: transport.Snapshots, Name: "0123456789abcdef/../x"},
	} {
		check := func(op string, err error) {
			t.Helper()
			switch {
			case err == nil:
				t.Errorf("%s %q accepted", op, h)
			case be.IsNotExist(err):
				t.Errorf("%s %q: invalid handle reported as missing: %v", op, h, err)
			case !be.IsPermanent(err):
				t.Errorf("%s %q: invalid handle not permanent: %v", op, h, err)
			}
		}
		check("save", be.Save(ctx, h, []byte("x")))
		check("load", be.Load(ctx, h, 0, 0, func(io.Reader) error {
			t.Errorf("load %q called back", h)
			return nil
		}))
		_, err := be.Stat(ctx, h)
		check("stat", err)
		check("remove", be.Remove(ctx, h))
	}
	for _, k := range transport.Kinds {
		if got := list(t, be, k); len(got) != 0 {
			t.Errorf("invalid saves left %s objects: %v", k, got)
		}
	}
}

func testCancelled(t *testing.T, be transport.Backend) {
	rng := newRand(10)
	stored, data := object(rng, transport.Data, 100)
	save(t, be, stored, data)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h, newData := object(rng, transport.Data, 100)
	cancelled := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v", op, err)
		}
	}
	cancelled("save", be.Save(ctx, h, newData))
	cancelled("load", be.Load(ctx, stored, 0, 0, func(io.Reader) error {
		t.Error("load with a cancelled context called back")
		return nil
	}))
	_, err := be.Stat(ctx, stored)
	cancelled("stat", err)
	cancelled("remove", be.Remove(ctx, stored))
	cancelled("list", be.List(ctx, transport.Data, func(transport.FileInfo) error {
		t.Error("list with a cancelled context called back")
		return nil
	}))
	// Nothing happened.
	if got := list(t, be, transport.Data); len(got) != 1 || got[stored.Name] != 100 {
		t.Fatalf("after cancelled calls, list gives %v", got)
	}
}

func testConcurrent(t *testing.T, be transport.Backend) {
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			rng := newRand(uint64(100 + w))
			for range each {
				h, data := object(rng, transport.Data, 1+rng.IntN(20000))
				if err := be.Save(ctx, h, data); err != nil {
					t.Errorf("save %s: %v", h, err)
					return
				}
				got, err := loadErr(ctx, be, h, 0, 0)
				if err != nil {
					t.Errorf("load %s: %v", h, err)
					return
				}
				if !bytes.Equal(got, data) {
					t.Errorf("%s read back differently", h)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := list(t, be, transport.Data); len(got) != workers*each {
		t.Fatalf("%d objects after %d concurrent saves", len(got), workers*each)
	}
}

func testConcurrentSameObject(t *testing.T, be transport.Backend) {
	h, data := object(newRand(11), transport.Data, 64<<10)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ctx := t.Context()
			if err := be.Save(ctx, h, data); err != nil {
				t.Errorf("save %s: %v", h, err)
				return
			}
			got, err := loadErr(ctx, be, h, 0, 0)
			if err != nil {
				t.Errorf("load %s: %v", h, err)
			} else if !bytes.Equal(got, data) {
				t.Errorf("%s read back differently (%d bytes)", h, len(got))
			}
		})
	}
	wg.Wait()
	if got := list(t, be, transport.Data); len(got) != 1 || got[h.Name] != int64(len(data)) {
		t.Fatalf("after concurrent saves of one object, list gives %d objects", len(got))
	}
}

func testLarge(t *testing.T, be transport.Backend) {
	const size = 8<<20 + 13
	h, data := object(newRand(12), transport.Data, size)
	save(t, be, h, data)
	if got := stat(t, be, h); got != size {
		t.Fatalf("stat: %d bytes, want %d", got, size)
	}
	if got := load(t, be, h, 0, 0); !bytes.Equal(got, data) {
		t.Fatal("large object differs")
	}
	if got := load(t, be, h, 1<<20, 7<<20); !bytes.Equal(got, data[7<<20:8<<20]) {
		t.Fatal("range of a large object differs")
	}
	if got := load(t, be, h, 0, 8<<20); !bytes.Equal(got, data[8<<20:]) {
		t.Fatal("tail of a large object differs")
	}
}

func testEmpty(t *testing.T, be transport.Backend) {
	for _, data := range [][]byte{nil, {}} {
		h := handle(transport.Index, data)
		save(t, be, h, data)
		if got := load(t, be, h, 0, 0); len(got) != 0 {
			t.Fatalf("empty object loaded as %d bytes", len(got))
		}
		if size := stat(t, be, h); size != 0 {
			t.Fatalf("empty object has size %d", size)
		}
		if _, err := loadErr(t.Context(), be, h, 1, 0); err == nil {
			t.Fatal("loading a byte of an empty object succeeded")
		}
	}
	if got := list(t, be, transport.Index); len(got) != 1 || got[handle(transport.Index, nil).Name] != 0 {
		t.Fatalf("empty object listed as %v", got)
	}
}

// BenchmarkSaveLoad saves and loads whole objects of a few sizes, one new object per
// iteration, on backends made by newBackend.
func BenchmarkSaveLoad(b *testing.B, newBackend func(b *testing.B) transport.Backend) {
	for _, size := range []int{4 << 10, 1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			be := open(b, newBackend)
			_, data := object(newRand(13), transport.Data, size)
			b.SetBytes(int64(size))
			var n uint64
			for b.Loop() {
				n++ // a new name each time; hashing would dwarf a fast backend
				h := transport.Handle{Kind: transport.Data, Name: fmt.Sprintf("%016x", n)}
				if err := be.Save(b.Context(), h, data); err != nil {
					b.Fatal(err)
				}
				err := be.Load(b.Context(), h, 0, 0, func(rd io.Reader) error {
					_, err := io.Copy(io.Discard, rd)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
