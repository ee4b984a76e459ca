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
	c.held += classOf(need)
	for c.held > c.budget && c.head.prev != e {
		c.drop(c.head.prev, bufs)
	}
}

func (c *frameCache) drop(e *cached, bufs *buffers) {
	c.unlink(e)
	delete(c.byKey, e.key)
	c.held -= classOf(e.need)
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

// buffers hands one LoadChunks call its buffers, for its reads and frames, and counts
// those in use. They come from and go back to sizePools: a restore reads and decodes
// hundreds of MiB through a few MiB of buffers, where allocating every read and frame
// afresh kept the garbage collector and the kernel (zeroing new pages) busy.
type buffers struct {
	mu   sync.Mutex
	held int // capacity of the buffers handed out and not back
	peak int // the most held at once
}

// Buffers are made in size classes, a quarter of a power of two apart (from 4 KiB),
// so that one is reused for any length of its class and what is in use stays within
// a quarter of what is asked for. sizePools keeps the buffers of each class no call
// uses, as sync.Pools do: until the garbage collector has run twice.
const (
	minClassBits = 12
	maxClassBits = 25 // above 32 MiB (a frame decodes to 16 MiB at most), not kept
)

var sizePools [1 + (maxClassBits-minClassBits)*4]sync.Pool

// sizeClass is the capacity of buffers made for length n, and its pool (-1: none): n
// rounded up to a quarter of the power of two below it.
func sizeClass(n int) (int, int) {
	if n <= 1<<minClassBits {
		return 1 << minClassBits, 0
	}
	p := bits.Len(uint(n - 1)) // 2^p >= n > 2^(p-1)
	step := 1 << (p - 3)
	q := (n + step - 1) / step // 5 to 8 quarters of 2^(p-1)
	if p > maxClassBits {
		return q * step, -1
	}
	return q * step, 1 + (p-minClassBits-1)*4 + q - 5
}

// classOf is the capacity of buffers made for length n.
func classOf(n int) int { c, _ := sizeClass(n); return c }

// get returns a buffer of length n.
func (b *buffers) get(n int) []byte {
	c, pool := sizeClass(n)
	var buf []byte
	if pool >= 0 {
		if p, ok := sizePools[pool].Get().(*[]byte); ok {
			buf = (*p)[:n]
		}
	}
	if buf == nil {
		buf = make([]byte, n, c)
	}
	b.count(c)
	return buf
}

func (b *buffers) count(n int) {
	b.mu.Lock()
	b.held += n
	b.peak = max(b.peak, b.held)
	b.mu.Unlock()
}

// grown counts a buffer made by appending past one from get, which it replaces.
func (b *buffers) grown(from, to []byte) {
	if cap(to) != cap(from) {
		b.count(cap(to) - cap(from))
	}
}

// put hands buf, from get (or grown), back; nothing may use it afterwards. A buffer
// not of a class's size (grown) is left to the garbage collector.
func (b *buffers) put(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	b.count(-cap(buf))
	if c, pool := sizeClass(cap(buf)); pool >= 0 && c == cap(buf) {
		buf = buf[:0]
		sizePools[pool].Put(&buf)
	}
}
