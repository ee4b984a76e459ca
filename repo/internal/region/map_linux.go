package region

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = unix.Getpagesize()

func pageRound(n int) int { return (n + pageSize - 1) / pageSize * pageSize }

// mapRegion returns n bytes (rounded up to whole pages) of zeroed memory outside the
// Go heap, or ok false when the system refuses. huge asks for huge pages.
func mapRegion(n int, huge bool) (b []byte, ok bool) {
	size := pageRound(max(n, 1))
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	b = unsafe.Slice((*byte)(p), size)
	if huge {
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // a hint; refused is fine
	}
	return b, true
}

// remapRegion grows a region from mapRegion to n bytes (whole pages), keeping its
// contents: the kernel moves the pages, nothing is copied. b is invalid afterwards
// unless ok is false.
func remapRegion(b []byte, n int) ([]byte, bool) {
	size := pageRound(n)
	p, err := unix.MremapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)), nil, uintptr(size), unix.MREMAP_MAYMOVE)
	if err != nil {
		return b, false
	}
	return unsafe.Slice((*byte)(p), size), true
}

// dropPages gives the pages from byte off of a region back to the system; they read
// as zeros if touched again.
func dropPages(b []byte, off int) {
	if off = pageRound(off); off < len(b) {
		_ = unix.Madvise(b[off:], unix.MADV_DONTNEED)
	}
}

// unmapRegion releases a region from mapRegion.
func unmapRegion(b []byte) {
	if len(b) > 0 {
		_ = unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
	}
}
