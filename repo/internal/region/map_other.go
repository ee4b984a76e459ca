//go:build !linux

package region

// Elsewhere tables and pack buffers live on the Go heap.

func mapRegion(int, bool) ([]byte, bool) { return nil, false }

func remapRegion(b []byte, _ int) ([]byte, bool) { return b, false }

func dropPages([]byte, int) {}

func unmapRegion([]byte) {}
