package repo

import (
	"unsafe"

	"cairn/repo/internal/region"
)

// table holds the index's sorted entries in a region (see package region): off the Go
// heap, grown without copying, resident only where written.
type table[K key] struct {
	e   []entry[K]     // len: entries in use; cap: entries the region holds
	mem *region.Region // nil for a short-lived run on the heap
}

// newTable returns an empty table whose region is released when owner is collected.
func newTable[K key, T any](owner *T) *table[K] {
	return &table[K]{mem: region.New(owner, true)}
}

// grow makes room for n entries in all, keeping those in use.
func (t *table[K]) grow(n int) {
	if n <= cap(t.e) {
		return
	}
	if t.mem == nil {
		// On the heap: at most an eighth (or 16384 entries) of room to grow into.
		grown := make([]entry[K], len(t.e), n+max(1<<14, n/8))
		copy(grown, t.e)
		t.e = grown
		return
	}
	t.mem.Grow(n*t.entrySize(), len(t.e)*t.entrySize())
	t.e = region.View[entry[K]](t.mem, len(t.e))
}

// merge merges add into the table, both sorted by id with no id in both, in place:
// the two runs are merged from the back, so no second copy of the table is made.
func (t *table[K]) merge(add []entry[K]) {
	n, m := len(t.e), len(add)
	if m == 0 {
		return
	}
	t.grow(n + m)
	s := t.e[:n+m]
	i, j := n-1, m-1
	for k := n + m - 1; j >= 0; k-- {
		if i >= 0 && cmpKey(&s[i].k, &add[j].k) > 0 {
			s[k] = s[i]
			i--
		} else {
			s[k] = add[j]
			j--
		}
	}
	t.e = s
}

// trim gives back the memory past the entries in use: the pages past them in a
// mapping, or the room past them on the heap (by a copy of exactly their size).
func (t *table[K]) trim() {
	if t.mem != nil {
		t.mem.Trim(len(t.e) * t.entrySize())
		t.e = region.View[entry[K]](t.mem, len(t.e))
	}
}

// residentBytes is the memory the table takes: the pages of the entries in use when
// in a mapped region, the whole array on the heap.
func (t *table[K]) residentBytes() int64 {
	if t.mem != nil && t.mem.Mapped() {
		return int64(len(t.e) * t.entrySize())
	}
	return int64(cap(t.e) * t.entrySize())
}

// entrySize is the size of an entry in memory: 32 bytes with 128-bit ids, 48 with
// 256-bit ones.
func (t *table[K]) entrySize() int { return int(unsafe.Sizeof(entry[K]{})) }
