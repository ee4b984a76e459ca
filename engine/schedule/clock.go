// Package schedule runs the daemon's backups on its own: at a fixed interval or a
// daily time, one run at a time in the daemon's job slot, each run a list of steps
// (backup, retention, prune, check, copy) where the steps not configured are left
// out. A run missed while the machine slept or was off runs once soon after, failures
// back off and retry, and failures and recoveries are posted to a webhook.
//
// It sits in the engine layer: it runs engine operations on a repository and knows
// nothing of HTTP clients. The HTTP API shares its job slot with it (Slot) and shows
// its Status.
package schedule

import "time"

// Clock is the scheduler's time: the wall clock and timers. Tests inject one they move.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer fires once on C after its duration, unless stopped.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the machine's clock.
type SystemClock struct{}

// Now implements Clock. The monotonic reading is dropped: a machine that slept moves
// the wall clock on while the monotonic one stood still, and slots are wall-clock
// times.
func (SystemClock) Now() time.Time { return time.Now().Round(0) }

// NewTimer implements Clock.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }
