package httpapi

import (
	"context"
	"fmt"
	"sync"
)

// Kinds of job.
const (
	creation    = "creation"
	restoration = "restoration"
)

// job is one backup or restore running in the background. Its goroutine ends when the
// work function returns, which a cancel makes happen soon.
type job struct {
	kind   string
	id     string
	cancel context.CancelFunc
	done   chan struct{}

	changed func() // says that the job's frame changed (jobs.notify)

	mu     sync.Mutex
	status string
	pct    float64
	backup Backup
	err    error
}

// progress moves the job's percentage on. Watchers hear of it when the status or
// the percentage in tenths changed, so that a fast job does not flood them.
func (j *job) progress(pct float64) {
	j.mu.Lock()
	changed := false
	if j.status == StatusInitialized || j.status == StatusInProgress {
		old := j.pct
		changed = j.status != StatusInProgress
		j.status = StatusInProgress
		j.pct = min(max(pct, j.pct), 99.9)
		changed = changed || int(old*10) != int(j.pct*10)
	}
	j.mu.Unlock()
	if changed {
		j.changed()
	}
}

// frame is the job's state as the API shows it.
func (j *job) frame() BackupStreamedProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	b := j.backup
	return BackupStreamedProgress{Status: j.status, Percentage: pct(j.pct), Backup: &b}
}

// result waits for the job to end and returns what it made, or ctx's error when ctx
// ends first (the job goes on).
func (j *job) result(ctx context.Context) (Backup, error) {
	select {
	case <-j.done:
	case <-ctx.Done():
		return Backup{}, ctx.Err()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.backup, j.err
}

func (j *job) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// jobs runs at most one job at a time and remembers finished ones for status calls.
type jobs struct {
	mu      sync.Mutex
	base    context.Context
	running *job
	wg      sync.WaitGroup
	recent  map[string]*job // kind + "/" + id
	changed chan struct{}   // closed (and replaced) when a job starts, moves on or ends
}

func newJobs(base context.Context) *jobs {
	return &jobs{base: base, recent: map[string]*job{}, changed: make(chan struct{})}
}

// watch returns a channel that is closed at the next change of a job's frame. Take
// it before reading the frames, so that no change is missed.
func (js *jobs) watch() <-chan struct{} {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.changed
}

// notify wakes the watchers.
func (js *jobs) notify() {
	js.mu.Lock()
	defer js.mu.Unlock()
	close(js.changed)
	js.changed = make(chan struct{})
}

// work is what a job does; it reports progress in percent and returns the backup it
// made or restored.
type work func(ctx context.Context, progress func(pct float64)) (Backup, error)

// start runs fn as a job, or fails with errBusy while another job runs.
func (js *jobs) start(kind, id string, initial Backup, fn work) (*job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.running != nil && !js.running.finished() {
		return nil, errBusy
	}
	ctx, cancel := context.WithCancel(js.base)
	j := &job{kind: kind, id: id, cancel: cancel, done: make(chan struct{}), status: StatusInitialized, backup: initial, changed: js.notify}
	js.running = j
	if len(js.recent) > 256 {
		for k, old := range js.recent {
			if old.finished() {
				delete(js.recent, k)
			}
		}
	}
	js.recent[kind+"/"+id] = j
	close(js.changed) // js.mu is held: notify's work, inline
	js.changed = make(chan struct{})
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		defer js.notify() // after done is closed: the job is no longer active
		defer close(j.done)
		defer cancel()
		b, err := fn(ctx, j.progress)
		j.mu.Lock()
		defer j.mu.Unlock()
		switch {
		case err == nil:
			j.status, j.pct, j.backup = StatusCompleted, 100, b
		case ctx.Err() != nil:
			j.status, j.err = StatusCanceled, context.Canceled
		default:
			j.status, j.err = StatusFailed, err
		}
	}()
	return j, nil
}

// find returns the job of that kind and backup id, running or recently finished.
func (js *jobs) find(kind, id string) *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.recent[kind+"/"+id]
}

// active returns the running job, if any.
func (js *jobs) active() *job {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.running != nil && !js.running.finished() {
		return js.running
	}
	return nil
}

// wait blocks until every job goroutine has ended, or ctx does. The goroutine it
// starts ends with the last job.
func (js *jobs) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		js.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs still running: %w", ctx.Err())
	}
}
