package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/faulty"
	"cairn/transport/mem"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lockTiming refreshes every minute and takes a lock for stale after 3 missed
// refreshes, on clock; refreshes happen when the test sends on ticks, and their
// outcome comes back on done. With nil ticks the handle never refreshes in a test.
func lockTiming(clock func() time.Time, ticks chan time.Time, done chan error) repo.LockTiming {
	t := repo.LockTiming{Interval: time.Minute, Misses: 3, Now: clock}
	if ticks != nil {
		t.Tick = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
		t.OnRefresh = func(err error) { done <- err }
	}
	return t
}

func openRepo(tb testing.TB, be transport.Backend, opts ...repo.Option) *repo.Repository {
	tb.Helper()
	r, err := repo.Open(context.Background(), be, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Release(context.Background()) })
	return r
}

// TestPruneSparesABackupRefreshedPastTheStaleAge: a backup that runs far longer than
// a lock's stale age keeps its lock fresh, so a prune meanwhile waits for it
// instead of removing its lock and deleting the packs it deduplicates against; the
// backup commits, and everything restores.
func TestPruneSparesABackupRefreshedPastTheStaleAge(t *testing.T) {
	ctx := context.Background()
	be := mem.New()
	r := newRepo(t, be)
	now := clock()
	db := generate(t, 1<<20, 31)
	first := backup(t, r, engine.FolderSource{Dir: db}, now)
	if err := engine.Forget(ctx, r, []*repo.Snapshot{first}); err != nil {
		t.Fatal(err)
	}
	wall := &manualClock{now: time.Now()}
	ticks, done := make(chan time.Time), make(chan error)
	running := openRepo(t, be, repo.WithLock("backup"), repo.WithLockTiming(lockTiming(wall.Now, ticks, done)))
	prune := func() engine.PruneStats {
		t.Helper()
		p := openRepo(t, be, repo.WithLockTiming(lockTiming(wall.Now, nil, nil)))
		st, err := engine.Prune(ctx, p, engine.PruneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := prune(); st.PacksRemoved == 0 {
		t.Fatalf("the first prune found nothing unused: %+v", st)
	}
	// Ten minutes pass, more than three times the stale age; the backup refreshes
	// its lock every minute.
	for range 10 {
		wall.Advance(time.Minute)
		ticks <- time.Time{}
		if err := <-done; err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
	if st := prune(); st.Pending.StaleLocks != 0 || st.Pending.Waiting != 1 || st.Pending.PacksDeleted != 0 {
		t.Fatalf("a prune ten minutes in took the running backup for crashed: %+v", st.Pending)
	}
	sn, err := engine.Backup(ctx, running, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now})
	if err != nil {
		t.Fatalf("the long backup: %v", err)
	}
	if sn.Totals.NewRawBytes != 0 {
		t.Fatalf("the long backup stored %d new bytes; it should deduplicate against the retired packs", sn.Totals.NewRawBytes)
	}
	if err := running.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if st := prune(); st.Pending.Waiting != 0 {
		t.Fatalf("a prune after the backup ended still waits: %+v", st.Pending)
	}
	fresh := reopen(t, r, be)
	if res, err := engine.Check(ctx, fresh, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check after the prunes: %v %+v", err, res)
	}
	sameCollections(t, readFolder(t, db), restoreFolder(t, fresh, sn))
}

// TestRecheckAfterPruneTookOperationForCrashed: a restore or check whose lock a
// prune removed (its clock an hour ahead, so the lock looked stale) while it ran,
// and which then finds packs missing, fails with repo.ErrLockLost instead of
// reporting a damaged repository.
func TestRecheckAfterPruneTookOperationForCrashed(t *testing.T) {
	cases := []struct {
		op string
		// when the prune runs: the call of the operation's that the hook stops at
		hit func(method string, h transport.Handle) bool
		run func(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, dir string) error
	}{
		{"restore",
			func(m string, h transport.Handle) bool { return m == faulty.Load && h.Kind == transport.Data },
			func(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, dir string) error {
				sink, err := engine.NewFolderSink(filepath.Join(dir, "restored"))
				if err != nil {
					return err
				}
				return engine.Restore(ctx, r, sn, sink, engine.RestoreOptions{})
			}},
		{"check",
			func(m string, h transport.Handle) bool { return m == faulty.List && h.Kind == transport.Index },
			func(ctx context.Context, r *repo.Repository, _ *repo.Snapshot, _ string) error {
				res, err := engine.Check(ctx, r, engine.CheckOptions{ReadData: true})
				if err == nil && !res.OK() {
					return errors.New("check reports damage: " + res.Errors[0].Message)
				}
				return err
			}},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			ctx := context.Background()
			be := mem.New()
			r := newRepo(t, be)
			sn := backup(t, r, engine.FolderSource{Dir: generate(t, 1<<20, 32)}, clock())
			ahead := func() time.Time { return time.Now().Add(time.Hour) }
			var armed atomic.Bool
			var once sync.Once
			hooked := faulty.New(be, faulty.Hook(func(m string, h transport.Handle) error {
				if !armed.Load() || !c.hit(m, h) {
					return nil
				}
				once.Do(func() {
					// The snapshot is forgotten and two prunes run: the first
					// removes the operation's lock as stale and retires the
					// packs, the second deletes them.
					if err := engine.Forget(ctx, reopen(t, r, be), []*repo.Snapshot{sn}); err != nil {
						t.Error(err)
					}
					for range 2 {
						p := openRepo(t, be, repo.WithLockTiming(lockTiming(ahead, nil, nil)))
						if _, err := engine.Prune(ctx, p, engine.PruneOptions{}); err != nil {
							t.Error(err)
						}
					}
				})
				return nil
			}))
			op := openRepo(t, hooked, repo.WithLock(c.op))
			armed.Store(true)
			err := c.run(ctx, op, sn, t.TempDir())
			if !errors.Is(err, repo.ErrLockLost) {
				t.Fatalf("%s under a prune that removed its lock: %v, want ErrLockLost", c.op, err)
			}
			if packs, _ := r.Packs(ctx); len(packs) != 0 {
				t.Fatalf("the prunes left %d packs; the test needs them gone", len(packs))
			}
		})
	}
}
