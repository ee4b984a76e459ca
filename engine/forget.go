package engine

import (
	"context"
	"errors"
	"fmt"
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
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       time.Duration
	Tags                                         []string // only snapshots with all of these tags are considered
}

// Empty reports whether the policy has no rule (forget then refuses to run).
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within == 0
}

// Decision is what the policy says about one snapshot.
type Decision struct {
	Snapshot *repo.Snapshot
	Keep     bool
	Reasons  []string // the rules that keep it
}

// Apply decides for each snapshot, newest first. Snapshots without the policy's tags
// are left out of the result and never removed.
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
		if p.Within > 0 && len(cand) > 0 && !sn.Time.Before(cand[0].Time.Add(-p.Within)) {
			d.Reasons = append(d.Reasons, "within "+p.Within.String())
		}
		d.Keep = len(d.Reasons) > 0
		out[i] = d
	}
	return out
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
