package repo

import "math/bits"

// directory says where each range of ids begins in a sorted table: the table split by
// its ids' leading bits into buckets of about dirBucket entries. Chunk ids are spread
// evenly, so a lookup goes from the directory (small enough to stay in the CPU's
// cache) straight to a few neighbouring entries: one or two misses of the cache
// instead of the four or five of an interpolation search over the whole table.
type directory struct {
	start []uint32 // start[b]: the first entry in bucket b or a later one; len: buckets+1
	shift uint     // 64 minus the bits that name a bucket
}

// dirBucket is the entries a bucket holds on average: the directory costs 4/dirBucket
// bytes per chunk.
const dirBucket = 16

// buildDirectory makes d the directory of e, sorted by key; a table of fewer than
// 4*dirBucket entries gets none.
func buildDirectory[K key](d *directory, e []entry[K]) {
	if len(e) < 4*dirBucket {
		d.start = d.start[:0]
		return
	}
	b := bits.Len(uint(len(e)/dirBucket)) - 1 // 2^b buckets: dirBucket to 2*dirBucket entries each
	d.shift = uint(64 - b)
	n := 1<<b + 1
	if cap(d.start) < n || cap(d.start) > 2*n {
		d.start = make([]uint32, n)
	}
	d.start = d.start[:n]
	next := 0
	for i := range e {
		for bucket := int(prefix(&e[i].k) >> d.shift); next <= bucket; next++ {
			d.start[next] = uint32(i)
		}
	}
	for ; next < n; next++ {
		d.start[next] = uint32(len(e))
	}
}

func (d *directory) memoryBytes() int64 { return int64(cap(d.start)) * 4 }

// searchDirectory finds k in e, the table d was built from, as searchSorted does: it
// guesses k's place in its bucket from k's prefix and walks from there, over
// neighbouring entries that the memory brings in together.
func searchDirectory[K key](d *directory, e []entry[K], k *K) (int, bool) {
	if len(d.start) == 0 {
		return searchSorted(e, k)
	}
	g := guessPlace(d, e, k)
	if g < 0 {
		return 0, false
	}
	return walkFrom(e, k, g)
}

// guessPlace is where in e k's prefix puts it, inside its bucket; -1 when its bucket
// is empty. Without a directory (a small table) it is the place a binary search finds.
func guessPlace[K key](d *directory, e []entry[K], k *K) int {
	if len(d.start) == 0 {
		i, _ := searchSorted(e, k)
		return min(i, len(e)-1) // -1 for an empty table
	}
	p := prefix(k)
	b := p >> d.shift
	lo, hi := int(d.start[b]), int(d.start[b+1]) // k can only lie in [lo, hi)
	if lo == hi {
		return -1
	}
	within := p - b<<d.shift // k's place in the bucket's range of ids
	i := lo + int(float64(within)/float64(uint64(1)<<d.shift)*float64(hi-lo))
	return min(max(i, lo), hi-1)
}

// walkFrom finds k in e by walking from i, a guess near it.
func walkFrom[K key](e []entry[K], k *K, i int) (int, bool) {
	for i > 0 && cmpKey(&e[i].k, k) > 0 {
		i--
	}
	for i < len(e) && cmpKey(&e[i].k, k) < 0 {
		i++
	}
	return i, i < len(e) && e[i].k == *k
}
