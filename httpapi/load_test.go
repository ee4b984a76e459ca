package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine/localdb"
	"cairn/repo"
	"cairn/transport/limit"
	"cairn/transport/mem"
)

// TestDaemonUnderLoad runs a backup of a generated database through the real server,
// its uploads slowed to 512 KiB/s so that it lasts a few seconds, while 50 clients
// keep listing backups and polling the backup's creation status, as the Pieces SDK
// does. Every answer must be a 200 with the JSON model of its endpoint, the status
// must never go backwards, and the backup must complete. Latencies are logged, not
// asserted: on a loaded machine they say little. For BENCHMARKS.md:
//
//	go test -run TestDaemonUnderLoad -v ./httpapi
func TestDaemonUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of several seconds")
	}
	const (
		clients = 50
		dbSize  = 6 << 20
		upload  = 512 << 10 // bytes per second
	)
	db, err := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	slow := limit.New(mem.New(), upload, 0)
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize = 256 << 10
	if _, err := repo.Init(context.Background(), slow, cfg); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{DB: db, DeviceName: "load-box", Platform: "LINUX",
		OpenRepo: func(ctx context.Context) (*repo.Repository, error) { return repo.Open(ctx, slow) }})
	hs := serve(t, srv)
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients}}
	defer client.CloseIdleConnections()
	post := func(path, accept string, body []byte) (*http.Response, error) {
		req, err := http.NewRequest("POST", hs.URL+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		return client.Do(req)
	}
	// A database to back up, and one earlier (assets) backup for the list to show.
	for _, step := range []struct {
		path string
		body []byte
	}{
		{"/database/import", document(t, dbSize, 7)},
		{"/backup/asset", []byte(`{"id":"load-asset","name":"an earlier backup"}`)},
	} {
		res, err := post(step.path, "", step.body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", step.path, res.StatusCode, b)
		}
	}

	// The backup, streamed: its first frame names it.
	start := time.Now()
	res, err := post("/backups/create/streamed", "application/x-ndjson", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	frames := bufio.NewScanner(res.Body)
	var first BackupStreamedProgress
	if !frames.Scan() || json.Unmarshal(frames.Bytes(), &first) != nil || first.Backup == nil || first.Backup.ID == "" {
		t.Fatalf("first frame %q (%v)", frames.Bytes(), frames.Err())
	}
	id := first.Backup.ID
	done := make(chan BackupStreamedProgress, 1)
	go func() {
		last := first
		for frames.Scan() {
			var f BackupStreamedProgress
			if err := json.Unmarshal(frames.Bytes(), &f); err != nil {
				last = BackupStreamedProgress{Status: "bad frame " + frames.Text()}
				break
			}
			last = f
		}
		done <- last
		close(done)
	}()

	// The clients, until the backup has ended.
	stop := make(chan struct{})
	type sample struct {
		endpoint string
		took     time.Duration
	}
	var (
		mu       sync.Mutex
		samples  []sample
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	get := func(endpoint, path string, into any) bool {
		t0 := time.Now()
		res, err := client.Get(hs.URL + path)
		if err != nil {
			fail("GET %s: %v", path, err)
			return false
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(t0)
		if err != nil || res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			fail("GET %s: %d %q %v: %.200s", path, res.StatusCode, res.Header.Get("Content-Type"), err, body)
			return false
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			fail("GET %s: body is not the endpoint's JSON model: %v: %.200s", path, err, body)
			return false
		}
		mu.Lock()
		samples = append(samples, sample{endpoint, took})
		mu.Unlock()
		return true
	}
	rank := map[string]int{StatusInitialized: 0, StatusInProgress: 1, StatusCompleted: 2}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := -1
			for round := 0; ; round++ {
				select {
				case <-stop:
					if round > 0 {
						return
					}
				default:
				}
				var list Backups
				if get("GET /backups", "/backups", &list) && list.Iterable == nil {
					fail("client %d: list without iterable", c)
				}
				var st BackupStatus
				if get("GET /backup/{id}/creation/status", "/backup/"+id+"/creation/status", &st) {
					r, ok := rank[st.Value]
					switch {
					case !ok || st.Percentage == nil || st.Backup.ID != id:
						fail("client %d: status %+v", c, st)
					case r < seen:
						fail("client %d: status went back to %s", c, st.Value)
					}
					seen = max(seen, r)
				}
			}
		}()
	}
	var last BackupStreamedProgress
	select {
	case last = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the backup did not end within a minute")
	}
	took := time.Since(start)
	close(stop)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	if last.Status != StatusCompleted || last.Backup == nil || last.Backup.ID != id {
		t.Fatalf("the backup ended with %+v", last)
	}
	var st BackupStatus
	if !get("", "/backup/"+id+"/creation/status", &st) || st.Value != StatusCompleted || *st.Percentage != 100 {
		t.Fatalf("status after the backup: %+v", st)
	}
	var list Backups
	if !get("", "/backups", &list) || len(list.Iterable) != 2 || list.Iterable[0].ID != id {
		t.Fatalf("list after the backup: %+v", list)
	}
	if len(samples) < 2*clients {
		t.Fatalf("only %d answers in %v", len(samples), took)
	}

	// Latencies, per endpoint and together.
	by := map[string][]time.Duration{}
	for _, s := range samples {
		if s.endpoint != "" {
			by[s.endpoint] = append(by[s.endpoint], s.took)
			by["both"] = append(by["both"], s.took)
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "Daemon under load: a backup of a %d MiB database (uploads at %d KiB/s) took %.1f s while %d clients polled\n\n",
		dbSize>>20, upload>>10, took.Seconds(), clients)
	fmt.Fprintf(&table, "| endpoint | requests | p50 | p99 | max |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, name := range []string{"GET /backups", "GET /backup/{id}/creation/status", "both"} {
		d := by[name]
		slices.Sort(d)
		q := func(p float64) string {
			return fmt.Sprintf("%.1f ms", float64(d[int(p*float64(len(d)-1))].Microseconds())/1000)
		}
		fmt.Fprintf(&table, "| %s | %d | %s | %s | %s |\n", name, len(d), q(0.5), q(0.99), q(1))
	}
	t.Logf("\n%s", table.String())
	fmt.Print("\n" + table.String() + "\n")
}
