package repo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cairn/transport"
)

// ErrMarkerLost means a prune took this operation for crashed and removed its marker:
// packs it deduplicated against or reads from may be gone, so a backup must not commit
// and a restore's or check's failures say nothing about the repository.
var ErrMarkerLost = errors.New("this operation's marker was removed by a prune that took it for crashed; run it again")

// ErrPruneRunning means another prune holds the repository.
var ErrPruneRunning = errors.New("another prune is running on this repository")

// opPrune is the kind of the lock a prune holds.
const opPrune = "prune"

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

// liveOps removes the markers of operations that ended without removing them, and
// returns the ids of the operations that may still run: those of which any marker is
// present in a listing made after those removals (returned too). An operation is never
// counted as ended on the word of a listing older than its last refresh: one that
// refreshed after the first listing has a copy in the second, and one that did not
// finds, at its next refresh, commit or recheck, that its marker is gone
// (ErrMarkerLost). Without remove (a dry run) nothing is removed: the stale operations
// are counted as ended, and the first listing is the answer.
func (r *Repository) liveOps(ctx context.Context, remove bool) (alive map[string]bool, recs []lockRecord, removed int, err error) {
	own := r.ownToken()
	if recs, err = r.locks(ctx); err != nil {
		return nil, nil, 0, err
	}
	now := r.timing.Now()
	alive = map[string]bool{}
	for id, g := range markerGroups(recs, own) {
		if !r.proc.staleOp(g, r.timing, now) {
			alive[id] = true
			continue
		}
		if !remove {
			removed++ // a dry run: counted as ended, left in place
			continue
		}
		for _, rec := range g {
			if err := r.be.Remove(ctx, r.lockHandle(rec.name)); err != nil && !r.be.IsNotExist(err) {
				return nil, nil, removed, fmt.Errorf("remove stale marker: %w", err)
			}
		}
		removed++
	}
	if !remove || removed == 0 {
		return alive, recs, removed, nil
	}
	if recs, err = r.locks(ctx); err != nil {
		return nil, nil, removed, err
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

// claimPrune writes the prune marker and fails if another prune holds one.
func (r *Repository) claimPrune(ctx context.Context) error {
	if err := r.writeMarker(ctx, opPrune); err != nil {
		return err
	}
	recs, err := r.locks(ctx)
	if err != nil {
		r.Release(ctx)
		return err
	}
	now := r.timing.Now()
	for _, g := range markerGroups(recs, r.ownToken()) {
		if g[0].Op == opPrune && !r.proc.staleOp(g, r.timing, now) {
			r.Release(ctx)
			return fmt.Errorf("%w (started %s on %s, pid %d)", ErrPruneRunning, g[0].Created.Local().Format(time.DateTime), g[0].Host, g[0].PID)
		}
	}
	return nil
}

// ClaimPrune makes this handle the repository's only prune. Release ends the claim.
func (r *Repository) ClaimPrune(ctx context.Context) error { return r.claimPrune(ctx) }
