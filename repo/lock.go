package repo

// An operation that reads the index (backup, restore, check, prune) first writes a
// lock: an object in locks/ saying which operation runs, where, and since when. It is
// never exclusive but for prune: backups, restores and checks run side by side, and a
// prune waits for them only before it deletes a pack they may use (pending.go). This
// file holds the stored form; lock_held.go the lock a handle holds and refreshes;
// lock_stale.go how a prune tells running operations from crashed ones.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cairn/transport"
)

// ErrLockLost means a prune took this operation for crashed and removed its lock:
// packs it deduplicated against or reads from may be gone, so a backup must not commit
// and a restore's or check's failures say nothing about the repository.
var ErrLockLost = errors.New("this operation's lock was removed by a prune that took it for crashed; run it again")

// ErrPruneRunning means another prune holds the repository.
var ErrPruneRunning = errors.New("another prune is running on this repository")

// opPrune is the kind of the lock a prune holds.
const opPrune = "prune"

// lockRecord is an object in locks/: the lock of a running operation (one copy of it:
// a live operation rewrites its lock, see heldLock), or a pending-delete record.
type lockRecord struct {
	Op      string    `json:"op"` // backup, restore, check, prune, or pending-delete
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Created time.Time `json:"created"`
	// Locks: the writer's clock when this copy was written, the operation's random
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

// saveLock stores rec in locks/ and returns its name.
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

// loadLocks loads every object in locks/: the locks of running operations and the
// pending-delete records. Objects that vanish while being listed are skipped; damaged
// ones are an error.
func (r *Repository) loadLocks(ctx context.Context) ([]lockRecord, error) {
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
