// Package scheduletest holds a clock that tests move by hand.
package scheduletest

import (
	"sync"
	"time"

	"cairn/engine/schedule"
)

// Clock is a schedule.Clock that stands still until told. Waiting says each time a
// timer is made, so a test knows the scheduler is waiting before it moves the clock.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	Waiting chan time.Duration // the duration of every timer made; buffered
}

var _ schedule.Clock = (*Clock)(nil)

// New returns a clock at t.
func New(t time.Time) *Clock { return &Clock{now: t, Waiting: make(chan time.Duration, 64)} }

type timer struct {
	at    time.Time
	c     chan time.Time
	fired bool
	clock *Clock
}

func (t *timer) C() <-chan time.Time { return t.c }

func (t *timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.fired
	t.fired = true
	return was
}

// Now implements schedule.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer implements schedule.Clock.
func (c *Clock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	t := &timer{at: c.now.Add(d), c: make(chan time.Time, 1), clock: c}
	c.timers = append(c.timers, t)
	c.fire()
	c.mu.Unlock()
	select {
	case c.Waiting <- d:
	default:
	}
	return t
}

// Set moves the clock to t (forward or back, as a wall clock can jump) and fires the
// timers that are due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.fire()
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// fire sends on the timers whose time has come; c.mu is held.
func (c *Clock) fire() {
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.fired {
			continue
		}
		if !t.at.After(c.now) {
			t.fired = true
			t.c <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}
