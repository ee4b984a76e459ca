package repo

import "sync"

type frameKey struct {
	pack  ObjectID
	frame uint32
}

// frameCache is a small LRU of decoded frames. The planner keeps one without the bytes
// and the decoder one with them; both do the same gets in the same order, so the
// planner knows which chunks need a read.
type frameCache struct {
	keys  [recentFrames]frameKey
	used  [recentFrames]uint64 // 0: empty
	raws  [recentFrames][]byte
	clock uint64
}

// get returns the slot holding k, marking it used, or the least recently used slot
// (now holding k) and false.
func (c *frameCache) get(k frameKey) (int, bool) {
	c.clock++
	lru := 0
	for i := range c.keys {
		if c.used[i] != 0 && c.keys[i] == k {
			c.used[i] = c.clock
			return i, true
		}
		if c.used[i] < c.used[lru] {
			lru = i
		}
	}
	c.keys[lru], c.used[lru] = k, c.clock
	return lru, false
}

// put stores raw in slot, handing the frame it replaces back to bufs.
func (c *frameCache) put(slot int, raw []byte, bufs *buffers) {
	if old := c.raws[slot]; old != nil {
		bufs.put(old)
	}
	c.raws[slot] = raw
}

// release hands every decoded frame back to bufs; the cache is empty afterwards.
func (c *frameCache) release(bufs *buffers) {
	for i, raw := range c.raws {
		if raw != nil {
			bufs.put(raw)
		}
		c.raws[i], c.used[i] = nil, 0
	}
}

// buffers holds the buffers one LoadChunks call is done with, for its next reads or
// frames: a restore reads and decodes hundreds of MiB through a few MiB of buffers,
// where allocating every read and frame afresh kept the garbage collector and the
// kernel (zeroing new pages) busy. It holds no more than were in use at once, and
// they go with the call.
type buffers struct {
	mu   sync.Mutex
	free [][]byte
}

// get returns a buffer of length n, one handed back when there is one large enough.
func (b *buffers) get(n int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.free) - 1; i >= 0; i-- {
		if buf := b.free[i]; cap(buf) >= n {
			b.free[i] = b.free[len(b.free)-1]
			b.free = b.free[:len(b.free)-1]
			return buf[:n]
		}
	}
	return make([]byte, n)
}

// put hands buf back; nothing may use it afterwards.
func (b *buffers) put(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	b.mu.Lock()
	b.free = append(b.free, buf[:0])
	b.mu.Unlock()
}
