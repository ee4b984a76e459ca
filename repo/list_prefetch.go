package repo

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"cairn/chunk"
)

// PrefetchLists loads list chunks and the bases of their deltas level by level, each
// level in one pass that reads neighbouring frames together: on a high-latency link
// resolving many lists then costs a few round trips, not one per list and base.
// Smallest lists first, up to prefetchBytes in all: the lists of the largest
// collections grow with the database, and they are loaded when used instead (one round
// trip each, small beside their size), so memory does not grow with the whole
// database's lists.
func (r *Repository) PrefetchLists(ctx context.Context, ids []chunk.ID) error {
	seen := map[chunk.ID]bool{}
	level := ids
	budget := prefetchBytes
	for len(level) > 0 && budget > 0 {
		need, next := r.takeCachedLists(level, seen)
		need, budget = r.smallestWithin(need, budget)
		var err error
		if next, err = r.loadLists(ctx, need, next); err != nil {
			return fmt.Errorf("prefetch chunk lists: %w", err)
		}
		level = next
	}
	return nil
}

// takeCachedLists takes in the lists of a level that the list store has, and returns
// those still needed and the bases of the deltas taken in. seen holds the lists met.
func (r *Repository) takeCachedLists(level []chunk.ID, seen map[chunk.ID]bool) (need, next []chunk.ID) {
	for _, id := range level {
		if seen[id] || r.lists.has(id) {
			continue
		}
		seen[id] = true
		if data, ok := r.cachedList(id); ok {
			r.lists.putRaw(id, data)
			next = r.appendBase(next, data)
			continue
		}
		need = append(need, id)
	}
	return need, next
}

// smallestWithin keeps the smallest lists that fit in budget, in pack and frame order
// (so that LoadChunks reads runs of frames at once), and returns what is left of the
// budget, below zero when a list did not fit.
func (r *Repository) smallestWithin(need []chunk.ID, budget int) ([]chunk.ID, int) {
	slices.SortFunc(need, func(a, b chunk.ID) int {
		la, _ := r.idx.Lookup(a)
		lb, _ := r.idx.Lookup(b)
		return cmp.Compare(la.Raw, lb.Raw)
	})
	for i, id := range need {
		l, _ := r.idx.Lookup(id)
		if budget -= int(l.Raw); budget < 0 {
			need = need[:i]
			break
		}
	}
	slices.SortFunc(need, func(a, b chunk.ID) int {
		la, _ := r.idx.Lookup(a)
		lb, _ := r.idx.Lookup(b)
		if c := bytes.Compare(la.Pack[:], lb.Pack[:]); c != 0 {
			return c
		}
		return int(la.Frame) - int(lb.Frame)
	})
	return need, budget
}

// loadLists loads list chunks in one pass, keeps their bytes (and copies in the list
// store), and appends the bases of the deltas among them to next.
func (r *Repository) loadLists(ctx context.Context, need, next []chunk.ID) ([]chunk.ID, error) {
	err := r.LoadChunks(ctx, need, func(i int, data []byte) error {
		data = bytes.Clone(data)
		r.lists.putRaw(need[i], data)
		if r.listStore != nil {
			r.listStore.Put(need[i], data)
		}
		next = r.appendBase(next, data)
		return nil
	})
	return next, err
}

// prefetchBytes bounds the list chunks PrefetchLists holds at once.
var prefetchBytes = 8 << 20 // a variable for tests

// appendBase appends the base of a delta list chunk.
func (r *Repository) appendBase(ids []chunk.ID, data []byte) []chunk.ID {
	if w := r.idSize(); len(data) >= 2+w && data[0] == listDelta {
		ids = append(ids, readID(data[2:], w))
	}
	return ids
}
