package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"cairn/chunk"
	"cairn/transport"
)

// Prune never deletes a pack in the run that finds it unused. It takes the pack out of
// the index and writes a pending-delete record naming the pack and the operations
// (backups, restores, checks) that were running at that moment; each of those wrote a
// marker before it loaded the index, and refreshes it while it runs. A later prune
// deletes the pack only when every one of those operations has ended (or was taken for
// crashed, and then fails before it commits), and even then keeps any pack that a
// snapshot written meanwhile needs. FORMAT.md gives the argument in full.

// ErrMarkerLost means a prune took this operation for crashed and removed its marker:
// packs it deduplicated against or reads from may be gone, so a backup must not commit
// and a restore's or check's failures say nothing about the repository.
var ErrMarkerLost = errors.New("this operation's marker was removed by a prune that took it for crashed; run it again")

// ErrPruneRunning means another prune holds the repository.
var ErrPruneRunning = errors.New("another prune is running on this repository")

const opPending = "pending-delete"

// lockRecord is an object of kind locks: a marker of a running operation, or a
// pending-delete record.
type lockRecord struct {
	Op      string    `json:"op"` // backup, restore, check, prune, or pending-delete
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Created time.Time `json:"created"`
	// Markers: the writer's clock when this copy was written, the operation's random
	// token (the same in every copy), and what tells whether its process still runs.
	Refreshed time.Time `json:"refreshed,omitzero"`
	Token     string    `json:"token,omitempty"`
	HostID    string    `json:"host_id,omitempty"` // boot id and PID namespace (Linux)
	Start     uint64    `json:"start,omitempty"`   // process start, clock ticks since boot (Linux)

	Packs   []ObjectID `json:"packs,omitempty"`    // pending-delete: the packs to delete
	WaitFor []string   `json:"wait_for,omitempty"` // pending-delete: ids (tokens) of the operations to outlive
	// Final is false for the record a prune writes before it changes the index, and
	// true for the one that replaces it afterwards. A draft left by a crashed prune
	// does not know who loaded the old index, so it waits until no operation runs.
	Final bool `json:"final,omitempty"`
	name  string
}

func (r *Repository) saveLock(ctx context.Context, rec lockRecord) (string, error) {
	js, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if len(js) > maxLockBytes-headerSize-sealOverhead {
		return "", fmt.Errorf("a %s record of %d bytes (naming %d packs) is more than cairn reads of one", rec.Op, len(js), len(rec.Packs))
	}
	data := sealObject(r.box, TypeLock, codecNone, js)
	name := objectID(data).String()
	return name, r.save(ctx, transport.Handle{Kind: transport.Locks, Name: name}, data)
}

// locks loads every marker and pending-delete record. Records that vanish while being
// listed are skipped; damaged ones are an error.
func (r *Repository) locks(ctx context.Context) ([]lockRecord, error) {
	var names []string
	if err := r.be.List(ctx, transport.Locks, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	var out []lockRecord
	for _, name := range names {
		data, err := transport.LoadMax(ctx, r.be, transport.Handle{Kind: transport.Locks, Name: name}, r.limits.of(TypeLock))
		if r.be.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load lock %s: %w", name[:8], tooLarge(err))
		}
		payload, err := openObject(r.box, data, TypeLock)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name[:8], err)
		}
		var rec lockRecord
		if err := json.Unmarshal(payload, &rec); err != nil {
			return nil, fmt.Errorf("lock %s: %v: %w", name[:8], err, ErrDamaged)
		}
		rec.name = name
		out = append(out, rec)
	}
	return out, nil
}

// WithMarker makes Open write a marker for an operation of kind op (backup, restore,
// check) before it loads the index, so that no prune deletes a pack the operation may
// use while it runs. The handle refreshes it until Release removes it.
func WithMarker(op string) Option { return func(o *options) { o.marker = op } }

// Begin writes a marker for an operation on an already open handle and reloads the
// index after it (a long-lived handle, as the daemon keeps, calls it per job).
func (r *Repository) Begin(ctx context.Context, op string) error {
	if err := r.Release(ctx); err != nil {
		return err
	}
	if err := r.writeMarker(ctx, op); err != nil {
		return err
	}
	return r.LoadIndex(ctx)
}

// PendingPacks returns the packs that pending-delete records name.
func (r *Repository) PendingPacks(ctx context.Context) (map[ObjectID]bool, error) {
	recs, err := r.locks(ctx)
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

// beforeCommit runs before a snapshot is written by a handle with a marker: the
// marker must still be there, and chunks the snapshot uses from packs that a prune
// has meanwhile retired are indexed again, so the snapshot never names a chunk the
// index lacks or a pack that a later prune deletes.
func (r *Repository) beforeCommit(ctx context.Context, sn *Snapshot) error {
	if r.marker == nil {
		return nil
	}
	if err := r.CheckMarker(ctx); err != nil {
		return err
	}
	return r.reviveRetired(ctx, sn)
}

// afterCommit runs once the manifest is written: a prune that wrote its record after
// beforeCommit looked, and listed the manifests before this one was there, did not see
// it; what the snapshot uses of that prune's packs is indexed again now, before the
// prune can finish (it waits for this handle's marker).
func (r *Repository) afterCommit(ctx context.Context, sn *Snapshot) error {
	if r.marker == nil {
		return nil
	}
	return r.reviveRetired(ctx, sn)
}

// reviveRetired writes an index file for the chunks of sn (data and list chunks) that
// the in-memory index places in packs a pending-delete record names.
func (r *Repository) reviveRetired(ctx context.Context, sn *Snapshot) error {
	recs, err := r.locks(ctx)
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

// PendingStats says what FinishPending did.
type PendingStats struct {
	Records, Waiting      int // pending-delete records, and those still waiting
	PacksDeleted, Revived int
	StaleMarkers          int // markers of crashed operations removed
}

// liveOps removes the markers of operations that ended without removing them, and
// returns the ids of the operations that may still run: those of which any marker is
// present in a listing made after those removals (returned too). An operation is never counted as
// ended on the word of a listing older than its last refresh: one that refreshed after
// the first listing has a copy in the second, and one that did not finds, at its next
// refresh, commit or recheck, that its marker is gone (ErrMarkerLost).
func (r *Repository) liveOps(ctx context.Context) (alive map[string]bool, recs []lockRecord, removed int, err error) {
	own := r.ownToken()
	if recs, err = r.locks(ctx); err != nil {
		return nil, nil, 0, err
	}
	now := r.timing.Now()
	for _, g := range markerGroups(recs, own) {
		if !r.proc.staleOp(g, r.timing, now) {
			continue
		}
		for _, rec := range g {
			if err := r.be.Remove(ctx, r.lockHandle(rec.name)); err != nil && !r.be.IsNotExist(err) {
				return nil, nil, removed, fmt.Errorf("remove stale marker: %w", err)
			}
		}
		removed++
	}
	if removed > 0 {
		if recs, err = r.locks(ctx); err != nil {
			return nil, nil, removed, err
		}
	}
	alive = map[string]bool{}
	for id := range markerGroups(recs, own) {
		alive[id] = true
	}
	return alive, recs, removed, nil
}

// ownToken is the token of the handle's marker, "" without one.
func (r *Repository) ownToken() string {
	if r.marker == nil {
		return ""
	}
	return r.marker.token
}

// FinishPending is the second phase of prune: for every pending-delete record whose
// operations have all ended, it deletes the record's packs, except those holding a
// chunk that a snapshot now needs and the index lacks (they are indexed again).
// liveChunks is called after the markers were checked, so it sees every snapshot
// those operations wrote. Markers of crashed operations are removed on the way.
func (r *Repository) FinishPending(ctx context.Context, liveChunks func(context.Context) (map[chunk.ID]bool, error)) (PendingStats, error) {
	var st PendingStats
	alive, recs, removed, err := r.liveOps(ctx)
	st.StaleMarkers = removed
	if err != nil {
		return st, err
	}
	var ready []lockRecord
	for _, rec := range recs {
		if rec.Op != opPending {
			continue
		}
		st.Records++
		if !rec.Final && len(alive) > 0 || slices.ContainsFunc(rec.WaitFor, func(m string) bool { return alive[m] }) {
			st.Waiting++
			continue
		}
		ready = append(ready, rec)
	}
	if len(ready) == 0 {
		return st, nil
	}
	// Snapshots and index as they are now that the waited-for operations have ended.
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	live, err := liveChunks(ctx)
	if err != nil {
		return st, err
	}
	for _, rec := range ready {
		for _, p := range rec.Packs {
			if r.idx.HasPack(p) {
				continue // indexed again by an operation that used it
			}
			_, refs, err := r.LoadPack(ctx, p)
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					continue // deleted by an earlier, interrupted run
				}
				return st, err
			}
			var need []BlobRef
			for _, e := range refs {
				if live[e.ID] && !r.idx.Has(e.ID) {
					need = append(need, e)
				}
			}
			if len(need) > 0 {
				if _, err := r.SaveIndex(ctx, indexFile{p: need}); err != nil {
					return st, err
				}
				r.idx.add(p, need)
				r.idx.merge()
				st.Revived++
				continue
			}
			if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Data, Name: p.String()}); err != nil && !r.be.IsNotExist(err) {
				return st, fmt.Errorf("remove pack %s: %w", p.Short(), err)
			}
			st.PacksDeleted++
		}
		if err := r.be.Remove(ctx, transport.Handle{Kind: transport.Locks, Name: rec.name}); err != nil && !r.be.IsNotExist(err) {
			return st, err
		}
	}
	return st, nil
}

// claimPrune writes the prune marker and fails if another prune holds one.
func (r *Repository) claimPrune(ctx context.Context) error {
	if err := r.writeMarker(ctx, "prune"); err != nil {
		return err
	}
	recs, err := r.locks(ctx)
	if err != nil {
		r.Release(ctx)
		return err
	}
	now := r.timing.Now()
	for _, g := range markerGroups(recs, r.ownToken()) {
		if g[0].Op == "prune" && !r.proc.staleOp(g, r.timing, now) {
			r.Release(ctx)
			return fmt.Errorf("%w (started %s on %s, pid %d)", ErrPruneRunning, g[0].Created.Local().Format(time.DateTime), g[0].Host, g[0].PID)
		}
	}
	return nil
}

// ClaimPrune makes this handle the repository's only prune. Release ends the claim.
func (r *Repository) ClaimPrune(ctx context.Context) error { return r.claimPrune(ctx) }

// retire writes a pending-delete record for packs. The final one comes after the index
// no longer names them: the markers present then are the operations that may still
// use them.
func (r *Repository) retire(ctx context.Context, packs []ObjectID, final bool) (string, error) {
	recs, err := r.locks(ctx)
	if err != nil {
		return "", err
	}
	var wait []string
	for id := range markerGroups(recs, r.ownToken()) {
		wait = append(wait, id)
	}
	slices.Sort(wait)
	return r.saveLock(ctx, lockRecord{Op: opPending, Host: r.proc.host, PID: r.proc.pid, Created: r.timing.Now().UTC(), Packs: packs, WaitFor: wait, Final: final})
}
