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

// put stores raw in slot, handing the frame it replaces back to frameBufs.
func (c *frameCache) put(slot int, raw []byte) {
	if old := c.raws[slot]; old != nil {
		putBuf(&frameBufs, old)
	}
	c.raws[slot] = raw
}

// release hands every decoded frame back to frameBufs; the cache is empty afterwards.
func (c *frameCache) release() {
	for i, raw := range c.raws {
		if raw != nil {
			putBuf(&frameBufs, raw)
		}
		c.raws[i], c.used[i] = nil, 0
	}
}

// Buffers that loads are done with wait in these pools for the next ones: a restore
// reads and decodes hundreds of MiB through a few MiB of buffers, where allocating
// every read and frame afresh kept the garbage collector and the kernel (zeroing new
// pages) busy. Reads and decoded frames have pools of their own, being of other sizes.
var (
	readBufs  sync.Pool // of *[]byte: stored bytes of runs
	frameBufs sync.Pool // of *[]byte: decoded frames
)

// getBuf returns a buffer of length n from pool, reused when one is there.
func getBuf(pool *sync.Pool, n int) []byte {
	if p, ok := pool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

// putBuf hands b to pool; nothing may use it afterwards.
func putBuf(pool *sync.Pool, b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:0]
	pool.Put(&b)
}
