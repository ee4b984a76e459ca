package repo

import (
	"context"
	"fmt"
	"slices"

	"cairn/chunk"
)

// Prune never deletes a pack in the run that finds it unused. It takes the pack out of
// the index and writes a pending-delete record (an object in locks/) naming the pack
// and the operations (backups, restores, checks) that were running at that moment;
// each of those wrote a lock before it loaded the index, and refreshes it while it
// runs. A later prune deletes the pack only when every one of those operations has
// ended (or was taken for crashed, and then fails before it commits), and even then
// keeps any pack that a snapshot written meanwhile needs. This file holds the records
// and what a committing backup does about them; FORMAT.md gives the argument in full.

const opPending = "pending-delete"

// PendingPacks returns the packs that pending-delete records name.
func (r *Repository) PendingPacks(ctx context.Context) (map[ObjectID]bool, error) {
	recs, err := r.loadLocks(ctx)
	if err != nil {
		return nil, err
	}
	out := map[ObjectID]bool{}
	for _, rec := range recs {
		if rec.Op == opPending {
			for _, p := range rec.Packs {
				out[p] = true
			}
		}
	}
	return out, nil
}

// beforeCommit runs before a snapshot is written by a handle with a lock: the
// lock must still be there, and chunks the snapshot uses from packs that a prune
// has meanwhile retired are indexed again, so the snapshot never names a chunk the
// index lacks or a pack that a later prune deletes.
func (r *Repository) beforeCommit(ctx context.Context, sn *Snapshot) error {
	if r.lock == nil {
		return nil
	}
	if err := r.CheckLock(ctx); err != nil {
		return err
	}
	return r.reviveRetired(ctx, sn)
}

// afterCommit runs once the manifest is written: a prune that wrote its record after
// beforeCommit looked, and listed the manifests before this one was there, did not see
// it; what the snapshot uses of that prune's packs is indexed again now, before the
// prune can finish (it waits for this handle's lock).
func (r *Repository) afterCommit(ctx context.Context, sn *Snapshot) error {
	if r.lock == nil {
		return nil
	}
	return r.reviveRetired(ctx, sn)
}

// reviveRetired writes an index file for the chunks of sn (data and list chunks) that
// the in-memory index places in packs a pending-delete record names.
func (r *Repository) reviveRetired(ctx context.Context, sn *Snapshot) error {
	recs, err := r.loadLocks(ctx)
	if err != nil {
		return err
	}
	fossil := map[ObjectID]bool{}
	for _, rec := range recs {
		if rec.Op == opPending {
			for _, p := range rec.Packs {
				fossil[p] = true
			}
		}
	}
	if len(fossil) == 0 {
		return nil
	}
	revive := indexFile{}
	seen := map[chunk.ID]bool{}
	use := func(id chunk.ID) {
		if seen[id] {
			return
		}
		seen[id] = true
		if loc, ok := r.idx.Lookup(id); ok && fossil[loc.Pack] {
			revive[loc.Pack] = append(revive[loc.Pack], loc.Ref(id))
		}
	}
	for _, c := range sn.Collections {
		l, err := r.LoadList(ctx, c.List, use)
		if err != nil {
			return err
		}
		for _, id := range l.Chunks {
			use(id)
		}
	}
	if len(revive) == 0 {
		return nil
	}
	_, err = r.SaveIndex(ctx, revive)
	return err
}

// recordPending writes a pending-delete record for packs and returns its name. The
// final one comes after the index no longer names them: the locks present then are
// the operations that may still use them; a draft (final false) comes before.
func (r *Repository) recordPending(ctx context.Context, packs []ObjectID, final bool) (string, error) {
	recs, err := r.loadLocks(ctx)
	if err != nil {
		return "", fmt.Errorf("record packs pending deletion: %w", err)
	}
	var wait []string
	for id := range lockGroups(recs, r.ownToken()) {
		wait = append(wait, id)
	}
	slices.Sort(wait)
	name, err := r.saveLock(ctx, lockRecord{Op: opPending, Host: r.proc.host, PID: r.proc.pid, Created: r.timing.Now().UTC(), Packs: packs, WaitFor: wait, Final: final})
	if err != nil {
		return "", fmt.Errorf("record packs pending deletion: %w", err)
	}
	return name, nil
}
