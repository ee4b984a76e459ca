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
	if err := r.PrefetchSnapshotLists(ctx, sn); err != nil {
		return nil, err
	}
	out := make([]ResolvedCollection, len(sn.Collections))
	for i, c := range sn.Collections {
		var err error
		if out[i], err = r.ResolveCollection(ctx, sn, c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PrefetchSnapshotLists loads the list chunks of a snapshot's collections in a few
// passes (PrefetchLists), for ResolveCollection to find. A damaged list is not an
// error here: ResolveCollection reports it, naming its collection.
//
// With the first pass go the parent's lists that sn's delta lists are written against,
// when Snapshots has loaded the parent: they mostly lie in the frames of sn's
// unchanged collections' lists (the parent's backup wrote them together), which a
// second pass for the bases would read again.
func (r *Repository) PrefetchSnapshotLists(ctx context.Context, sn *Snapshot) error {
	ids := make([]chunk.ID, len(sn.Collections), 2*len(sn.Collections))
	for i, c := range sn.Collections {
		ids[i] = c.List
	}
	ids = append(ids, r.likelyBases(sn)...)
	if err := r.PrefetchLists(ctx, ids); err != nil && !IsDamage(err) {
		return err
	}
	return nil
}

// ResolveCollection reads the chunk ids of one collection of sn and checks them
// against the manifest's count.
func (r *Repository) ResolveCollection(ctx context.Context, sn *Snapshot, c Collection) (ResolvedCollection, error) {
	l, err := r.LoadList(ctx, c.List, nil)
	if err != nil {
		return ResolvedCollection{}, fmt.Errorf("snapshot %s collection %s: %w", sn.ID, c.Name, err)
	}
	if len(l.Chunks) != c.Count {
		return ResolvedCollection{}, fmt.Errorf("snapshot %s collection %s: list has %d chunks, manifest says %d: %w", sn.ID, c.Name, len(l.Chunks), c.Count, ErrDamaged)
	}
	return ResolvedCollection{Collection: c, Chunks: l.Chunks}, nil
}

// likelyBases are the parent's lists of the collections whose list in sn is a delta
// (shorter than a full list of its count, as the index says): the lists a backup
// writes deltas against.
func (r *Repository) likelyBases(sn *Snapshot) []chunk.ID {
	parent := r.listed.get(sn.Parent)
	if sn.Parent == "" || parent == nil {
		return nil
	}
	prev := make(map[string]chunk.ID, len(parent.Collections))
	for _, c := range parent.Collections {
		prev[c.Name] = c.List
	}
	var out []chunk.ID
	for _, c := range sn.Collections {
		base, ok := prev[c.Name]
		if !ok || base == c.List {
			continue
		}
		if loc, found := r.idx.Lookup(c.List); found && int(loc.Raw) < listFullHeader+r.idSize()*c.Count {
			out = append(out, base)
		}
	}
	return out
}
