package repo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/faulty"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// refresher drives a handle's lock refreshes by hand: refresh makes one happen and
// returns its outcome once it is done.
type refresher struct {
	ticks chan time.Time
	done  chan error
}

func newRefresher() *refresher {
	return &refresher{ticks: make(chan time.Time), done: make(chan error)}
}

func (f *refresher) timing(clock func() time.Time) LockTiming {
	return LockTiming{Interval: time.Minute, Misses: 3, Now: clock,
		Tick:      func(time.Duration) (<-chan time.Time, func()) { return f.ticks, func() {} },
		OnRefresh: func(err error) { f.done <- err }}
}

func (f *refresher) refresh(tb testing.TB) error {
	tb.Helper()
	f.ticks <- time.Time{}
	return <-f.done
}

// otherTiming is the timing of a handle that judges locks by clock and never
// refreshes its own within a test.
func otherTiming(clock func() time.Time) LockTiming {
	return LockTiming{Interval: time.Minute, Misses: 3, Now: clock}
}

func openWith(tb testing.TB, be transport.Backend, opts ...Option) *Repository {
	tb.Helper()
	r, err := Open(context.Background(), be, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Release(context.Background()) })
	return r
}

func lockRecords(tb testing.TB, r *Repository) []lockRecord {
	tb.Helper()
	recs, err := r.loadLocks(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// deadPID returns the pid of a process that has ended.
func deadPID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		tb.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLockStaleness: which locks a prune takes for left behind. A lock is
// judged by its newest refresh first (whoever wrote it), then, when its writer saw
// this process's pids, by whether that process still runs: this process's pid with a
// token it does not hold, a pid no process has, or a pid whose process started at
// another time are all gone, even while the refresh time is recent. A lock from
// another PID namespace with this host name is never judged by this host's pids.
func TestLockStaleness(t *testing.T) {
	p := currentProcess()
	if p.hostID == "" {
		t.Skip("no /proc of this PID namespace: locks are judged by their refresh time only (TestLockRefreshTime covers it)")
	}
	own := newToken()
	heldTokens.add(own)
	defer heldTokens.remove(own)
	parent := livePID(t)
	parentStart, exists, known := processStart(parent)
	if !exists || !known {
		t.Fatalf("cannot read the start of the parent process %d", parent)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tm := LockTiming{}.withDefaults()
	fresh, old := now.Add(-time.Minute), now.Add(-tm.staleAge()-time.Minute)
	here := func(pid int, start uint64, token string, refreshed time.Time) lockRecord {
		return lockRecord{Op: "backup", Host: p.host, HostID: p.hostID, PID: pid, Start: start, Token: token,
			Created: refreshed.Add(-48 * time.Hour), Refreshed: refreshed}
	}
	dead := deadPID(t)
	otherNS := func(rec lockRecord) lockRecord { rec.HostID = "another-boot/pid:[1]"; return rec }
	otherHost := func(rec lockRecord) lockRecord { rec.Host, rec.HostID = "elsewhere", "x/y"; return rec }
	cases := []struct {
		name  string
		g     []lockRecord
		stale bool
	}{
		{"this process, its token, fresh", []lockRecord{here(p.pid, p.start, own, fresh)}, false},
		{"this process's pid, a token it does not hold", []lockRecord{here(p.pid, p.start, newToken(), fresh)}, true},
		{"this process, its token, not refreshed for too long", []lockRecord{here(p.pid, p.start, own, old)}, true},
		{"a live process, its start time, fresh", []lockRecord{here(parent, parentStart, newToken(), fresh)}, false},
		{"a live pid started at another time", []lockRecord{here(parent, parentStart+1, newToken(), fresh)}, true},
		{"a live process, not refreshed for too long", []lockRecord{here(parent, parentStart, newToken(), old)}, true},
		{"a pid no process has", []lockRecord{here(dead, 1, newToken(), fresh)}, true},
		{"another PID namespace, same host name, a pid dead here, fresh", []lockRecord{otherNS(here(dead, 1, newToken(), fresh))}, false},
		{"another PID namespace, this process's pid, fresh", []lockRecord{otherNS(here(p.pid, p.start, newToken(), fresh))}, false},
		{"another PID namespace, not refreshed for too long", []lockRecord{otherNS(here(dead, 1, newToken(), old))}, true},
		{"another host, fresh", []lockRecord{otherHost(here(dead, 1, newToken(), fresh))}, false},
		{"another host, refreshed ahead of this clock", []lockRecord{otherHost(here(dead, 1, newToken(), now.Add(time.Hour)))}, false},
		{"another host, an old copy and a fresh one", []lockRecord{otherHost(here(dead, 1, "t", old)), otherHost(here(dead, 1, "t", fresh))}, false},
		{"a lock without refresh time, created long ago", []lockRecord{{Op: "backup", Host: "elsewhere", PID: 1, Created: old}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := p.staleOp(c.g, tm, now); got != c.stale {
				t.Fatalf("stale = %v, want %v (%+v)", got, c.stale, c.g)
			}
		})
	}
}

// TestLockRefreshTime: a live operation's refreshes keep its lock fresh however
// long it runs; without them a prune takes it for crashed once it is Misses intervals
// old, removes it, and the operation finds out at its next refresh and at its
// recheck.
func TestLockRefreshTime(t *testing.T) {
	ctx := context.Background()
	_, be := testRepo(t)
	clock := &fakeClock{now: time.Now()}
	ref := newRefresher()
	op := openWith(t, be, WithLock("backup"), WithLockTiming(ref.timing(clock.Now)))
	judge := openWith(t, be, WithLockTiming(otherTiming(clock.Now)))
	for range 10 {
		clock.Advance(time.Minute)
		if err := ref.refresh(t); err != nil {
			t.Fatal(err)
		}
	}
	if recs := lockRecords(t, judge); len(recs) != 1 || !recs[0].Refreshed.Equal(clock.Now().UTC()) || recs[0].Token != op.ownToken() {
		t.Fatalf("after 10 refreshes the locks hold %+v", recs)
	}
	alive, _, removed, err := judge.runningOps(ctx, true)
	if err != nil || removed != 0 || !alive[op.ownToken()] {
		t.Fatalf("a prune 10 intervals in: alive %v, removed %d, %v", alive, removed, err)
	}
	// The operation stalls (a laptop asleep): 4 intervals without a refresh.
	clock.Advance(4 * time.Minute)
	alive, _, removed, err = judge.runningOps(ctx, true)
	if err != nil || removed != 1 || alive[op.ownToken()] {
		t.Fatalf("a prune after the stall: alive %v, removed %d, %v", alive, removed, err)
	}
	if err := ref.refresh(t); !errors.Is(err, ErrLockLost) {
		t.Fatalf("the refresh after the prune: %v, want ErrLockLost", err)
	}
	if err := op.CheckLock(ctx); !errors.Is(err, ErrLockLost) {
		t.Fatalf("recheck: %v, want ErrLockLost", err)
	}
	if err := op.SaveSnapshot(ctx, &Snapshot{ID: "x_1"}); !errors.Is(err, ErrLockLost) {
		t.Fatalf("commit: %v, want ErrLockLost", err)
	}
	if recs := lockRecords(t, judge); len(recs) != 0 {
		t.Fatalf("the lost operation left %d locks", len(recs))
	}
}

// TestPruneRelistsAfterRemovingStaleLocks: an operation that refreshes its lock
// between a prune's listing of the locks and its removal of the stale ones is still
// counted as running, so the packs it may use are not deleted under it.
func TestPruneRelistsAfterRemovingStaleLocks(t *testing.T) {
	ctx := context.Background()
	_, be := testRepo(t)
	start := time.Now()
	opClock := &fakeClock{now: start}
	ref := newRefresher()
	op := openWith(t, be, WithLock("backup"), WithLockTiming(ref.timing(opClock.Now)))
	// The prune's clock is an hour ahead: the operation's lock looks stale to it
	// (it was asleep, say). It wakes and refreshes just before the prune removes it.
	pruneClock := func() time.Time { return start.Add(time.Hour) }
	var once sync.Once
	hooked := faulty.New(be, faulty.Fault{Method: faulty.Remove,
		Match: func(h transport.Handle) bool { return h.Kind == transport.Locks },
		Hook: func(string, transport.Handle) error {
			once.Do(func() {
				opClock.Advance(time.Minute)
				if err := ref.refresh(t); err != nil {
					t.Errorf("refresh: %v", err)
				}
			})
			return nil
		}})
	prune := openWith(t, hooked, WithLockTiming(otherTiming(pruneClock)))
	retired := ObjectID{1}
	if _, err := prune.recordPending(ctx, []ObjectID{retired}, true); err != nil {
		t.Fatal(err)
	}
	if err := prune.LockPrune(ctx); err != nil {
		t.Fatal(err)
	}
	plan, err := prune.PlanPrune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Pending.Waiting != 1 || len(plan.Delete) != 0 {
		t.Fatalf("the prune did not wait for the operation that refreshed meanwhile: %+v", plan.Pending)
	}
	if err := op.CheckLock(ctx); err != nil {
		t.Fatalf("the operation's lock: %v", err)
	}
}
