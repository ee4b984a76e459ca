package repo

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
