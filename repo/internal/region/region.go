// Package region gives cairn's repository memory of its own, outside the Go heap where
// the system allows it (an anonymous mapping on Linux, map_linux.go), on the heap
// elsewhere (map_other.go), for the two things that are large and long-lived during a
// backup: the index's table and the pack buffers.
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
// seeing it.
package region

import (
	"runtime"
	"unsafe"
)

// A Region is memory that grows in place where it can. It is not safe for concurrent
// use; its owner (see New and NewSpared) guards it.
type Region struct {
	b      []byte // the whole mapping, or heap memory when mapped is false
	mapped bool
	huge   bool // ask for huge pages: one page fault per 2 MiB instead of per 4 KiB
}

// New returns an empty region released when owner is collected. huge asks for huge
// pages, for a region that grows large.
func New[T any](owner *T, huge bool) *Region {
	m := &Region{huge: huge}
	runtime.AddCleanup(owner, (*Region).Release, m)
	return m
}

// Bytes is the whole region: what was written, and the room past it.
func (m *Region) Bytes() []byte { return m.b }

// Mapped reports whether the region is a mapping outside the Go heap, where only the
// pages written are resident.
func (m *Region) Mapped() bool { return m.mapped }

// Grow makes the region at least n bytes long, keeping its first used bytes. When
// mapped, it grows by half again at least, and to 2 MiB at least (room not written
// costs no memory); on the heap, by an eighth.
func (m *Region) Grow(n, used int) {
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
	m.Release()
	m.b = b
}

// Trim gives back the memory past the first used bytes: the pages past them in a
// mapping, or on the heap the room past them when it is more than a 64th of them (by
// a copy of exactly their size).
func (m *Region) Trim(used int) {
	switch {
	case m.mapped:
		dropPages(m.b, used)
	case len(m.b)-used > used/64:
		b := make([]byte, used)
		copy(b, m.b)
		m.b = b
	}
}

// Release frees the region; it is empty afterwards.
func (m *Region) Release() {
	if m.mapped {
		unmapRegion(m.b)
	}
	m.b, m.mapped = nil, false
}

// View views the region as an array of T, n of them in use, as many as fit in all.
// T must hold no Go pointers.
func View[T any](m *Region, n int) []T {
	size := int(unsafe.Sizeof(*new(T)))
	if len(m.b) < size {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m.b))), len(m.b)/size)[:n]
}
