package engine

import (
	"context"
	"fmt"

	"cairn/repo"
)

// PruneOptions tune prune.
type PruneOptions struct {
	// MaxUnused is the share of a pack's bytes that may be garbage before the pack is
	// repacked; packs with no live chunk are always removed. Default 0.5.
	MaxUnused float64
	DryRun    bool
	Progress  Progress
}

// PruneStats says what prune found and did.
type PruneStats = repo.PruneStats

// Prune drops chunks that no snapshot needs, in two phases so that it never blocks a
// backup and never deletes what a running one uses. First it finishes what earlier
// prunes left pending: their packs are deleted once every backup, restore and check
// that was running then has ended (packs a snapshot written meanwhile needs are
// indexed again instead). Then it takes packs with nothing live, and packs that are
// mostly garbage after copying their live chunks out, off the index and leaves them
// pending for the next prune. Only one prune runs at a time.
//
// The repository plans and executes (Repository.PlanPrune and Prune); this adds the
// prune lock around them and progress. A dry run plans without the lock and stops
// there: it changes nothing.
func Prune(ctx context.Context, r *repo.Repository, opt PruneOptions) (PruneStats, error) {
	if !opt.DryRun {
		if err := r.LockPrune(ctx); err != nil {
			return PruneStats{}, fmt.Errorf("prune: %w", err)
		}
		defer r.Release(context.WithoutCancel(ctx))
	}
	plan, err := r.PlanPrune(ctx, repo.PruneOptions{MaxUnused: opt.MaxUnused, DryRun: opt.DryRun})
	if err != nil {
		return PruneStats{}, err
	}
	if opt.DryRun {
		return plan.Stats(), nil
	}
	if n := len(plan.Drop) + len(plan.Repack); n > 0 {
		orNoProgress(opt.Progress).Report(Event{Phase: PhasePrune, ItemsTotal: int64(n)})
	}
	return r.Prune(ctx, plan)
}
