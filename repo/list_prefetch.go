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
		var need, next []chunk.ID
		for _, id := range level {
			if seen[id] || r.lists.has(id) {
				continue
			}
			seen[id] = true
			if data, ok := r.cachedList(id); ok {
				r.lists.putRaw(id, data)
				next = appendBase(next, data)
				continue
			}
			need = append(need, id)
		}
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
		// In pack and frame order, so that LoadChunks reads runs of frames at once.
		slices.SortFunc(need, func(a, b chunk.ID) int {
			la, _ := r.idx.Lookup(a)
			lb, _ := r.idx.Lookup(b)
			if c := bytes.Compare(la.Pack[:], lb.Pack[:]); c != 0 {
				return c
			}
			return int(la.Frame) - int(lb.Frame)
		})
		err := r.LoadChunks(ctx, need, func(i int, data []byte) error {
			data = bytes.Clone(data)
			r.lists.putRaw(need[i], data)
			if r.listStore != nil {
				r.listStore.Put(need[i], data)
			}
			next = appendBase(next, data)
			return nil
		})
		if err != nil {
			return fmt.Errorf("prefetch chunk lists: %w", err)
		}
		level = next
	}
	return nil
}

// prefetchBytes bounds the list chunks PrefetchLists holds at once.
var prefetchBytes = 8 << 20 // a variable for tests

// appendBase appends the base of a delta list chunk.
func appendBase(ids []chunk.ID, data []byte) []chunk.ID {
	if len(data) >= 2+32 && data[0] == listDelta {
		var base chunk.ID
		copy(base[:], data[2:])
		ids = append(ids, base)
	}
	return ids
}
