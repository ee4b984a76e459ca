package region

import (
	"runtime"
	"sync"
)

// spared holds the regions of collected owners from NewSpared. A pack's bytes may
// still be read by a transport after its Save returned (an HTTP client may close a
// request body on its own goroutine after the round trip), so such a region is never
// unmapped: its pages are given back (a late reader sees zeros, never unmapped memory)
// and the region waits here for the next owner. The list is as long as the most such
// regions ever in use at once. It is the process's, as the mappings are.
var spared spareList

type spareList struct {
	mu   sync.Mutex
	free []*Region
}

// NewSpared returns a region for memory that others may still read after owner is
// collected (a pack handed to a transport): a spared one when there is one, and it is
// emptied and spared in turn, never unmapped, when owner is collected.
func NewSpared[T any](owner *T) *Region {
	m := spared.take()
	runtime.AddCleanup(owner, (*Region).spare, m)
	return m
}

func (l *spareList) take() *Region {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.free)
	if n == 0 {
		return &Region{}
	}
	m := l.free[n-1]
	l.free = l.free[:n-1]
	return m
}

func (l *spareList) put(m *Region) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.free = append(l.free, m)
}

// has reports whether m is waiting in the list.
func (l *spareList) has(m *Region) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.free {
		if s == m {
			return true
		}
	}
	return false
}

func (m *Region) spare() {
	if !m.mapped {
		m.b = nil // heap memory: a late reader keeps it alive
		return
	}
	dropPages(m.b, 0)
	spared.put(m)
}
