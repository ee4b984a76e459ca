package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"cairn/engine"
	"cairn/engine/schedule"
	"cairn/transport"
)

// snapshotHold is a backend whose snapshot saves wait while it is armed: a backup
// held there has stored its packs and index files, and no snapshot names them yet.
type snapshotHold struct {
	transport.Backend
	h *hold
}

type hold struct {
	mu      sync.Mutex
	armed   bool
	reached chan struct{} // receives once a snapshot save waits
	release chan struct{} // closed to let it go on
}

func newHold() *hold {
	return &hold{reached: make(chan struct{}, 1), release: make(chan struct{})}
}

func (h *hold) arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = true
}

func (h *hold) wrap(be transport.Backend) transport.Backend { return &snapshotHold{Backend: be, h: h} }

func (s *snapshotHold) Save(ctx context.Context, hd transport.Handle, data []byte) error {
	s.h.mu.Lock()
	armed := s.h.armed
	s.h.mu.Unlock()
	if armed && hd.Kind == transport.Snapshots {
		select {
		case s.h.reached <- struct{}{}:
		default:
		}
		select {
		case <-s.h.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Backend.Save(ctx, hd, data)
}

// TestScheduledPruneBesideBackup: the schedule's retention and prune steps run,
// twice, while a backup a client started is between storing its packs and its
// snapshot, and the backup's data is what the last prune left pending (a snapshot
// that retention removed). The schedule's own run cannot start then (the job slot
// answers busy, as the API answers 409), so the steps run on a repository handle
// of their own, as the scheduled run would. The client's backup completes, its
// snapshot restores byte for byte, and a full check finds no errors, then and after
// the next scheduled run.
func TestScheduledPruneBesideBackup(t *testing.T) {
	held := newHold()
	d := newDaemonWith(t, setup{wrap: held.wrap, steps: func(s *schedule.Steps) {
		s.Retention, s.Prune = engine.Policy{Last: 1}, true
	}})
	ctx := context.Background()
	if r := d.run(); r.Result != "ok" {
		t.Fatalf("first run, of the empty database: %+v", r)
	}
	docA, docB := document(t, 2<<20, 13), document(t, 2<<20, 14)
	for i, doc := range [][]byte{docA, docB} {
		d.want(d.do("POST", "/database/import", doc), 204, "")
		d.next()
		if r := d.run(); r.Result != "ok" || steps(r) != "backup:ok retention:ok prune:ok" {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	// The snapshot of A is gone and its packs wait for the next prune; back up A again.
	d.want(d.do("POST", "/database/import", docA), 204, "")
	wantExport := d.do("GET", "/database/export", nil).body
	held.arm()
	done := make(chan response, 1)
	go func() { done <- d.do("POST", "/backups/create", nil) }()
	select {
	case <-held.reached:
	case r := <-done:
		t.Fatalf("the backup ended before its snapshot was held: %d %s", r.code, r.body)
	}
	d.want(d.do("POST", "/backups/create", nil), 409, "running")
	if err := d.srv.Slot().Run(ctx, func(context.Context, *schedule.Job) error { return nil }); !errors.Is(err, schedule.ErrBusy) {
		t.Fatalf("the job slot while a client's backup runs: %v", err)
	}

	other := openAt(t, d.loc)
	for i := range 2 {
		run := &schedule.Run{Job: &schedule.Job{Repo: other}, Started: d.clock.Now()}
		for _, step := range d.steps.List() {
			if step.Name != "retention" && step.Name != "prune" {
				continue
			}
			msg, err := step.Do(ctx, run)
			if err != nil {
				t.Fatalf("%s %d beside the backup: %v", step.Name, i, err)
			}
			t.Logf("%s %d: %s", step.Name, i, msg)
		}
	}
	close(held.release)
	r := <-done
	d.want(r, 200, "")
	var b Backup
	if err := json.Unmarshal(r.body, &b); err != nil || b.ID == "" {
		t.Fatalf("backup %s: %v", r.body, err)
	}

	checkClean := func(when string) {
		t.Helper()
		res, err := engine.Check(ctx, openAt(t, d.loc), engine.CheckOptions{ReadData: true})
		if err != nil {
			t.Fatalf("check %s: %v", when, err)
		}
		if !res.OK() {
			t.Fatalf("check %s: %d errors, the first: %s", when, len(res.Errors), res.Errors[0].Message)
		}
	}
	checkClean("after the backup")
	if got := exportOf(t, openAt(t, d.loc), b.ID); !bytes.Equal(got, wantExport) {
		t.Fatalf("the client's snapshot restores %d bytes, the database held %d, not the same", len(got), len(wantExport))
	}

	// The next scheduled run: a backup, retention keeping it alone, a prune.
	d.change(1)
	d.next()
	if r := d.run(); r.Result != "ok" || steps(r) != "backup:ok retention:ok prune:ok" {
		t.Fatalf("the next scheduled run: %+v", r)
	}
	checkClean("after the next scheduled run")
	if got := d.snapshots(); len(got) != 1 {
		t.Fatalf("retention kept %+v", got)
	}
}
