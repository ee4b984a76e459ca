package repo

import (
	"sync"

	"cairn/chunk"
)

// listCache keeps recently resolved lists (deltas share their bases) and the raw
// bytes of prefetched list chunks until they are resolved.
type listCache struct {
	mu  sync.Mutex
	m   map[chunk.ID]List
	ids int // chunk ids held in m
	raw map[chunk.ID][]byte
}

func (c *listCache) takeRaw(id chunk.ID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.raw[id]
	delete(c.raw, id)
	return b, ok
}

func (c *listCache) putRaw(id chunk.ID, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw == nil {
		c.raw = map[chunk.ID][]byte{}
	}
	c.raw[id] = b
}

func (c *listCache) has(id chunk.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, raw := c.raw[id]
	_, done := c.m[id]
	return raw || done
}

func (c *listCache) get(id chunk.ID) (List, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	return l, ok
}

func (c *listCache) put(l List) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= 64 || c.ids+len(l.Chunks) > listCacheIDs {
		c.m, c.ids = map[chunk.ID]List{}, 0
	}
	c.m[l.ID] = l
	c.ids += len(l.Chunks)
}

// drop lets every resolved list go.
func (c *listCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m, c.ids = nil, 0
}

// listCacheIDs bounds the resolved lists kept (8 MiB of ids), so that what a backup
// keeps of its parent's lists does not grow with the database.
const listCacheIDs = 1 << 18
