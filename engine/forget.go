package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"cairn/repo"
)

// ErrAmbiguous means a snapshot prefix matches more than one snapshot.
var ErrAmbiguous = errors.New("ambiguous snapshot id")

// FindSnapshot picks the snapshot whose version_timestamp id (or manifest object name)
// is ref or starts with ref; "latest" is the newest.
func FindSnapshot(list []*repo.Snapshot, ref string) (*repo.Snapshot, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty snapshot id: %w", repo.ErrNotFound)
	}
	if ref == "latest" {
		if len(list) == 0 {
			return nil, fmt.Errorf("no snapshots yet: %w", repo.ErrNotFound)
		}
		return list[len(list)-1], nil
	}
	var matches []*repo.Snapshot
	for _, sn := range list {
		if sn.ID == ref {
			return sn, nil
		}
		if strings.HasPrefix(sn.ID, ref) || strings.HasPrefix(sn.Name.String(), ref) {
			matches = append(matches, sn)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("snapshot %q: %w", ref, repo.ErrNotFound)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	return nil, fmt.Errorf("%q matches %s: %w", ref, strings.Join(ids, ", "), ErrAmbiguous)
}

// Policy says which snapshots forget keeps. A snapshot is kept if any rule keeps it.
// The rules count within one group of snapshots (see GroupBy and ApplyGrouped).
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       time.Duration // keep those this close to the group's newest
	KeepTags                                     []string      // keep those with any of these tags
	Tags                                         []string      // only snapshots with all of these tags are considered
}

// Empty reports whether the policy has no rule (forget then refuses to run).
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within == 0 && len(p.KeepTags) == 0
}

// Decision is what the policy says about one snapshot.
type Decision struct {
	Snapshot *repo.Snapshot
	Keep     bool
	Reasons  []string // the rules that keep it
}

// Apply decides for each snapshot of list, taken as one group, newest first.
// Snapshots without the policy's tags are left out of the result and never removed.
func (p Policy) Apply(list []*repo.Snapshot) []Decision {
	var cand []*repo.Snapshot
	for _, sn := range list {
		if hasTags(sn, p.Tags) {
			cand = append(cand, sn)
		}
	}
	slices.SortStableFunc(cand, func(a, b *repo.Snapshot) int { return b.Time.Compare(a.Time) })
	type rule struct {
		name   string
		count  int
		bucket func(time.Time) string
		last   string
	}
	rules := []*rule{
		{"last", p.Last, func(t time.Time) string { return t.String() }, ""},
		{"hourly", p.Hourly, func(t time.Time) string { return t.Format("2006-01-02 15") }, ""},
		{"daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }, ""},
		{"weekly", p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) }, ""},
		{"monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") }, ""},
		{"yearly", p.Yearly, func(t time.Time) string { return t.Format("2006") }, ""},
	}
	out := make([]Decision, len(cand))
	for i, sn := range cand {
		d := Decision{Snapshot: sn}
		t := sn.Time.Local()
		for _, r := range rules {
			if r.count == 0 {
				continue
			}
			b := r.bucket(t)
			if r.name == "last" {
				b = sn.ID
			}
			if b != r.last {
				r.last = b
				if r.count > 0 || r.count < 0 { // negative means unlimited
					d.Reasons = append(d.Reasons, r.name)
					if r.count > 0 {
						r.count--
					}
				}
			}
		}
		if p.Within > 0 && !sn.Time.Before(cand[0].Time.Add(-p.Within)) {
			d.Reasons = append(d.Reasons, "within "+formatWithin(p.Within))
		}
		for _, tag := range p.KeepTags {
			if slices.Contains(sn.Tags, tag) {
				d.Reasons = append(d.Reasons, "tag "+tag)
			}
		}
		d.Keep = len(d.Reasons) > 0
		out[i] = d
	}
	return out
}

// ParseWithin reads a --keep-within span as restic does: a sum of parts NyNmNwNdNh
// (years of 365 days, months of 30 days, weeks, days, hours), so "6m" is six months;
// any other form is read as a Go duration ("90s", "1.5h"). The empty string is 0.
func ParseWithin(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("invalid duration %q (examples: 36h, 7d, 6m, 1y2m3d)", s)
	var total time.Duration
	num, seen, parts := int64(0), false, true
	for _, ch := range s {
		switch {
		case ch >= '0' && ch <= '9':
			if num > math.MaxInt64/10 {
				return 0, bad
			}
			num = num*10 + int64(ch-'0')
			seen = true
		case seen && strings.ContainsRune("ymwdh", ch):
			unit := map[rune]time.Duration{'y': 365 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour}[ch]
			if num > int64(math.MaxInt64-total)/int64(unit) {
				return 0, bad // more than Go's durations hold (about 292 years)
			}
			total += time.Duration(num) * unit
			num, seen = 0, false
		default:
			parts = false
		}
	}
	if parts && !seen && total > 0 {
		return total, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 && !parts {
		return d, nil
	}
	return 0, bad
}

// formatWithin prints a --keep-within span in days and hours where it is whole hours
// (30d, 1d12h), else as Go prints durations.
func formatWithin(d time.Duration) string {
	if d%time.Hour != 0 {
		return d.String()
	}
	h := int64(d / time.Hour)
	switch {
	case h%24 == 0:
		return fmt.Sprintf("%dd", h/24)
	case h < 24:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dd%dh", h/24, h%24)
}

func hasTags(sn *repo.Snapshot, tags []string) bool {
	for _, t := range tags {
		if !slices.Contains(sn.Tags, t) {
			return false
		}
	}
	return true
}

// Forget removes the manifests of the given snapshots. Their chunks stay until prune.
func Forget(ctx context.Context, r *repo.Repository, remove []*repo.Snapshot) error {
	for _, sn := range remove {
		if err := r.RemoveSnapshot(ctx, sn); err != nil {
			return err
		}
	}
	return nil
}
