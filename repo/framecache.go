package repo

import (
	"math/bits"
	"sync"
)

// frameKey names a frame: its pack's ordinal in the index, its offset in the pack.
type frameKey struct {
	pack  uint32
	frame uint32
}

// frameCache is an LRU of decoded frames bounded by bytes. A frame is kept up to the
// end of the last chunk the plan needed of it when it was read (its need), which the
// planner knows from the index before the frame is read, and charged the size class of
// its need (the buffer it is kept in); a chunk that ends past its frame's need misses. The planner keeps one without the bytes and the
// decoder one with them; both do the same lookups and adds in the same order, so the
// planner knows which chunks need a read.
type frameCache struct {
	budget int // bytes; the frame added last is kept whatever its size
	held   int // the charges of the frames kept
	byKey  map[frameKey]*cached
	head   cached // the most recently used after it, the least before it
}

// cached is one frame in a frameCache, in its list of recent use.
type cached struct {
	key        frameKey
	need       int
	raw        []byte // nil in the planner's
	prev, next *cached
}

func newFrameCache(budget int) *frameCache {
	c := &frameCache{budget: budget, byKey: map[frameKey]*cached{}}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// lookup returns the frame k, marking it used, when it is kept up to end at least.
// A miss changes nothing.
func (c *frameCache) lookup(k frameKey, end int) (*cached, bool) {
	e, ok := c.byKey[k]
	if !ok || end > e.need {
		return nil, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e, true
}

// add keeps the frame k up to need (raw, in the decoder's), most recently used,
// replacing what was kept of it, and lets the least recently used frames go until the
// frames kept fit the budget again, never k itself. The frames let go are handed to
// bufs.
func (c *frameCache) add(k frameKey, need int, raw []byte, bufs *buffers) {
	if old, ok := c.byKey[k]; ok {
		c.drop(old, bufs)
	}
	e := &cached{key: k, need: need, raw: raw}
	c.byKey[k] = e
	c.pushFront(e)
	c.held += sizeClass(need)
	for c.held > c.budget && c.head.prev != e {
		c.drop(c.head.prev, bufs)
	}
}

func (c *frameCache) drop(e *cached, bufs *buffers) {
	c.unlink(e)
	delete(c.byKey, e.key)
	c.held -= sizeClass(e.need)
	if e.raw != nil {
		bufs.put(e.raw)
		e.raw = nil
	}
}

func (c *frameCache) unlink(e *cached) { e.prev.next, e.next.prev = e.next, e.prev }

func (c *frameCache) pushFront(e *cached) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}

// release hands every decoded frame back to bufs; the cache is empty afterwards.
func (c *frameCache) release(bufs *buffers) {
	for c.head.next != &c.head {
		c.drop(c.head.next, bufs)
	}
}

// buffers holds the buffers LoadChunks calls are done with, for their next reads and
// frames: a restore reads and decodes hundreds of MiB through a few MiB of buffers,
// where allocating every read and frame afresh kept the garbage collector and the
// kernel (zeroing new pages) busy. Buffers are made in size classes (a quarter of a
// power of two apart), and one is reused for any length of its class, so what is in
// use stays within a quarter of what is asked for; the buffers it holds, in use or
// free, stay within limit bytes when what is in use does: to make a new buffer it
// first lets free ones go. A call takes one from loadBuffers and puts it back.
type buffers struct {
	mu    sync.Mutex
	free  [][]byte
	limit int
	held  int // capacity of the buffers made and not let go, in use or free
	peak  int // the most held at once, since the last reset
}

// loadBuffers keeps the buffers of LoadChunks calls that ended, for the next ones: a
// restore makes one call per collection.
var loadBuffers = sync.Pool{New: func() any { return new(buffers) }}

// takeBuffers returns buffers from loadBuffers, with limit as their limit (the free
// buffers past it let go) and their peak what they hold now.
func takeBuffers(limit int) *buffers {
	b := loadBuffers.Get().(*buffers)
	b.mu.Lock()
	b.limit = limit
	for len(b.free) > 0 && b.held > limit {
		b.letGo(0)
	}
	b.peak = b.held
	b.mu.Unlock()
	return b
}

// sizeClass is the capacity of buffers made for length n: n rounded up to a quarter of
// the power of two below it (to 4 KiB at least).
func sizeClass(n int) int {
	if n <= 4<<10 {
		return 4 << 10
	}
	step := 1 << (bits.Len(uint(n-1)) - 3) // an eighth of the power of two at or above n, a quarter of the one below
	return (n + step - 1) / step * step
}

// get returns a buffer of length n, one handed back when there is one of its class.
func (b *buffers) get(n int) []byte {
	c := sizeClass(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.free) - 1; i >= 0; i-- {
		if buf := b.free[i]; cap(buf) == c {
			b.free[i] = b.free[len(b.free)-1]
			b.free = b.free[:len(b.free)-1]
			return buf[:n]
		}
	}
	for len(b.free) > 0 && b.held+c > b.limit {
		b.letGo(0)
	}
	b.held += c
	b.peak = max(b.peak, b.held)
	return make([]byte, n, c)
}

// letGo lets free buffer i go, to the garbage collector.
func (b *buffers) letGo(i int) {
	b.held -= cap(b.free[i])
	b.free[i] = b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
}

// grown counts a buffer made by appending past one from get, which it replaces.
func (b *buffers) grown(from, to []byte) {
	if cap(to) == cap(from) {
		return
	}
	b.mu.Lock()
	b.held += cap(to) - cap(from)
	b.peak = max(b.peak, b.held)
	b.mu.Unlock()
}

// put hands buf, made by get, back; nothing may use it afterwards.
func (b *buffers) put(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	b.mu.Lock()
	b.free = append(b.free, buf[:0])
	b.mu.Unlock()
}
