package repo

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"cairn/chunk"
)

// TestRegionReleasedWithOwner: an index's table goes when the index is collected.
func TestRegionReleasedWithOwner(t *testing.T) {
	x := newIndex(false)
	for i := range 4 {
		x.add(objectID([]byte(fmt.Sprint("pack", i))), testRefs(i*1000, 1000))
	}
	x.merge()
	m := x.s.(*entries[wideKey]).sorted.mem
	if len(m.Bytes()) == 0 {
		t.Fatal("table has no memory")
	}
	x = nil
	deadline := time.Now().Add(10 * time.Second)
	for len(m.Bytes()) > 0 {
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
	x := newIndex(false)
	load := &bulk{x: x}
	for i := 0; i < n; i += 5000 {
		load.addStored(objectID([]byte(fmt.Sprint("pack", i))), stored[i*packEntrySize:(i+5000)*packEntrySize])
	}
	load.finish()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(stored) // live in both measurements
	table := int64(n * 48)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > table/8 {
		t.Fatalf("heap grew by %d bytes for a table of %d", grew, table)
	}
	if got := x.MemoryBytes() - int64(len(x.packs))*40 - x.s.(*entries[wideKey]).dir.memoryBytes(); got != table {
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
