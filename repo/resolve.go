package repo

import (
	"context"
	"fmt"

	"cairn/chunk"
)

// A ResolvedCollection is a collection of a snapshot with its chunk ids, read from its
// list chunk by Resolve. The ids are run-time state: a manifest stores the list chunk
// and the count only.
type ResolvedCollection struct {
	Collection
	Chunks []chunk.ID // in order
}

// Resolve reads the chunk ids of every collection of a snapshot, in the order of
// sn.Collections, and checks each list against the manifest's count.
func (r *Repository) Resolve(ctx context.Context, sn *Snapshot) ([]ResolvedCollection, error) {
	ids := make([]chunk.ID, len(sn.Collections))
	for i, c := range sn.Collections {
		ids[i] = c.List
	}
	if err := r.PrefetchLists(ctx, ids); err != nil && !IsDamage(err) {
		return nil, err // damage shows below, naming its collection
	}
	out := make([]ResolvedCollection, len(sn.Collections))
	for i, c := range sn.Collections {
		l, err := r.LoadList(ctx, c.List, nil)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s collection %s: %w", sn.ID, c.Name, err)
		}
		if len(l.Chunks) != c.Count {
			return nil, fmt.Errorf("snapshot %s collection %s: list has %d chunks, manifest says %d: %w", sn.ID, c.Name, len(l.Chunks), c.Count, ErrDamaged)
		}
		out[i] = ResolvedCollection{Collection: c, Chunks: l.Chunks}
	}
	return out, nil
}
