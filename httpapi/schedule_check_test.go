package httpapi

import (
	"encoding/binary"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/chunk"
	"cairn/engine"
	"cairn/engine/schedule"
	"cairn/repo"
	"cairn/transport/location"
	"cairn/transport/rest/resttest"
)

// packLoads is a reverse proxy in front of a rest-server that counts the whole-pack
// loads (a GET of a data object without a Range header: check's data reading; chunk
// lists are read by range).
type packLoads struct {
	mu    sync.Mutex
	loads map[string]int
}

// front starts the proxy in front of srv and returns its URL.
func (p *packLoads) front(t *testing.T) func(*resttest.Server) string {
	return func(srv *resttest.Server) string {
		target, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dir, name := path.Split(r.URL.Path)
			if r.Method == http.MethodGet && r.Header.Get("Range") == "" && strings.HasSuffix(dir, "/data/") && len(name) == 64 {
				p.mu.Lock()
				p.loads[name]++
				p.mu.Unlock()
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(h.Close)
		return h.URL + "/"
	}
}

// take returns the loads counted since the last take.
func (p *packLoads) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.loads
	p.loads = map[string]int{}
	return out
}

// packFiles maps the name of every pack in the rest-server's folder to its path.
func (d *daemon) packFiles() map[string]string {
	d.t.Helper()
	out := map[string]string{}
	for _, line := range d.serverFiles() {
		p, _, _ := strings.Cut(line, " ")
		if filepath.Base(filepath.Dir(filepath.Dir(p))) == "data" {
			out[filepath.Base(p)] = p
		}
	}
	return out
}

// listPacks names the packs that hold a chunk list of a snapshot, or a base of one, as
// a handle of its own reads them.
func (d *daemon) listPacks() map[string]bool {
	d.t.Helper()
	ctx := d.t.Context()
	be, err := location.Open(ctx, d.loc, location.Options{})
	if err != nil {
		d.t.Fatal(err)
	}
	defer be.Close()
	r, err := repo.Open(ctx, be)
	if err != nil {
		d.t.Fatal(err)
	}
	sns, err := r.Snapshots(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, sn := range sns {
		for _, c := range sn.Collections {
			_, err := r.LoadList(ctx, c.List, func(id chunk.ID) {
				if loc, ok := r.Index().Lookup(id); ok {
					out[loc.Pack.String()] = true
				}
			})
			if err != nil {
				d.t.Fatal(err)
			}
		}
	}
	return out
}

// partOf is the part of T a pack belongs to (engine.Subset's N/T: its name's first
// eight bytes as a number, modulo T, plus one).
func partOf(t *testing.T, name string, parts uint64) uint64 {
	t.Helper()
	b, err := hex.DecodeString(name[:16])
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint64(b)%parts + 1
}

// TestScheduledCheckSubset: a daemon that checks part N/3 every hour reads, over
// three checks, every pack of the repository exactly once in total, each check the
// packs of its part and as many bytes as they hold (counted at a proxy in front of
// the rest-server); a pack damaged on the server is reported, within three checks,
// by the one that reads its part: a failed run, the last check in the status not ok,
// and a failure alert for the check; once the pack is mended, the next check that
// runs sends the recovery (a retry that skips the check does not).
func TestScheduledCheckSubset(t *testing.T) {
	counter := &packLoads{loads: map[string]int{}}
	const every = time.Hour
	d := newDaemonWith(t, setup{packSize: 64 << 10, front: counter.front(t), steps: func(s *schedule.Steps) {
		s.Retention, s.Prune = engine.Policy{}, false
		s.CheckEvery, s.CheckSubset = every, engine.Subset{Part: 1, Parts: 3}
	}})
	// The part a check started at t reads: they move on hour by hour.
	partAt := func(at time.Time) uint64 { return uint64(at.UnixNano()/int64(every))%3 + 1 }

	if r := d.run(); r.Result != "ok" || steps(r) != "backup:ok check:ok" {
		t.Fatalf("first run: %+v", r)
	}
	d.want(d.do("POST", "/database/import", document(t, 5<<20, 11)), 204, "")
	d.next()
	if r := d.run(); r.Result != "ok" || steps(r) != "backup:ok check:ok" {
		t.Fatalf("run after an import: %+v", r)
	}
	packs := d.packFiles()
	if len(packs) < 12 {
		t.Fatalf("only %d packs; the test needs more", len(packs))
	}
	sizes := map[string]int64{}
	for name, p := range packs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes[name] = fi.Size()
	}
	counter.take()

	total := map[string]int{}
	for i := range 3 {
		d.next()
		r := d.run()
		if r.Result != "unchanged" || steps(r) != "backup:ok check:ok" {
			t.Fatalf("check run %d: %+v", i, r)
		}
		part := partAt(r.Started)
		loads := counter.take()
		var bytes int64
		for name, n := range loads {
			if _, ok := packs[name]; !ok {
				t.Fatalf("check %d/3 loaded %s, no pack of the repository", part, name)
			}
			if p := partOf(t, name, 3); p != part {
				t.Errorf("check %d/3 loaded pack %s of part %d", part, name, p)
			}
			total[name] += n
			bytes += sizes[name]
		}
		for name := range packs {
			if partOf(t, name, 3) == part && loads[name] == 0 {
				t.Errorf("check %d/3 did not load pack %s of its part", part, name)
			}
		}
		st := d.sched.Status()
		if c := st.LastCheck; c == nil || !c.OK || !c.ReadData || !c.At.Equal(r.Started) || c.BytesRead != bytes {
			t.Fatalf("check %d/3 loaded %d packs of %d bytes; status says %+v", part, len(loads), bytes, c)
		}
	}
	if len(total) != len(packs) {
		t.Fatalf("three checks loaded %d packs of %d", len(total), len(packs))
	}
	for name, n := range total {
		if n != 1 {
			t.Errorf("three checks loaded pack %s %d times", name, n)
		}
	}

	// A byte flipped in one pack on the server: one that holds no chunk list, since a
	// damaged list fails every check, whatever its part.
	lists := d.listPacks()
	var victim string
	for _, name := range slices.Sorted(maps.Keys(packs)) {
		if !lists[name] {
			victim = name
			break
		}
	}
	if victim == "" {
		t.Fatalf("every one of the %d packs holds a chunk list", len(packs))
	}
	t.Logf("%d of the %d packs hold chunk lists; %s is damaged", len(lists), len(packs), victim[:8])
	original, err := os.ReadFile(packs[victim])
	if err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte(nil), original...)
	damaged[len(damaged)/2] ^= 0x40
	if err := os.WriteFile(packs[victim], damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	var failed schedule.RunResult
	for i := 0; failed.Started.IsZero(); i++ {
		if i == 3 {
			t.Fatalf("three checks did not find the damaged pack %s", victim)
		}
		d.next()
		r := d.run()
		if partAt(r.Started) != partOf(t, victim, 3) {
			if r.Result != "unchanged" || steps(r) != "backup:ok check:ok" {
				t.Fatalf("check %d/3, of other packs than the damaged one (%s, part %d): %+v", partAt(r.Started), victim, partOf(t, victim, 3), r)
			}
			continue
		}
		failed = r
	}
	if failed.Result != "failed" || steps(failed) != "backup:ok check:failed" || !strings.Contains(failed.Error, "check found") {
		t.Fatalf("the check of the damaged pack's part: %+v", failed)
	}
	st := d.sched.Status()
	if c := st.LastCheck; c == nil || c.OK || c.Errors == 0 || !c.At.Equal(failed.Started) || st.LastError == nil || st.Failures != 1 {
		t.Fatalf("status after the failed check: %+v, last check %+v", st, st.LastCheck)
	}
	if e := d.alert(); e.Event != schedule.EventFailure || e.Job != "check" || !strings.Contains(e.Error, "check found") {
		t.Fatalf("failure alert %+v", e)
	}

	// Mended: the retry a minute later skips the check (the last one is an hour old
	// at most), the next hour's check reads its part and sends the recovery.
	if err := os.WriteFile(packs[victim], original, 0o600); err != nil {
		t.Fatal(err)
	}
	d.next()
	if r := d.run(); r.Result != "unchanged" || steps(r) != "backup:ok check:skipped" {
		t.Fatalf("the retry: %+v", r)
	}
	d.next()
	r := d.run()
	if r.Result != "unchanged" || steps(r) != "backup:ok check:ok" {
		t.Fatalf("the next check: %+v", r)
	}
	if e := d.alert(); e.Event != schedule.EventRecovered || e.Job != "check" || !e.Started.Equal(r.Started) || !strings.Contains(e.Message, "no errors") {
		t.Fatalf("the first alert after the failure is not the recovery of the check that ran: %+v", e)
	}
	if st := d.sched.Status(); st.LastCheck == nil || !st.LastCheck.OK || st.Failures != 0 {
		t.Fatalf("status after the recovery: %+v", st)
	}
}
