package schedule

import (
	"fmt"
	"time"
)

// Daily is a time of day, local.
type Daily struct{ Hour, Minute int }

// ParseDaily reads HH:MM (24-hour clock).
func ParseDaily(s string) (Daily, error) {
	var d Daily
	if len(s) != 5 || s[2] != ':' {
		return d, fmt.Errorf("daily time %q: want HH:MM, say 02:30", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &d.Hour, &d.Minute); err != nil || d.Hour > 23 || d.Minute > 59 || d.Hour < 0 || d.Minute < 0 {
		return d, fmt.Errorf("daily time %q: want HH:MM between 00:00 and 23:59", s)
	}
	return d, nil
}

func (d Daily) String() string { return fmt.Sprintf("%02d:%02d", d.Hour, d.Minute) }

// Plan says when scheduled runs are due: every Every, or daily At.
type Plan struct {
	Every time.Duration
	At    *Daily
}

// Enabled reports whether the plan has runs at all.
func (p Plan) Enabled() bool { return p.Every > 0 || p.At != nil }

// Next is the first slot after t: t+Every, or the next At after t in t's location.
func (p Plan) Next(t time.Time) time.Time {
	if p.At != nil {
		n := time.Date(t.Year(), t.Month(), t.Day(), p.At.Hour, p.At.Minute, 0, 0, t.Location())
		for !n.After(t) {
			n = time.Date(n.Year(), n.Month(), n.Day()+1, p.At.Hour, p.At.Minute, 0, 0, t.Location())
		}
		return n
	}
	return t.Add(p.Every)
}

// String describes the plan.
func (p Plan) String() string {
	switch {
	case p.At != nil:
		return "daily at " + p.At.String()
	case p.Every > 0:
		return "every " + p.Every.String()
	}
	return "off"
}
