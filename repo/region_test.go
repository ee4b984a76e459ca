package repo

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"cairn/chunk"
)

// TestRegionGrowKeepsBytes: a region grown many times (moved by the kernel when
// mapped) keeps what was written, on Linux in a mapping, elsewhere on the heap.
func TestRegionGrowKeepsBytes(t *testing.T) {
	owner := new(int)
	m := newRegion(owner, false)
	used := 0
	for n := 1; n <= 48<<20; n = n*3 + 7 {
		m.grow(n, used)
		if len(m.b) < n {
			t.Fatalf("grow(%d) left %d bytes", n, len(m.b))
		}
		for i := used; i < n; i++ {
			m.b[i] = byte(i * 7)
		}
		used = n
	}
	for i := range used {
		if m.b[i] != byte(i*7) {
			t.Fatalf("byte %d of %d changed by growing", i, used)
		}
	}
	if runtime.GOOS == "linux" && !m.mapped {
		t.Fatal("region is not a mapping on Linux")
	}
	m.release()
	if m.b != nil || m.mapped {
		t.Fatal("release left the region in place")
	}
	runtime.KeepAlive(owner)
}

// TestRegionReleasedWithOwner: an index's table goes when the index is collected.
func TestRegionReleasedWithOwner(t *testing.T) {
	x := newIndex()
	for i := range 4 {
		x.add(objectID([]byte(fmt.Sprint("pack", i))), testRefs(i*1000, 1000))
	}
	x.merge()
	m := x.sorted.mem
	if len(m.b) == 0 {
		t.Fatal("table has no memory")
	}
	x = nil
	deadline := time.Now().Add(10 * time.Second)
	for len(m.b) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("table not released 10 s after its index became unreachable")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// TestIndexOffHeap: on Linux a loaded index is not on the Go heap, so the collector's
// goal does not grow with it.
func TestIndexOffHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tables are on the heap elsewhere")
	}
	const n = 200000
	stored := storedRefs(testRefs(0, n))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newIndex()
	load := &bulk{x: x}
	for i := 0; i < n; i += 5000 {
		load.addStored(objectID([]byte(fmt.Sprint("pack", i))), stored[i*packEntrySize:(i+5000)*packEntrySize])
	}
	load.finish()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(stored) // live in both measurements
	table := int64(n * entrySize)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > table/8 {
		t.Fatalf("heap grew by %d bytes for a table of %d", grew, table)
	}
	if got := x.MemoryBytes() - int64(len(x.packs))*40; got != table {
		t.Fatalf("index reports %d bytes, want %d", got, table)
	}
	if l, ok := x.Lookup(chunk.Hash([]byte("refs 777"))); !ok || l.Frame != 777 {
		t.Fatalf("lookup after load: %v %v", l, ok)
	}
	runtime.KeepAlive(x)
}

func testRefs(from, n int) []BlobRef {
	refs := make([]BlobRef, n)
	for i := range refs {
		refs[i] = BlobRef{ID: chunk.Hash([]byte(fmt.Sprint("refs ", from+i))), Frame: uint32(from + i), FrameLen: 9000, Offset: 100, Raw: 600}
	}
	return refs
}

// TestPrefetchListsBudget: prefetching holds the smallest lists up to its budget and
// leaves larger ones to be loaded when used; every list still resolves.
func TestPrefetchListsBudget(t *testing.T) {
	ctx := context.Background()
	r, be := testRepo(t)
	var lists []chunk.ID
	for _, n := range []int{10, 2000, 20, 30000, 40} {
		ids := make([]chunk.ID, n)
		for i := range ids {
			ids[i] = chunk.Hash([]byte(fmt.Sprint(n, " ", i)))
		}
		l, err := r.SaveList(ctx, ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, l.ID)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { prefetchBytes = n }(prefetchBytes)
	prefetchBytes = 100 << 10 // the four small lists (64 KiB for 2000 ids), not 30000 ids
	r2, err := Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.PrefetchLists(ctx, lists); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, true, false, true} {
		if got := r2.lists.has(lists[i]); got != want {
			t.Errorf("list %d prefetched: %v, want %v", i, got, want)
		}
	}
	for i, id := range lists {
		l, err := r2.LoadList(ctx, id, nil)
		if err != nil || len(l.Chunks) != []int{10, 2000, 20, 30000, 40}[i] {
			t.Fatalf("list %d: %d chunks, %v", i, len(l.Chunks), err)
		}
	}
}

// TestPackRegionSpared: a collected pack writer's region is not unmapped (a transport
// may still read a pack it was given) but emptied, and the next pack writer takes it.
func TestPackRegionSpared(t *testing.T) {
	p := newPackWriter(1<<20, nil)
	p.addSection(make([]byte, 100<<10), nil)
	m := p.mem
	mapped := m.mapped
	p = nil
	spared := func() bool {
		spareRegions.Lock()
		defer spareRegions.Unlock()
		for _, s := range spareRegions.free {
			if s == m {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(10 * time.Second)
	for mapped && !spared() {
		if time.Now().After(deadline) {
			t.Fatal("region not spared 10 s after its pack writer became unreachable")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if !mapped {
		t.Skip("pack buffers are on the heap here")
	}
	if m.b == nil || m.b[0] != 0 || m.b[len(magic)] != 0 {
		t.Fatal("spared region is unmapped or still holds the pack's bytes")
	}
	// Pack writers of earlier tests may be collected meanwhile and their regions spared
	// after this one: the spared regions are taken last spared first, until this one.
	q := newPackWriter(1<<20, nil)
	for held := []*packWriter{}; q.mem != m; q = newPackWriter(1<<20, nil) {
		if held = append(held, q); len(held) > 1000 {
			t.Fatal("no later pack writer took the spared region")
		}
	}
	if string(q.buf[:len(magic)]) != magic {
		t.Fatal("pack header not written into the reused region")
	}
}
