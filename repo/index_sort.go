package repo

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
)

// Sorting a loaded index in place: the entries of every index file are appended as
// they come, then sorted by key (and pack, for a key listed twice) without a second
// copy of the table. Ids are spread evenly, so two radix passes put each entry within
// a few places of where it belongs: the first by the leading 8 bits of its id, into
// 256 buckets whose write fronts stay in the CPU's cache (one pass over the table
// where one pass into thousands of buckets missed the cache on nearly every move);
// the second, inside each of those buckets (a few hundred KiB, the next bits), is
// run on every processor at once. Each small bucket left is then sorted by insertion
// (a larger one, which only ids made to crowd together give, by a comparison sort).

// topBits is how many leading bits of an id the first pass sorts by.
const topBits = 8

// sortEntries sorts e by key, then by pack.
func sortEntries[K key](e []entry[K]) {
	start := radixPass(e, 64-topBits, 1<<topBits-1)
	// The second pass splits each top bucket into buckets of about 4 entries.
	sub := 1
	for 1<<(sub+2) < len(e)>>topBits && sub < 16 {
		sub++
	}
	workers := min(runtime.GOMAXPROCS(0), 1<<topBits)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for b := w; b < 1<<topBits; b += workers {
				sortBucket(e[start[b]:start[b+1]], uint(64-topBits-sub), 1<<sub-1)
			}
		})
	}
	wg.Wait()
}

// sortBucket sorts b, whose entries share their leading bits, by a radix pass on the
// bits mask names after shift and an insertion sort of each bucket it leaves.
func sortBucket[K key](b []entry[K], shift uint, mask uint64) {
	if len(b) < 32 {
		insertionSort(b)
		return
	}
	start := radixPass(b, shift, mask)
	for i := 0; i+1 < len(start); i++ {
		switch lo, hi := start[i], start[i+1]; {
		case hi-lo > 32: // ids crowded together, as no hash spreads them: a table made to be slow
			slices.SortFunc(b[lo:hi], func(x, y entry[K]) int { return compareEntries(&x, &y) })
		case hi-lo > 1:
			insertionSort(b[lo:hi])
		}
	}
}

// radixPass orders e by the bits of each id's prefix that mask names after shift, in
// place (each entry moved once, carried along a cycle to its bucket), and returns
// where each bucket starts, with len(e) last.
func radixPass[K key](e []entry[K], shift uint, mask uint64) []int {
	n := int(mask) + 1
	start := make([]int, n+1)
	for i := range e {
		start[prefix(&e[i].k)>>shift&mask+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	next := slices.Clone(start[:n])
	for k := range n {
		for next[k] < start[k+1] {
			// Carry the entry at the bucket's next free place to where it belongs,
			// and the one found there onwards, until one belongs here.
			v := e[next[k]]
			for d := int(prefix(&v.k) >> shift & mask); d != k; d = int(prefix(&v.k) >> shift & mask) {
				e[next[d]], v = v, e[next[d]]
				next[d]++
			}
			e[next[k]] = v
			next[k]++
		}
	}
	return start
}

// insertionSort sorts a few entries by key, then pack.
func insertionSort[K key](b []entry[K]) {
	for i := 1; i < len(b); i++ {
		for j := i; j > 0 && compareEntries(&b[j], &b[j-1]) < 0; j-- {
			b[j], b[j-1] = b[j-1], b[j]
		}
	}
}

// compareEntries orders entries by key, then pack.
func compareEntries[K key](a, b *entry[K]) int {
	if c := cmpKey(&a.k, &b.k); c != 0 {
		return c
	}
	return cmp.Compare(a.pack, b.pack)
}
