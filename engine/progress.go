// Package engine runs cairn's jobs over a repository: backup, restore, forget, prune,
// check and diff. Jobs report progress as events; they never print.
package engine

import "time"

// Phase names the step a job is in.
type Phase string

// The phases a job reports.
const (
	PhaseScan    Phase = "scan"    // reading the source
	PhaseBackup  Phase = "backup"  // chunking, storing
	PhaseFlush   Phase = "flush"   // writing the last pack, the index and the manifest
	PhaseRestore Phase = "restore" // reading chunks back
	PhaseCheck   Phase = "check"   // verifying
	PhasePrune   Phase = "prune"   // rewriting packs
	PhaseDone    Phase = "done"
)

// Event is one progress report. Counters are totals so far, not increments.
type Event struct {
	Phase      Phase
	Collection string // the collection being worked on, if any
	BytesDone  int64
	BytesTotal int64 // 0 when unknown
	ItemsDone  int64 // chunks, packs or records, by phase
	ItemsTotal int64
	NewBytes   int64 // bytes of new chunks so far (backup)
	Elapsed    time.Duration
}

// Progress receives events. Implementations must be quick and safe for concurrent use.
type Progress interface {
	Report(Event)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Event)

// Report calls f.
func (f ProgressFunc) Report(e Event) { f(e) }

type noProgress struct{}

func (noProgress) Report(Event) {}

func orNoProgress(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}
