package repo

import (
	"runtime"
	"sync"
	"unsafe"
)

// region is memory of its own, outside the Go heap where the system allows it (an
// anonymous mapping on Linux), for the two things that are large and long-lived
// during a backup: the index's table and the pack buffers.
//
//   - The collector neither scans a region nor counts it when it sets its next goal,
//     so the headroom it leaves grows with the small buffers a backup churns through,
//     not with the index and the packs.
//   - Growing a region moves page mappings (mremap) instead of copying its bytes into
//     a larger array, so a growing index never exists twice.
//   - Only the pages written are resident: room reserved for growth costs address
//     space, not memory.
//
// What lives in a region holds no Go pointers, so the collector loses nothing by not
// seeing it. A region is released when its owner is collected (or by release).
type region struct {
	b      []byte // the whole mapping, or heap memory when mapped is false
	mapped bool
	huge   bool // ask for huge pages: one page fault per 2 MiB instead of per 4 KiB
}

// newRegion returns an empty region released when owner is collected.
func newRegion[T any](owner *T, huge bool) *region {
	m := &region{huge: huge}
	runtime.AddCleanup(owner, (*region).release, m)
	return m
}

// spareRegions holds the regions of collected pack writers. A pack's bytes may still
// be read by a transport after its Save returned (an HTTP client may close a request
// body on its own goroutine after the round trip), so a pack's region is never
// unmapped: its pages are given back (a late reader sees zeros, never unmapped memory)
// and the region waits here for the next pack writer. The list is as long as the most
// packs ever built at once.
var spareRegions struct {
	sync.Mutex
	free []*region
}

// packRegion returns a region for a pack writer, put back in spareRegions when owner
// is collected.
func packRegion[T any](owner *T) *region {
	spareRegions.Lock()
	m := &region{}
	if n := len(spareRegions.free); n > 0 {
		m = spareRegions.free[n-1]
		spareRegions.free = spareRegions.free[:n-1]
	}
	spareRegions.Unlock()
	runtime.AddCleanup(owner, (*region).spare, m)
	return m
}

func (m *region) spare() {
	if !m.mapped {
		m.b = nil // heap memory: a late reader keeps it alive
		return
	}
	dropPages(m.b, 0)
	spareRegions.Lock()
	spareRegions.free = append(spareRegions.free, m)
	spareRegions.Unlock()
}

// grow makes the region at least n bytes long, keeping its first used bytes. When
// mapped, it grows by half again at least, and to 2 MiB at least (room not written
// costs no memory); on the heap, by an eighth.
func (m *region) grow(n, used int) {
	if n <= len(m.b) {
		return
	}
	want := max(n, len(m.b)+len(m.b)/2, 2<<20)
	switch {
	case m.mapped:
		if b, ok := remapRegion(m.b, want); ok {
			m.b = b
			return
		}
	case len(m.b) == 0:
		if b, ok := mapRegion(want, m.huge); ok {
			m.b, m.mapped = b, true
			return
		}
	}
	b := make([]byte, n+n/8)
	copy(b, m.b[:used])
	m.release()
	m.b = b
}

// trim gives back the pages past the first used bytes.
func (m *region) trim(used int) {
	if m.mapped {
		dropPages(m.b, used)
	}
}

// release frees the region; it is empty afterwards.
func (m *region) release() {
	if m.mapped {
		unmapRegion(m.b)
	}
	m.b, m.mapped = nil, false
}

// entries views the region as a table of entries, n of them in use.
func (m *region) entries(n int) []entry {
	if len(m.b) < entrySize {
		return nil
	}
	return unsafe.Slice((*entry)(unsafe.Pointer(unsafe.SliceData(m.b))), len(m.b)/entrySize)[:n]
}
