package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine/localdb"
	"cairn/httpapi"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/local"
)

// gate holds the repository's pack saves while it is closed, so a test can see a
// backup in the middle.
type gate struct {
	transport.Backend
	mu     sync.Mutex
	closed bool
	open   chan struct{}
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.open = true, make(chan struct{})
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
}

func (g *gate) Save(ctx context.Context, h transport.Handle, data []byte) error {
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if closed && h.Kind == transport.Data {
		select {
		case <-open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.Backend.Save(ctx, h, data)
}

// site is a running cairn API and dashboard over a local repository folder and a
// local database.
type site struct {
	t       testing.TB
	url     string
	db      *localdb.DB
	repoDir string
	gate    *gate
}

// newSite starts the server on a loopback port. The repository is opened from its
// folder on first use, as cairn serve does.
func newSite(t testing.TB) *site {
	t.Helper()
	chromium(t) // before anything is set up: the test fails or skips without it
	dir := t.TempDir()
	db, err := localdb.Open(filepath.Join(dir, "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &site{t: t, db: db, repoDir: filepath.Join(dir, "repo")}
	be, err := local.Create(s.repoDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize = 256 << 10
	if _, err := repo.Init(context.Background(), be, cfg); err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Config{DB: db, DeviceName: "laptop", Platform: "LINUX",
		OpenRepo: func(ctx context.Context) (*repo.Repository, error) {
			be, err := local.Open(s.repoDir)
			if err != nil {
				return nil, err
			}
			s.gate = &gate{Backend: be, open: make(chan struct{})}
			return repo.Open(ctx, s.gate)
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	served := make(chan struct{})
	go func() { hs.Serve(ln); close(served) }() // ends at hs.Close below
	t.Cleanup(func() {
		if s.gate != nil {
			s.gate.release()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
		<-served
	})
	s.url = "http://" + ln.Addr().String()
	return s
}

// record is a test record of the assets collection.
func record(i int, name string) string {
	return fmt.Sprintf(`{"id":"snip-%04d","name":%q,"language":"go","text":"func f%d() int { return %d } // keep in the snippets"}`, i, name, i, i*i)
}

// seed fills the database: 120 assets and 5 tags.
func (s *site) seed() {
	s.t.Helper()
	var assets, tags []string
	for i := range 120 {
		assets = append(assets, record(i, fmt.Sprintf("Snippet %d", i)))
	}
	for i := range 5 {
		tags = append(tags, fmt.Sprintf(`{"id":"tag-%d","text":"topic %d"}`, i, i))
	}
	s.replace(map[string][]string{"assets": assets, "tags": tags})
}

// replace makes the database hold exactly these records.
func (s *site) replace(cols map[string][]string) {
	s.t.Helper()
	err := s.db.Replace(context.Background(), func(w *localdb.Writer) error {
		for name, lines := range cols {
			if err := w.Collection(name, strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// merge upserts records into a collection.
func (s *site) merge(collection string, lines ...string) {
	s.t.Helper()
	err := s.db.Merge(context.Background(), func(w *localdb.Writer) error {
		return w.Collection(collection, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// contents reads the database: collection -> id -> record.
func (s *site) contents() map[string]map[string]string {
	s.t.Helper()
	out := map[string]map[string]string{}
	_, err := s.db.Read(context.Background(), func(name string, r io.Reader) error {
		m := map[string]string{}
		out[name] = m
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var v struct{ ID string }
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return err
			}
			m[v.ID] = sc.Text()
		}
		return sc.Err()
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// backup makes a snapshot through the API and returns its id.
func (s *site) backup() string {
	s.t.Helper()
	res, err := http.Post(s.url+"/backups/create", "", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var b httpapi.Backup
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil || res.StatusCode != 200 {
		s.t.Fatalf("backup: %d %v", res.StatusCode, err)
	}
	return b.ID
}

// snapshots lists the repository's snapshot ids, oldest first.
func (s *site) snapshots() []string {
	s.t.Helper()
	res, err := http.Get(s.url + "/cairn/v1/snapshots")
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	var l httpapi.SnapshotList
	if err := json.NewDecoder(res.Body).Decode(&l); err != nil {
		s.t.Fatal(err)
	}
	var ids []string
	for _, sn := range l.Snapshots {
		ids = append(ids, sn.ID)
	}
	return ids
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
