package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Config is what a Scheduler needs.
type Config struct {
	Plan   Plan
	Steps  []Step
	Slot   Slot
	Clock  Clock        // SystemClock when nil
	Logger *slog.Logger // discards when nil
	Notify *Notifier    // nil: no alerts
	// StateFile keeps the last run's time across restarts; none when empty.
	StateFile string
	// Poll is the longest the scheduler waits before it looks at the wall clock
	// again: a machine that slept past a slot notices within Poll of waking. 1 min
	// when 0.
	Poll time.Duration
	// RetryMin and RetryMax bound the backoff after a failed run: RetryMin, doubling
	// with each failure in a row, at most RetryMax, never past the next slot. 1 min
	// and 1 h when 0.
	RetryMin, RetryMax time.Duration
	// BusyRetry is how soon a run that met another job tries again; 1 min when 0.
	BusyRetry time.Duration
	// Ran is called after each run with its result (tests wait on it); may be nil.
	Ran func(RunResult)
}

// Scheduler runs the steps on the plan. Run it once; Status may be called any time.
type Scheduler struct {
	cfg Config

	mu        sync.Mutex
	status    Status
	lastRun   time.Time
	lastCheck time.Time
	failing   map[string]bool // steps whose last run failed: their next success is a recovery
}

// New returns a scheduler; it reads the state file, so that a run missed while the
// daemon was off is known.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Minute
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Minute
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.BusyRetry <= 0 {
		cfg.BusyRetry = time.Minute
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, lastRun: st.LastRun, failing: map[string]bool{}}
	s.status = Status{Enabled: cfg.Plan.Enabled(), Plan: cfg.Plan.String(), Steps: []string{}, LastCheck: st.LastCheck}
	if st.LastCheck != nil {
		s.lastCheck = st.LastCheck.At
	}
	for _, step := range cfg.Steps {
		s.status.Steps = append(s.status.Steps, step.Name)
	}
	return s, nil
}

// Status returns the schedule's state.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Steps = append([]string(nil), st.Steps...)
	return st
}

// firstDue is when the first run is due: the slot after the last run recorded (at
// once when that slot passed while the daemon was off); with no run recorded, at
// once for an interval and at the next daily time for a daily plan.
func (s *Scheduler) firstDue(now time.Time) time.Time {
	switch {
	case !s.lastRun.IsZero():
		if due := s.cfg.Plan.Next(s.lastRun); due.Before(now) {
			return now
		} else {
			return due
		}
	case s.cfg.Plan.At != nil:
		return s.cfg.Plan.Next(now)
	}
	return now
}

// Run runs the schedule until ctx ends. A slot missed while the machine slept (the
// wall clock jumped past it, however many slots) runs once, soon after.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.cfg.Plan.Enabled() {
		return nil
	}
	due := s.firstDue(s.cfg.Clock.Now())
	failures := 0
	for {
		s.setNext(due)
		if err := s.waitUntil(ctx, due); err != nil {
			return err
		}
		res := s.runOnce(ctx)
		now := s.cfg.Clock.Now()
		switch res.Result {
		case "busy":
			due = now.Add(s.cfg.BusyRetry)
		case "failed":
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			due = now.Add(s.backoff(failures))
			if next := s.nextSlot(res.Started, now); next.Before(due) {
				due = next
			}
		default:
			failures = 0
			due = s.nextSlot(res.Started, now)
		}
	}
}

// nextSlot is the slot after a run that started at start: the plan's next one, or
// the one after now when that has passed already (a run longer than the interval).
func (s *Scheduler) nextSlot(start, now time.Time) time.Time {
	if next := s.cfg.Plan.Next(start); next.After(now) {
		return next
	}
	return s.cfg.Plan.Next(now)
}

// backoff is the wait after n failed runs in a row.
func (s *Scheduler) backoff(n int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// waitUntil returns once the wall clock reaches due, looking at it at least every
// Poll, or with ctx's error.
func (s *Scheduler) waitUntil(ctx context.Context, due time.Time) error {
	for {
		left := due.Sub(s.cfg.Clock.Now())
		if left <= 0 {
			return nil
		}
		t := s.cfg.Clock.NewTimer(min(left, s.cfg.Poll))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
	}
}

func (s *Scheduler) setNext(due time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.NextRun = &due
}

// runOnce runs the steps in the job slot, records the result and sends alerts.
func (s *Scheduler) runOnce(ctx context.Context) RunResult {
	start := s.cfg.Clock.Now()
	s.mu.Lock()
	s.status.Running = true
	run := &Run{Started: start, LastCheck: s.lastCheck, Failing: maps.Clone(s.failing)}
	s.mu.Unlock()
	res := RunResult{Started: start}
	failed := ""
	err := s.cfg.Slot.Run(ctx, func(ctx context.Context, j *Job) error {
		run.Job = j
		for _, step := range s.cfg.Steps {
			msg, err := step.Do(ctx, run)
			sr := StepResult{Name: step.Name, Result: "ok", Message: msg}
			switch {
			case errors.Is(err, ErrSkipped):
				sr.Result = "skipped"
			case err != nil:
				sr.Result, sr.Error = "failed", err.Error()
				res.Steps = append(res.Steps, sr)
				failed = step.Name
				return fmt.Errorf("%s: %w", step.Name, err)
			}
			res.Steps = append(res.Steps, sr)
		}
		return nil
	})
	res.Finished = s.cfg.Clock.Now()
	if run.Snapshot != nil {
		res.Snapshot = run.Snapshot.ID
	}
	switch {
	case errors.Is(err, ErrBusy):
		res.Result = "busy"
		s.cfg.Logger.Info("scheduled backup waits: another job is running", "retry", s.cfg.BusyRetry)
	case err != nil:
		res.Result, res.Error = "failed", err.Error()
		if failed == "" && len(s.cfg.Steps) > 0 {
			failed = s.cfg.Steps[0].Name // the run could not start: its first step failed
		}
		s.cfg.Logger.Warn("scheduled run failed", "step", failed, "err", err)
	case run.Unchanged:
		res.Result = "unchanged"
		s.cfg.Logger.Info("scheduled backup: nothing changed, nothing written")
	default:
		res.Result = "ok"
		s.cfg.Logger.Info("scheduled backup done", "snapshot", res.Snapshot)
	}
	s.record(res, run, failed)
	if s.cfg.Ran != nil {
		s.cfg.Ran(res)
	}
	return res
}

// record keeps a run's result in the status and the state file, and sends the
// alerts: a failure of each failed step, a recovery of each step that ran and worked
// again (a skipped step stays failing).
func (s *Scheduler) record(res RunResult, run *Run, failed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Running = false
	if res.Result == "busy" {
		return
	}
	s.status.LastRun = &res
	if run.Check != nil {
		s.status.LastCheck, s.lastCheck = run.Check, run.Check.At
	}
	var events []Event
	if res.Result == "failed" {
		s.status.Failures++
		s.status.LastError = &res
		if !s.failing[failed] {
			// One alert per failure in a row; the backoff retries don't repeat it.
			events = append(events, Event{Event: EventFailure, Job: failed, Started: res.Started, Finished: res.Finished, Error: res.Error, Snapshot: res.Snapshot})
		}
		s.failing[failed] = true
	} else {
		s.status.Failures = 0
		fin := res.Finished
		s.status.LastSuccess = &fin
	}
	for _, sr := range res.Steps {
		// Only a step that ran and worked recovers: one skipped this time (a check
		// not due yet, a copy with nothing new) has not shown that its failure is over.
		if sr.Result == "ok" && s.failing[sr.Name] {
			delete(s.failing, sr.Name)
			events = append(events, Event{Event: EventRecovered, Job: sr.Name, Started: res.Started, Finished: res.Finished, Snapshot: res.Snapshot, Message: sr.Message})
		}
	}
	s.lastRun = res.Started
	if err := saveState(s.cfg.StateFile, saved{LastRun: s.lastRun, LastCheck: s.status.LastCheck}); err != nil {
		s.cfg.Logger.Warn("schedule state not saved", "err", err)
	}
	for _, e := range events {
		s.cfg.Notify.Send(e)
	}
}
