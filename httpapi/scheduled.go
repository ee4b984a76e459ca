package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"cairn/engine"
	"cairn/engine/schedule"
)

// Slot returns the server's one job slot for the daemon's schedule: a scheduled run
// holds it as a backup job, which clients see in /backups/streamed/progress and can
// cancel like their own, and while it does they get 409 (and it waits while theirs
// runs).
func (s *Server) Slot() schedule.Slot { return slot{s} }

type slot struct{ s *Server }

var _ schedule.Slot = slot{}

// Run implements schedule.Slot. It returns when fn has, or ctx has ended and fn with it.
func (sl slot) Run(ctx context.Context, fn func(ctx context.Context, j *schedule.Job) error) error {
	s := sl.s
	if s.jobs.active() != nil {
		return schedule.ErrBusy
	}
	r, err := s.repository(ctx)
	if err != nil {
		return err
	}
	initial, total, err := s.newCreation(ctx, r, "database")
	if err != nil {
		s.forgetRepository()
		return err
	}
	j, err := s.jobs.start(creation, initial.ID, initial, func(jctx context.Context, progress func(float64)) (Backup, error) {
		jctx, cancel := context.WithCancel(jctx)
		defer cancel()
		defer context.AfterFunc(ctx, cancel)()
		err := fn(jctx, &schedule.Job{Repo: r, SnapshotID: initial.ID, Progress: engine.ProgressFunc(func(e engine.Event) {
			if total > 0 && e.Phase == engine.PhaseBackup {
				progress(100 * float64(e.BytesDone) / float64(total))
			}
		})})
		if err != nil {
			s.forgetRepository() // reconnect and reload the index next time
		}
		return initial, err
	})
	if errors.Is(err, errBusy) {
		return fmt.Errorf("%w", schedule.ErrBusy)
	}
	if err != nil {
		return err
	}
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Scheduler is what the schedule endpoint shows.
type Scheduler interface {
	Status() schedule.Status
}

// scheduleStatus answers GET /cairn/v1/schedule: the schedule's state, or enabled
// false when the daemon has none.
func (s *Server) scheduleStatus(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Schedule == nil {
		writeJSON(w, http.StatusOK, schedule.Status{Plan: "off", Steps: []string{}})
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Schedule.Status())
}
