package schedule_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"cairn/engine/schedule"
	"cairn/engine/schedule/scheduletest"
)

// slot is a job slot that is busy when told.
type slot struct {
	mu   sync.Mutex
	busy bool
}

func (s *slot) Run(ctx context.Context, fn func(context.Context, *schedule.Job) error) error {
	s.mu.Lock()
	busy := s.busy
	s.mu.Unlock()
	if busy {
		return schedule.ErrBusy
	}
	return fn(ctx, &schedule.Job{})
}

// harness runs a scheduler on a hand-moved clock. Each run's result arrives on ran;
// the step fails while fail is set.
type harness struct {
	t     *testing.T
	clock *scheduletest.Clock
	slot  *slot
	s     *schedule.Scheduler
	ran   chan schedule.RunResult
	mu    sync.Mutex
	fail  error
}

func start(t *testing.T, now time.Time, plan schedule.Plan, state string) *harness {
	t.Helper()
	h := &harness{t: t, clock: scheduletest.New(now), slot: &slot{}, ran: make(chan schedule.RunResult, 16)}
	step := schedule.Step{Name: "backup", Do: func(context.Context, *schedule.Run) (string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return "done", h.fail
	}}
	s, err := schedule.New(schedule.Config{Plan: plan, Steps: []schedule.Step{step}, Slot: h.slot, Clock: h.clock,
		StateFile: state, RetryMin: time.Minute, RetryMax: 8 * time.Minute, BusyRetry: 30 * time.Second,
		Ran: func(r schedule.RunResult) { h.ran <- r }})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// run waits for the next run's result.
func (h *harness) run() schedule.RunResult {
	h.t.Helper()
	select {
	case r := <-h.ran:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no run")
	}
	return schedule.RunResult{}
}

// waiting waits until the scheduler waits on the clock, and fails if a run came
// first.
func (h *harness) waiting() {
	h.t.Helper()
	select {
	case <-h.clock.Waiting:
	case r := <-h.ran:
		h.t.Fatalf("an unexpected run at %s", r.Started)
	case <-time.After(10 * time.Second):
		h.t.Fatal("the scheduler does not wait")
	}
}

// next is the status's next run.
func (h *harness) next() time.Time {
	h.t.Helper()
	st := h.s.Status()
	if st.NextRun == nil {
		h.t.Fatal("no next run in the status")
	}
	return *st.NextRun
}

var t0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// TestMissedRunRunsOnce: with a backup every hour, the wall clock jumping ten hours
// (the machine slept) makes one run right after waking, not ten, and the next is an
// hour after that run.
func TestMissedRunRunsOnce(t *testing.T) {
	h := start(t, t0, schedule.Plan{Every: time.Hour}, "")
	if r := h.run(); !r.Started.Equal(t0) || r.Result != "ok" {
		t.Fatalf("first run: %+v", r) // no run recorded: the first is at once
	}
	h.waiting()
	if got := h.next(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next run %s", got)
	}
	h.clock.Advance(time.Hour)
	if r := h.run(); !r.Started.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second run at %s", r.Started)
	}
	h.waiting()
	wake := t0.Add(11 * time.Hour)
	h.clock.Set(wake)
	if r := h.run(); !r.Started.Equal(wake) {
		t.Fatalf("run after waking at %s", r.Started)
	}
	h.waiting() // and no second run for the other missed slots
	if got := h.next(); !got.Equal(wake.Add(time.Hour)) {
		t.Fatalf("next run after waking %s, want %s", got, wake.Add(time.Hour))
	}
	h.clock.Advance(59 * time.Minute)
	h.waiting()
}

// TestMissedWhileOff: a run missed while the daemon was off (its state file says
// when it last ran) runs once at start; one not yet due waits for its slot.
func TestMissedWhileOff(t *testing.T) {
	state := filepath.Join(t.TempDir(), "schedule.json")
	h := start(t, t0, schedule.Plan{Every: time.Hour}, state)
	h.run()
	h.waiting()
	// The daemon stops and starts again 30 minutes later: the slot has not come.
	later := t0.Add(30 * time.Minute)
	h2 := start(t, later, schedule.Plan{Every: time.Hour}, state)
	h2.waiting()
	if got := h2.next(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next run %s, want the slot after the recorded run", got)
	}
	// Started again days later: one run at once.
	days := t0.Add(72 * time.Hour)
	h3 := start(t, days, schedule.Plan{Every: time.Hour}, state)
	if r := h3.run(); !r.Started.Equal(days) {
		t.Fatalf("run at start %s", r.Started)
	}
	h3.waiting()
}

// TestDailyPlan: a daily 02:30 plan runs at 02:30, and after a night and a morning
// asleep once on waking, then at the next 02:30.
func TestDailyPlan(t *testing.T) {
	d, err := schedule.ParseDaily("02:30")
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, t0, schedule.Plan{At: &d}, "")
	h.waiting()
	slot := time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC)
	if got := h.next(); !got.Equal(slot) {
		t.Fatalf("first run %s, want %s", got, slot)
	}
	h.clock.Set(slot)
	h.run()
	h.waiting()
	wake := time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)
	h.clock.Set(wake)
	if r := h.run(); !r.Started.Equal(wake) {
		t.Fatalf("run after waking at %s", r.Started)
	}
	h.waiting()
	if got, want := h.next(), time.Date(2026, 3, 6, 2, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("next run %s, want %s", got, want)
	}
	for _, bad := range []string{"2:30", "24:00", "02:60", "ab:cd", "02:30pm"} {
		if _, err := schedule.ParseDaily(bad); err == nil {
			t.Errorf("ParseDaily(%q) accepted", bad)
		}
	}
}

// TestFailuresBackOff: failed runs are retried after 1, 2, 4, 8, 8 minutes (capped),
// never later than the next slot, and a success goes back to the plan.
func TestFailuresBackOff(t *testing.T) {
	h := start(t, t0, schedule.Plan{Every: time.Hour}, "")
	h.mu.Lock()
	h.fail = errors.New("server gone")
	h.mu.Unlock()
	h.run()
	now := t0
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 8 * time.Minute} {
		h.waiting()
		if got := h.next().Sub(now); got != want {
			t.Fatalf("retry %d after %s, want %s", i+1, got, want)
		}
		if st := h.s.Status(); st.Failures != i+1 || st.LastError == nil || st.LastError.Error == "" {
			t.Fatalf("status after %d failures: %+v", i+1, st)
		}
		now = now.Add(want)
		h.clock.Set(now)
		if r := h.run(); r.Result != "failed" {
			t.Fatalf("retry %d: %+v", i+1, r)
		}
	}
	h.mu.Lock()
	h.fail = nil
	h.mu.Unlock()
	h.waiting()
	now = h.next()
	h.clock.Set(now)
	if r := h.run(); r.Result != "ok" {
		t.Fatalf("run after the server came back: %+v", r)
	}
	h.waiting()
	if got := h.next().Sub(now); got != time.Hour {
		t.Fatalf("after a success the next run is in %s", got)
	}
	if st := h.s.Status(); st.Failures != 0 || st.LastSuccess == nil {
		t.Fatalf("status after the recovery: %+v", st)
	}
}

// TestBusyWaits: a run that meets another job is not a failure; it tries again
// shortly.
func TestBusyWaits(t *testing.T) {
	h := start(t, t0, schedule.Plan{Every: time.Hour}, "")
	h.run()
	h.waiting()
	h.slot.mu.Lock()
	h.slot.busy = true
	h.slot.mu.Unlock()
	h.clock.Advance(time.Hour)
	if r := h.run(); r.Result != "busy" {
		t.Fatalf("run beside another job: %+v", r)
	}
	h.waiting()
	if got := h.next().Sub(t0.Add(time.Hour)); got != 30*time.Second {
		t.Fatalf("busy retry in %s", got)
	}
	if st := h.s.Status(); st.Failures != 0 || st.LastRun == nil || st.LastRun.Result != "ok" {
		t.Fatalf("a busy slot changed the status: %+v", st)
	}
	h.slot.mu.Lock()
	h.slot.busy = false
	h.slot.mu.Unlock()
	h.clock.Advance(30 * time.Second)
	if r := h.run(); r.Result != "ok" {
		t.Fatalf("retry: %+v", r)
	}
}
