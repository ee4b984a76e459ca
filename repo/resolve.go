package repo

import (
	"context"
	"fmt"

	"cairn/chunk"
)

// Resolve fills in the chunk ids of every collection of a snapshot.
func (r *Repository) Resolve(ctx context.Context, sn *Snapshot) error {
	var ids []chunk.ID
	for _, c := range sn.Collections {
		if c.Chunks == nil {
			ids = append(ids, c.List)
		}
	}
	if err := r.PrefetchLists(ctx, ids); err != nil && !IsDamage(err) {
		return err // damage shows below, naming its collection
	}
	for i := range sn.Collections {
		c := &sn.Collections[i]
		if c.Chunks != nil {
			continue
		}
		l, err := r.LoadList(ctx, c.List, nil)
		if err != nil {
			return fmt.Errorf("snapshot %s collection %s: %w", sn.ID, c.Name, err)
		}
		if len(l.Chunks) != c.Count {
			return fmt.Errorf("snapshot %s collection %s: list has %d chunks, manifest says %d: %w", sn.ID, c.Name, len(l.Chunks), c.Count, ErrDamaged)
		}
		c.Chunks = l.Chunks
	}
	return nil
}
