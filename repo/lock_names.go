package repo

import "context"

// The handle's lock under its older word, as repository.go still names it: the
// Repository field marker holds the handle's heldLock, timing its LockTiming, and
// options.marker the kind of lock Open takes. Everything else reaches them through
// the functions here. When repository.go is split by job, rename those fields (and
// the lines of Open and newRepository that use these names) and delete this file.

type liveMarker = heldLock

// MarkerTiming is LockTiming's older name.
//
// Deprecated: use LockTiming.
type MarkerTiming = LockTiming

func (r *Repository) writeMarker(ctx context.Context, op string) error { return r.writeLock(ctx, op) }

// held is the lock the handle holds, nil without one.
func (r *Repository) held() *heldLock { return r.marker }

func (r *Repository) setHeld(l *heldLock) { r.marker = l }

// setLockOp makes Open take a lock for an operation of kind op.
func (o *options) setLockOp(op string) { o.marker = op }
