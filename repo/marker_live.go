package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cairn/transport"
)

// Defaults of MarkerTiming: a live operation rewrites its marker every 5 minutes, and
// a marker not rewritten for 6 of those intervals (30 minutes) counts as left by a
// crash. The hosts sharing a repository must keep their clocks within 25 minutes of
// each other, or their markers look stale to each other's prunes (the operation then
// fails at its recheck rather than lose data).
const (
	MarkerInterval = 5 * time.Minute
	MarkerMisses   = 6
)

// MarkerTiming says how often a live operation refreshes its marker, and when a prune
// takes a marker for one a crashed operation left behind. Zero fields take the
// defaults.
type MarkerTiming struct {
	Interval time.Duration    // between refreshes; MarkerInterval
	Misses   int              // refreshes missed before a marker is stale; MarkerMisses
	Now      func() time.Time // the clock; time.Now
	// Tick returns a channel that ticks every d and a function that stops it; a
	// time.Ticker when nil.
	Tick func(d time.Duration) (<-chan time.Time, func())
	// OnRefresh, when set, is called after every refresh with its outcome: nil when
	// the marker was rewritten, ErrMarkerLost when a prune had removed it, or why
	// storage could not be reached.
	OnRefresh func(error)
}

// WithMarkerTiming sets how the handle refreshes its markers and judges others'.
func WithMarkerTiming(t MarkerTiming) Option { return func(o *options) { o.timing = t } }

func (t MarkerTiming) withDefaults() MarkerTiming {
	if t.Interval <= 0 {
		t.Interval = MarkerInterval
	}
	if t.Misses <= 0 {
		t.Misses = MarkerMisses
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

func (t MarkerTiming) staleAge() time.Duration { return time.Duration(t.Misses) * t.Interval }

// liveMarker is the marker of the operation a handle runs. Its goroutine (keepFresh)
// rewrites it every interval until Release: the new copy keeps the token and carries a
// new refresh time; it is saved before the old one is removed, and the old one must
// still be there, or a prune took the operation for crashed.
type liveMarker struct {
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

// writeMarker records that an operation of kind op runs, before it reads the index, and
// starts keeping the marker fresh.
func (r *Repository) writeMarker(ctx context.Context, op string) error {
	now := r.timing.Now().UTC()
	rec := lockRecord{Op: op, Host: r.proc.host, PID: r.proc.pid, HostID: r.proc.hostID, Start: r.proc.start,
		Token: newToken(), Created: now, Refreshed: now}
	// Held before the marker exists: a prune in this process must never see the
	// marker without its token among this process's.
	liveTokens.add(rec.Token)
	name, err := r.saveLock(ctx, rec)
	if err != nil {
		liveTokens.remove(rec.Token)
		return fmt.Errorf("write %s marker: %w", op, err)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &liveMarker{op: op, token: rec.Token, cancel: cancel, done: make(chan struct{}), rec: rec, name: name}
	r.marker = m
	go r.keepFresh(fctx, m)
	return nil
}

// keepFresh refreshes m every interval until Release cancels ctx, or until it finds
// that a prune removed the marker. A refresh that fails otherwise (storage out of
// reach) is tried again at the next tick; the marker ages meanwhile, and the
// operation's commit or recheck finds out if a prune took it for crashed.
func (r *Repository) keepFresh(ctx context.Context, m *liveMarker) {
	defer close(m.done)
	ticks, stop := r.timing.Tick(r.timing.Interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			err := r.refreshMarker(ctx, m)
			if r.timing.OnRefresh != nil {
				r.timing.OnRefresh(err)
			}
			if errors.Is(err, ErrMarkerLost) {
				return
			}
		}
	}
}

// refreshMarker writes a new copy of m's marker with the time now, checks that the
// current copy is still there, and removes it.
func (r *Repository) refreshMarker(ctx context.Context, m *liveMarker) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost {
		return ErrMarkerLost
	}
	rec := m.rec
	rec.Refreshed = r.timing.Now().UTC()
	name, err := r.saveLock(ctx, rec)
	if err != nil {
		return fmt.Errorf("refresh %s marker: %w", m.op, err)
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
			return ErrMarkerLost
		}
		return fmt.Errorf("refresh %s marker: %w", m.op, err)
	}
	old := m.name
	m.rec, m.name = rec, name
	r.dropCopy(ctx, m, old)
	return nil
}

// dropCopy removes a copy of m's marker, or keeps its name for Release to try again;
// m.mu is held.
func (r *Repository) dropCopy(ctx context.Context, m *liveMarker, name string) {
	if err := r.be.Remove(ctx, r.lockHandle(name)); err != nil && !r.be.IsNotExist(err) {
		m.leftover = append(m.leftover, name)
	}
}

// CheckMarker reports whether the handle's marker is still there: ErrMarkerLost when a
// prune took the operation for crashed and removed it (packs the operation reads may
// be gone since), nil when it is there or the handle has none.
func (r *Repository) CheckMarker(ctx context.Context) error {
	m := r.marker
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost {
		return ErrMarkerLost
	}
	if _, err := r.be.Stat(ctx, r.lockHandle(m.name)); err != nil {
		if r.be.IsNotExist(err) {
			m.lost = true
			return ErrMarkerLost
		}
		return fmt.Errorf("check %s marker: %w", m.op, err)
	}
	return nil
}

// Release stops refreshing the handle's marker and removes it, if it has one.
func (r *Repository) Release(ctx context.Context) error {
	m := r.marker
	if m == nil {
		return nil
	}
	r.marker = nil
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
	liveTokens.remove(m.token)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove %s marker: %w", m.op, err)
	}
	return nil
}
