package schedule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/repo"
)

// ErrBusy means another job holds the daemon's job slot.
var ErrBusy = errors.New("another backup or restore is running")

// Slot is the daemon's one job slot, which scheduled runs share with the jobs that
// clients start: never two at once.
type Slot interface {
	// Run runs fn holding the slot and returns its error, or an error wrapping
	// ErrBusy at once while another job holds it.
	Run(ctx context.Context, fn func(ctx context.Context, j *Job) error) error
}

// Job is what a run gets with the slot.
type Job struct {
	Repo *repo.Repository
	// SnapshotID is the id a backup of this run takes: clients see it in the
	// progress of running backups.
	SnapshotID string
	Progress   engine.Progress // the backup's progress, as clients see it; may be nil
}

// Run is one scheduled run as its steps see it.
type Run struct {
	Job       *Job
	Started   time.Time
	Snapshot  *repo.Snapshot  // made by the backup step; nil when nothing changed
	Unchanged bool            // the backup found the database as its parent has it
	LastCheck time.Time       // when the last check ran (before this run)
	Check     *CheckStatus    // set by the check step when it ran
	Failing   map[string]bool // steps whose last run failed (before this run)
}

// Step is one part of a run. It returns what it did in a few words, or ErrSkipped
// when it had nothing to do.
type Step struct {
	Name string
	Do   func(ctx context.Context, r *Run) (string, error)
}

// ErrSkipped is returned by a step that had nothing to do this time.
var ErrSkipped = errors.New("skipped")

// Steps is what the daemon is configured to do on each run.
type Steps struct {
	DB         *localdb.DB
	DeviceName string
	Platform   string
	Now        func() time.Time

	Retention   engine.Policy  // empty: no retention step
	GroupBy     engine.GroupBy // retention applies within each group of this device's snapshots
	Prune       bool           // prune after the backup (and retention)
	CheckEvery  time.Duration  // 0: no check step
	CheckRead   bool           // checks read and verify every pack
	CheckSubset engine.Subset  // checks read these packs (N/T: the part moves on with each check)
	// Copy copies the new snapshots to a second repository; nil: no copy step.
	Copy func(ctx context.Context, src *repo.Repository, snapshots []string) (string, error)
}

// List returns the steps in their order, the ones not configured left out: backup,
// then retention and prune, then check, then copy.
func (s Steps) List() []Step {
	steps := []Step{{Name: "backup", Do: s.backup}}
	if !s.Retention.Empty() {
		steps = append(steps, Step{Name: "retention", Do: s.retention})
	}
	if s.Prune {
		steps = append(steps, Step{Name: "prune", Do: s.prune})
	}
	if s.CheckEvery > 0 {
		steps = append(steps, Step{Name: "check", Do: s.check})
	}
	if s.Copy != nil {
		steps = append(steps, Step{Name: "copy", Do: s.copy})
	}
	return steps
}

// backup backs the local database up, unless no collection changed since the newest
// database snapshot (every change tag as it recorded, and the same version): then it
// writes nothing at all, not even a lock, and the steps after it that only matter
// after a new snapshot skip too.
func (s Steps) backup(ctx context.Context, r *Run) (string, error) {
	src := engine.DatabaseSource{DB: s.DB}
	list, err := r.Job.Repo.Snapshots(ctx)
	if err != nil {
		return "", fmt.Errorf("list snapshots: %w", err)
	}
	if parent := newestDatabase(list); parent != nil {
		same, err := unchanged(ctx, src, s.DB, parent)
		if err != nil {
			return "", err
		}
		if same {
			r.Unchanged = true
			return "nothing changed since " + parent.ID + ": no new snapshot", nil
		}
	}
	if err := r.Job.Repo.Lock(ctx, "backup"); err != nil {
		return "", err
	}
	defer r.Job.Repo.Release(context.WithoutCancel(ctx))
	sn, err := engine.Backup(ctx, r.Job.Repo, src, engine.BackupOptions{
		ID: r.Job.SnapshotID, Kind: repo.KindDatabase, DeviceName: s.DeviceName, Platform: s.Platform,
		Now: s.Now, Progress: r.Job.Progress, Tags: []string{"scheduled"},
	})
	if err != nil {
		return "", err
	}
	r.Snapshot = sn
	return fmt.Sprintf("snapshot %s: %d bytes, %d new, %d sent", sn.ID, sn.Totals.RawBytes, sn.Totals.NewRawBytes, sn.Totals.BytesSent), nil
}

// newestDatabase is the snapshot a database backup builds on (engine.Backup's parent).
func newestDatabase(list []*repo.Snapshot) *repo.Snapshot {
	var parent *repo.Snapshot
	for _, sn := range list {
		if sn.Kind == repo.KindDatabase {
			parent = sn
		}
	}
	return parent
}

// unchanged reports whether the database holds what parent recorded: the same
// version and the same collections with the same change tags. A collection without a
// tag counts as changed.
func unchanged(ctx context.Context, src engine.DatabaseSource, db *localdb.DB, parent *repo.Snapshot) (bool, error) {
	meta, err := db.Meta()
	if err != nil {
		return false, fmt.Errorf("read database: %w", err)
	}
	if meta.Version != parent.Version {
		return false, nil
	}
	tags, err := src.CollectionTags(ctx)
	if err != nil {
		return false, fmt.Errorf("read database tags: %w", err)
	}
	st, err := db.Stats()
	if err != nil {
		return false, fmt.Errorf("read database: %w", err)
	}
	if len(st.Collections) != len(parent.Collections) {
		return false, nil
	}
	had := map[string]string{}
	for _, c := range parent.Collections {
		had[c.Name] = c.Tag
	}
	// As many collections as the parent, each with the parent's tag: the same set.
	for name := range st.Collections {
		if t, ok := had[name]; !ok || t == "" || tags[name] != t {
			return false, nil
		}
	}
	return true, nil
}

// retention applies the retention policy to this device's snapshots alone, so that
// one device's rules never remove another device's history, within the groups
// GroupBy makes of them (by tags, say). Its chunks go at the next prune.
func (s Steps) retention(ctx context.Context, r *Run) (string, error) {
	if r.Unchanged {
		return "", ErrSkipped
	}
	list, err := r.Job.Repo.Snapshots(ctx)
	if err != nil {
		return "", fmt.Errorf("list snapshots: %w", err)
	}
	var mine []*repo.Snapshot
	for _, sn := range list {
		if sn.DeviceName == s.DeviceName && sn.Kind == repo.KindDatabase {
			mine = append(mine, sn)
		}
	}
	var remove []*repo.Snapshot
	for _, g := range s.Retention.ApplyGrouped(mine, s.GroupBy) {
		for _, d := range g.Decisions {
			if !d.Keep {
				remove = append(remove, d.Snapshot)
			}
		}
	}
	if err := engine.Forget(ctx, r.Job.Repo, remove); err != nil {
		return "", err
	}
	return fmt.Sprintf("kept %d snapshots of %s, removed %d", len(mine)-len(remove), s.DeviceName, len(remove)), nil
}

// prune drops the chunks no snapshot needs (two-phase: it never blocks a backup).
func (s Steps) prune(ctx context.Context, r *Run) (string, error) {
	if r.Unchanged {
		return "", ErrSkipped
	}
	st, err := engine.Prune(ctx, r.Job.Repo, engine.PruneOptions{MaxUnused: 0.5})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d packs: %d unused, %d repacked; %d bytes freed", st.Packs, st.PacksRemoved, st.PacksRepacked, st.BytesFreed), nil
}

// check verifies the repository when the last check is older than CheckEvery, reading
// every pack with CheckRead, or the packs of CheckSubset.
func (s Steps) check(ctx context.Context, r *Run) (string, error) {
	if !r.LastCheck.IsZero() && r.Started.Sub(r.LastCheck) < s.CheckEvery {
		return "", ErrSkipped
	}
	res, err := engine.Check(ctx, r.Job.Repo, engine.CheckOptions{ReadData: s.CheckRead, Subset: s.subsetAt(r.Started)})
	if err != nil {
		return "", err
	}
	r.Check = &CheckStatus{At: r.Started, OK: res.OK(), Errors: len(res.Errors), ReadData: res.ReadData, BytesRead: res.BytesRead}
	if !res.OK() {
		return "", fmt.Errorf("check found %d errors (first: %s): %w", len(res.Errors), res.Errors[0].Message, repo.ErrDamaged)
	}
	r.Check.Message = fmt.Sprintf("%d snapshots, %d packs, %d chunks: no errors", res.Snapshots, res.Packs, res.Chunks)
	return r.Check.Message, nil
}

// copy copies the snapshots the second repository lacks, the new one among them.
func (s Steps) copy(ctx context.Context, r *Run) (string, error) {
	// A copy that failed is tried again even when nothing changed since: the target
	// still lacks snapshots, and the copy sends only what it lacks.
	if (r.Unchanged || r.Snapshot == nil) && !r.Failing["copy"] {
		return "", ErrSkipped
	}
	return s.Copy(ctx, r.Job.Repo, nil)
}

// subsetAt is the subset a check started at t reads. A part N/T moves on with the
// checks: the part is the number of CheckEvery periods since the Unix epoch modulo T,
// so checks CheckEvery apart read the parts in turn and T of them read every pack,
// with no state kept between runs. Percentages and sizes are random each time.
func (s Steps) subsetAt(t time.Time) engine.Subset {
	sub := s.CheckSubset
	if sub.Parts == 0 || s.CheckEvery <= 0 {
		return sub
	}
	period := uint64(t.UnixNano() / int64(s.CheckEvery))
	sub.Part = period%sub.Parts + 1
	return sub
}
