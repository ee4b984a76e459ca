package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Status is the schedule's state as the daemon shows it.
type Status struct {
	Enabled bool     `json:"enabled"`
	Plan    string   `json:"plan"`  // "every 1h0m0s", "daily at 02:30" or "off"
	Steps   []string `json:"steps"` // the steps of each run, in order
	Running bool     `json:"running"`
	// NextRun is when the next run is due (a retry's time after a failure).
	NextRun *time.Time `json:"next_run,omitempty"`
	// Failures counts the runs that failed since the last one that worked.
	Failures    int          `json:"consecutive_failures"`
	LastRun     *RunResult   `json:"last_run,omitempty"`
	LastSuccess *time.Time   `json:"last_success,omitempty"`
	LastError   *RunResult   `json:"last_error,omitempty"` // the last run that failed
	LastCheck   *CheckStatus `json:"last_check,omitempty"`
}

// RunResult is what one run did.
type RunResult struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Result is "ok", "unchanged" (nothing to back up, nothing written), "failed" or
	// "busy" (another job held the slot; retried shortly).
	Result   string       `json:"result"`
	Snapshot string       `json:"snapshot,omitempty"`
	Error    string       `json:"error,omitempty"`
	Steps    []StepResult `json:"steps,omitempty"`
}

// StepResult is what one step of a run did.
type StepResult struct {
	Name    string `json:"name"`
	Result  string `json:"result"` // "ok", "skipped" or "failed"
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// CheckStatus is the last check's outcome.
type CheckStatus struct {
	At        time.Time `json:"at"`
	OK        bool      `json:"ok"`
	Errors    int       `json:"errors"`
	ReadData  bool      `json:"read_data"`
	BytesRead int64     `json:"bytes_read"`
	Message   string    `json:"message,omitempty"`
}

// saved is what the schedule keeps across restarts, in its state file: when the last
// run started (so that one missed while the daemon was off runs at start) and the
// last check.
type saved struct {
	LastRun   time.Time    `json:"last_run"`
	LastCheck *CheckStatus `json:"last_check,omitempty"`
}

// loadState reads the state file; none is a fresh start. A file that cannot be read
// as state is an error: the daemon says so rather than guess.
func loadState(name string) (saved, error) {
	var s saved
	if name == "" {
		return s, nil
	}
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read schedule state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("schedule state %s: %v (remove it to start afresh)", name, err)
	}
	return s, nil
}

// saveState writes the state file whole under a temporary name and renames it.
func saveState(name string, s saved) error {
	if name == "" {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save schedule state: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("save schedule state: %w", err)
	}
	return nil
}
