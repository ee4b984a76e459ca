package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/engine/schedule"
	"cairn/engine/schedule/scheduletest"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/location"
	"cairn/transport/rest/resttest"
)

// daemon is the API over a local database and a repository on a real rest-server,
// with a schedule on a hand-moved clock and a webhook.
type daemon struct {
	*fixture
	rest   *resttest.Server
	loc    string         // the repository's location, as the daemon reaches it
	steps  schedule.Steps // what each scheduled run does
	clock  *scheduletest.Clock
	sched  *schedule.Scheduler
	ran    chan schedule.RunResult
	alerts chan schedule.Event
}

// setup changes what newDaemonWith builds; the zero value is newDaemon's daemon.
type setup struct {
	// steps changes the steps of each run (backup, retention of two, prune).
	steps func(*schedule.Steps)
	// front is the URL the daemon reaches the rest-server at (a proxy in front of
	// it); the server's own when nil.
	front func(*resttest.Server) string
	// wrap wraps the backend of the API's repository handles.
	wrap func(transport.Backend) transport.Backend
	// packSize is the repository's pack size; 256 KiB when 0.
	packSize int
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	return newDaemonWith(t, setup{})
}

func newDaemonWith(t *testing.T, set setup) *daemon {
	t.Helper()
	ctx := context.Background()
	srv := resttest.Start(t, "--no-auth")
	url := srv.URL
	if set.front != nil {
		url = set.front(srv)
	}
	loc := "rest:" + url + "repo"
	be, err := location.Create(ctx, loc, location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rcfg, _ := repo.NewConfig(time.Now())
	rcfg.PackSize = 256 << 10
	if set.packSize != 0 {
		rcfg.PackSize = set.packSize
	}
	if _, err := repo.Init(ctx, be, rcfg); err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d := &daemon{rest: srv, loc: loc, clock: scheduletest.New(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)),
		ran: make(chan schedule.RunResult, 16), alerts: make(chan schedule.Event, 16)}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e schedule.Event
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		d.alerts <- e
	}))
	t.Cleanup(hook.Close)
	api := New(Config{DB: db, DeviceName: "laptop", Platform: "LINUX", Schedule: scheduleOf(&d.sched),
		OpenRepo: func(ctx context.Context) (*repo.Repository, error) {
			be, err := location.Open(ctx, loc, location.Options{})
			if err != nil {
				return nil, err
			}
			if set.wrap != nil {
				be = set.wrap(be)
			}
			return repo.Open(ctx, be)
		}})
	d.fixture = &fixture{t: t, srv: api, http: serve(t, api), db: db}
	notify := schedule.NewNotifier(schedule.NotifierConfig{URL: hook.URL + "/alert", Device: "laptop", RetryMin: time.Millisecond})
	d.steps = schedule.Steps{DB: db, DeviceName: "laptop", Platform: "LINUX", Retention: engine.Policy{Last: 2}, Prune: true}
	if set.steps != nil {
		set.steps(&d.steps)
	}
	d.sched, err = schedule.New(schedule.Config{Plan: schedule.Plan{Every: time.Hour}, Steps: d.steps.List(), Slot: api.Slot(),
		Clock: d.clock, Notify: notify, RetryMin: time.Minute, Ran: func(r schedule.RunResult) { d.ran <- r }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { d.sched.Run(runCtx); done <- struct{}{} }()
	go func() { notify.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { stop(); <-done; <-done })
	return d
}

type statusFunc func() schedule.Status

func (f statusFunc) Status() schedule.Status { return f() }

func scheduleOf(s **schedule.Scheduler) Scheduler {
	return statusFunc(func() schedule.Status { return (*s).Status() })
}

// run waits for the next scheduled run's result (a rest-server that is down makes a
// run last the transport's retries, some seconds).
func (d *daemon) run() schedule.RunResult {
	d.t.Helper()
	select {
	case r := <-d.ran:
		return r
	case <-time.After(2 * time.Minute):
		d.t.Fatal("no scheduled run")
	}
	return schedule.RunResult{}
}

// next moves the clock to the next run, once the scheduler waits for it.
func (d *daemon) next() {
	d.t.Helper()
	select {
	case <-d.clock.Waiting:
	case <-time.After(time.Minute):
		d.t.Fatal("the scheduler does not wait")
	}
	st := d.sched.Status()
	d.clock.Set(*st.NextRun)
}

func (d *daemon) alert() schedule.Event {
	d.t.Helper()
	select {
	case e := <-d.alerts:
		return e
	case <-time.After(time.Minute):
		d.t.Fatal("no alert")
	}
	return schedule.Event{}
}

// change writes a record into the database.
func (d *daemon) change(i int) {
	d.t.Helper()
	err := d.db.Merge(context.Background(), func(w *localdb.Writer) error {
		return w.Collection("assets", strings.NewReader(fmt.Sprintf(`{"id":"asset-%d","text":"edited %d"}`+"\n", i, i)))
	})
	if err != nil {
		d.t.Fatal(err)
	}
}

// serverFiles lists every file of the rest-server with its size.
func (d *daemon) serverFiles() []string {
	d.t.Helper()
	return filesIn(d.t, d.rest.Dir)
}

// filesIn lists every file under dir with its size, sorted.
func filesIn(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", p, fi.Size()))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// steps lists a run's steps with their results: "backup:ok prune:skipped".
func steps(r schedule.RunResult) string {
	var s []string
	for _, st := range r.Steps {
		s = append(s, st.Name+":"+st.Result)
	}
	return strings.Join(s, " ")
}

func (d *daemon) snapshots() []Backup {
	d.t.Helper()
	r := d.do("GET", "/backups", nil)
	d.want(r, 200, "")
	var b Backups
	json.Unmarshal(r.body, &b)
	return b.Iterable
}

// TestScheduledDaemon: against a real rest-server, scheduled backups appear, each
// followed by retention (two kept) and a prune; a run with nothing changed writes
// nothing at all; a killed server makes the webhook hear of a failure, retried with
// backoff, and of the recovery once the server is back; the schedule's state is at
// GET /cairn/v1/schedule.
func TestScheduledDaemon(t *testing.T) {
	d := newDaemon(t)
	if r := d.run(); r.Result != "ok" { // no run recorded: the first is at once
		t.Fatalf("first run, of the empty database: %+v", r)
	}
	d.want(d.do("POST", "/database/import", document(t, 2<<20, 8)), 204, "")
	d.next()
	r := d.run()
	if r.Result != "ok" || r.Snapshot == "" {
		t.Fatalf("run after an import: %+v", r)
	}
	if got := steps(r); got != "backup:ok retention:ok prune:ok" {
		t.Fatalf("steps %s", got)
	}
	if got := d.snapshots(); len(got) != 2 || got[0].ID != r.Snapshot {
		t.Fatalf("snapshots after two runs: %+v", got)
	}

	// Nothing changed: nothing is written, not even a lock.
	before := d.serverFiles()
	d.next()
	r = d.run()
	if r.Result != "unchanged" || r.Snapshot != "" || steps(r) != "backup:ok retention:skipped prune:skipped" {
		t.Fatalf("unchanged run: %+v", r)
	}
	if after := d.serverFiles(); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Fatalf("an unchanged run wrote to the server:\nbefore %v\nafter  %v", before, after)
	}
	var st schedule.Status
	json.Unmarshal(d.do("GET", "/cairn/v1/schedule", nil).body, &st)
	if !st.Enabled || st.LastRun == nil || st.LastRun.Result != "unchanged" || st.NextRun == nil || !strings.Contains(st.LastRun.Steps[0].Message, "nothing changed") {
		t.Fatalf("schedule status %+v", st)
	}

	// Another device backs up into the same repository: three snapshots of its own,
	// more than the laptop's rules keep.
	other := openAt(t, d.loc, repo.WithLock("backup"))
	var desk []string
	for i := range 3 {
		doc := document(t, 64<<10, int64(40+i))
		src := engine.ExportedSource{Name: "desk", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }}
		sn, err := engine.Backup(context.Background(), other, src, engine.BackupOptions{DeviceName: "desk", Platform: "MACOS"})
		if err != nil {
			t.Fatal(err)
		}
		desk = append(desk, sn.ID)
	}
	other.Release(context.Background())

	// Two changed runs: three snapshots made, the oldest removed by retention; the
	// desk's three stay, as the laptop's rules apply to the laptop's snapshots alone.
	for i := range 2 {
		d.change(i)
		d.next()
		if r = d.run(); r.Result != "ok" || steps(r) != "backup:ok retention:ok prune:ok" {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	byDevice := map[string][]string{}
	for _, b := range d.snapshots() {
		byDevice[b.DeviceName] = append(byDevice[b.DeviceName], b.ID)
	}
	if got := byDevice["laptop"]; len(got) != 2 || got[0] != r.Snapshot {
		t.Fatalf("retention kept %v of the laptop", got)
	}
	if got := byDevice["desk"]; len(got) != 3 {
		t.Fatalf("the laptop's retention left %v of the desk's %v", got, desk)
	}

	// The server is killed: a failure alert, once, and retries with backoff.
	d.rest.Stop()
	d.change(3)
	d.next()
	if r = d.run(); r.Result != "failed" {
		t.Fatalf("run without a server: %+v", r)
	}
	if e := d.alert(); e.Event != schedule.EventFailure || e.Job != "backup" || e.Error == "" || e.Device != "laptop" {
		t.Fatalf("failure alert %+v", e)
	}
	json.Unmarshal(d.do("GET", "/cairn/v1/schedule", nil).body, &st)
	if st.Failures != 1 || st.LastError == nil || st.LastError.Error == "" || st.NextRun.Sub(st.LastError.Finished) != time.Minute {
		t.Fatalf("status after the failure %+v", st)
	}
	d.rest.Restart()
	d.next()
	if r = d.run(); r.Result != "ok" {
		t.Fatalf("run after the server came back: %+v", r)
	}
	if e := d.alert(); e.Event != schedule.EventRecovered || e.Job != "backup" || e.Snapshot != r.Snapshot {
		t.Fatalf("recovery alert %+v", e)
	}
	select {
	case e := <-d.alerts:
		t.Fatalf("an extra alert %+v", e)
	default:
	}
}

// TestProgressWebsocket: GET /backups/streamed/progress upgraded to a websocket sends
// the running jobs at once and on every change: a scheduled backup appears in it, moves
// on and leaves it; a plain GET still answers one JSON value.
func TestProgressWebsocket(t *testing.T) {
	d := newDaemon(t)
	d.run() // the first run, of the empty database
	d.want(d.do("POST", "/database/import", document(t, 8<<20, 9)), 204, "")
	r := d.do("GET", "/backups/streamed/progress", nil)
	var one BackupsStreamedProgress
	if err := json.Unmarshal(r.body, &one); err != nil || len(one.Backups) != 0 {
		t.Fatalf("plain GET: %s", r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(d.http.URL, "http", "ws", 1)+"/backups/streamed/progress", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	read := func() BackupsStreamedProgress {
		t.Helper()
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f BackupsStreamedProgress
		if err := json.Unmarshal(msg, &f); err != nil {
			t.Fatalf("frame %q: %v", msg, err)
		}
		return f
	}
	if f := read(); len(f.Backups) != 0 || len(f.Restorations) != 0 {
		t.Fatalf("first frame %+v", f)
	}
	d.next()
	var seen []BackupStreamedProgress
	for {
		f := read()
		if len(f.Backups) == 0 {
			break // the backup ended
		}
		seen = append(seen, f.Backups[0])
	}
	res := d.run()
	if res.Result != "ok" || len(seen) < 2 {
		t.Fatalf("run %+v, frames %+v", res, seen)
	}
	for i, f := range seen {
		if f.Backup == nil || f.Backup.ID != res.Snapshot {
			t.Fatalf("frame %d is not of the scheduled backup %s: %+v", i, res.Snapshot, f)
		}
		if i > 0 && *f.Percentage < *seen[i-1].Percentage {
			t.Fatalf("percentage went back: %v then %v", *seen[i-1].Percentage, *f.Percentage)
		}
	}
	if last := seen[len(seen)-1]; last.Status != StatusCompleted && *last.Percentage < 50 {
		t.Fatalf("the last frame before the end: %+v", last)
	}
}
