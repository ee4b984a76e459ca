package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cairn/transport"
)

// Defaults of LockTiming: a live operation rewrites its lock every 5 minutes, and
// a lock not rewritten for 6 of those intervals (30 minutes) counts as left by a
// crash. The hosts sharing a repository must keep their clocks within 25 minutes of
// each other, or their locks look stale to each other's prunes (the operation then
// fails at its recheck rather than lose data).
const (
	LockInterval = 5 * time.Minute
	LockMisses   = 6
)

// LockTiming says how often a live operation refreshes its lock, and when a prune
// takes a lock for one a crashed operation left behind. Zero fields take the
// defaults.
type LockTiming struct {
	Interval time.Duration    // between refreshes; LockInterval
	Misses   int              // refreshes missed before a lock is stale; LockMisses
	Now      func() time.Time // the clock; time.Now
	// Tick returns a channel that ticks every d and a function that stops it; a
	// time.Ticker when nil.
	Tick func(d time.Duration) (<-chan time.Time, func())
	// OnRefresh, when set, is called after every refresh with its outcome: nil when
	// the lock was rewritten, ErrLockLost when a prune had removed it, or why
	// storage could not be reached.
	OnRefresh func(error)
}

// WithLockTiming sets how the handle refreshes its locks and judges others'.
func WithLockTiming(t LockTiming) Option { return func(o *options) { o.timing = t } }

func (t LockTiming) withDefaults() LockTiming {
	if t.Interval <= 0 {
		t.Interval = LockInterval
	}
	if t.Misses <= 0 {
		t.Misses = LockMisses
	}
	if t.Now == nil {
		t.Now = time.Now
	}
	if t.Tick == nil {
		t.Tick = func(d time.Duration) (<-chan time.Time, func()) {
			tk := time.NewTicker(d)
			return tk.C, tk.Stop
		}
	}
	return t
}

func (t LockTiming) staleAge() time.Duration { return time.Duration(t.Misses) * t.Interval }

// heldLock is the lock of the operation a handle runs. Its goroutine (keepFresh)
// rewrites it every interval until Release: the new copy keeps the token and carries a
// new refresh time; it is saved before the old one is removed, and the old one must
// still be there, or a prune took the operation for crashed.
type heldLock struct {
	op, token string
	cancel    context.CancelFunc // ends keepFresh
	done      chan struct{}      // closed when keepFresh has returned

	mu       sync.Mutex
	rec      lockRecord // as last written
	name     string     // the object holding it
	leftover []string   // earlier copies whose removal failed; Release tries again
	lost     bool       // a prune removed it
}

func (r *Repository) lockHandle(name string) transport.Handle {
	return transport.Handle{Kind: transport.Locks, Name: name}
}

// WithLock makes Open write a lock for an operation of kind op (backup, restore,
// check) before it loads the index, so that no prune deletes a pack the operation may
// use while it runs. The handle refreshes it until Release removes it.
func WithLock(op string) Option { return func(o *options) { o.lock = op } }

// Lock writes a lock for an operation on an already open handle and reloads the
// index after it (a long-lived handle, as the daemon keeps, calls it per job).
func (r *Repository) Lock(ctx context.Context, op string) error {
	if err := r.Release(ctx); err != nil {
		return err
	}
	if err := r.writeLock(ctx, op); err != nil {
		return err
	}
	return r.LoadIndex(ctx)
}

// LockPrune makes this handle the repository's only prune: it writes a prune lock and
// fails with ErrPruneRunning if another live prune holds one. Release ends it.
func (r *Repository) LockPrune(ctx context.Context) error {
	if err := r.writeLock(ctx, opPrune); err != nil {
		return err
	}
	recs, err := r.loadLocks(ctx)
	if err != nil {
		r.Release(ctx)
		return err
	}
	now := r.timing.Now()
	for _, g := range lockGroups(recs, r.ownToken()) {
		if g[0].Op == opPrune && !r.proc.staleOp(g, r.timing, now) {
			r.Release(ctx)
			return fmt.Errorf("%w (started %s on %s, pid %d)", ErrPruneRunning, g[0].Created.Local().Format(time.DateTime), g[0].Host, g[0].PID)
		}
	}
	return nil
}

// writeLock records that an operation of kind op runs, before it reads the index, and
// starts keeping the lock fresh.
func (r *Repository) writeLock(ctx context.Context, op string) error {
	now := r.timing.Now().UTC()
	rec := lockRecord{Op: op, Host: r.proc.host, PID: r.proc.pid, HostID: r.proc.hostID, Start: r.proc.start,
		Token: newToken(), Created: now, Refreshed: now}
	// Held before the lock exists: a prune in this process must never see the
	// lock without its token among this process's.
	heldTokens.add(rec.Token)
	name, err := r.saveLock(ctx, rec)
	if err != nil {
		heldTokens.remove(rec.Token)
		return fmt.Errorf("write %s lock: %w", op, err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &heldLock{op: op, token: rec.Token, cancel: cancel, done: make(chan struct{}), rec: rec, name: name}
	r.lock = m
	go r.keepFresh(fctx, m)
	return nil
}

// keepFresh refreshes m every interval until Release cancels ctx, or until it finds
// that a prune removed the lock. A refresh that fails otherwise (storage out of
// reach) is tried again at the next tick; the lock ages meanwhile, and the
// operation's commit or recheck finds out if a prune took it for crashed.
func (r *Repository) keepFresh(ctx context.Context, m *heldLock) {
	defer close(m.done)
	ticks, stop := r.timing.Tick(r.timing.Interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			err := r.refreshLock(ctx, m)
			if r.timing.OnRefresh != nil {
				r.timing.OnRefresh(err)
			}
			if errors.Is(err, ErrLockLost) {
				return
			}
		}
	}
}

// refreshLock writes a new copy of m's lock with the time now, checks that the
// current copy is still there, and removes it.
func (r *Repository) refreshLock(ctx context.Context, m *heldLock) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost {
		return ErrLockLost
	}
	rec := m.rec
	rec.Refreshed = r.timing.Now().UTC()
	name, err := r.saveLock(ctx, rec)
	if err != nil {
		return fmt.Errorf("refresh %s lock: %w", m.op, err)
	}
	if name == m.name {
		return nil // the clock did not move
	}
	// The copy a prune may have seen last must have survived until the new one
	// existed: a prune that removed it before then counted the operation as ended.
	_, err = r.be.Stat(ctx, r.lockHandle(m.name))
	if err != nil {
		r.dropCopy(ctx, m, name)
		if r.be.IsNotExist(err) {
			m.lost = true
			return ErrLockLost
		}
		return fmt.Errorf("refresh %s lock: %w", m.op, err)
	}
	old := m.name
	m.rec, m.name = rec, name
	r.dropCopy(ctx, m, old)
	return nil
}

// dropCopy removes a copy of m's lock, or keeps its name for Release to try again;
// m.mu is held.
func (r *Repository) dropCopy(ctx context.Context, m *heldLock, name string) {
	if err := r.be.Remove(ctx, r.lockHandle(name)); err != nil && !r.be.IsNotExist(err) {
		m.leftover = append(m.leftover, name)
	}
}

// CheckLock reports whether the handle's lock is still there: ErrLockLost when a
// prune took the operation for crashed and removed it (packs the operation reads may
// be gone since), nil when it is there or the handle has none.
func (r *Repository) CheckLock(ctx context.Context) error {
	m := r.lock
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost {
		return ErrLockLost
	}
	if _, err := r.be.Stat(ctx, r.lockHandle(m.name)); err != nil {
		if r.be.IsNotExist(err) {
			m.lost = true
			return ErrLockLost
		}
		return fmt.Errorf("check %s lock: %w", m.op, err)
	}
	return nil
}

// Release stops refreshing the handle's lock and removes it, if it has one. A handle
// with an index cache that wrote index files (a backup) first updates the cache.
func (r *Repository) Release(ctx context.Context) error {
	r.saveWrittenIndexCache()
	m := r.lock
	if m == nil {
		return nil
	}
	r.lock = nil
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, name := range append([]string{m.name}, m.leftover...) {
		if err := r.be.Remove(ctx, r.lockHandle(name)); err != nil && !r.be.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	m.leftover = nil
	heldTokens.remove(m.token)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s lock: %w", m.op, err)
	}
	return nil
}

// ownToken is the token of the handle's lock, "" without one.
func (r *Repository) ownToken() string {
	if r.lock == nil {
		return ""
	}
	return r.lock.token
}
