package httpapi

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"cairn/engine/exported"
	"cairn/engine/gendb"
	"cairn/engine/localdb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/mem"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
)

// gate is a backend whose pack loads and saves wait while it is closed, so tests can
// catch a job in the middle.
type gate struct {
	transport.Backend
	mu     sync.Mutex
	closed bool
	open   chan struct{}
	hit    chan struct{} // receives once a data call is waiting
}

func newGate(b transport.Backend) *gate {
	return &gate{Backend: b, open: make(chan struct{}), hit: make(chan struct{}, 1)}
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

func (g *gate) wait(ctx context.Context, h transport.Handle) error {
	g.mu.Lock()
	closed, open := g.closed, g.open
	g.mu.Unlock()
	if !closed || h.Kind != transport.Data {
		return nil
	}
	select {
	case g.hit <- struct{}{}:
	default:
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := g.wait(ctx, h); err != nil {
		return err
	}
	return g.Backend.Save(ctx, h, data)
}

func (g *gate) Load(ctx context.Context, h transport.Handle, n int, off int64, fn func(io.Reader) error) error {
	if err := g.wait(ctx, h); err != nil {
		return err
	}
	return g.Backend.Load(ctx, h, n, off, fn)
}

type fixture struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	db   *localdb.DB
	gate *gate
}

// newFixture starts a server over a fresh database and an in-memory repository
// behind a gate; opts change its Config.
func newFixture(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	db, err := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	g := newGate(mem.New())
	rcfg, _ := repo.NewConfig(time.Now())
	rcfg.PackSize = 256 << 10
	if _, err := repo.Init(context.Background(), g, rcfg); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DB: db, DeviceName: "test-box", Platform: "LINUX",
		OpenRepo: func(ctx context.Context) (*repo.Repository, error) { return repo.Open(ctx, g) }}
	for _, o := range opts {
		o(&cfg)
	}
	srv := New(cfg)
	t.Cleanup(func() { db.Close() })
	t.Cleanup(g.release) // first: a job held at the gate can end
	hs := serve(t, srv)
	return &fixture{t: t, srv: srv, http: hs, db: db, gate: g}
}

// serve runs srv on a loopback port with the http.Server it configures, and shuts it
// down at the end of the test: jobs first, then connections.
func serve(tb testing.TB, srv *Server) *httptest.Server {
	tb.Helper()
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer()
	hs.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return hs
}

type response struct {
	code int
	body []byte
}

func (f *fixture) do(method, path string, body []byte, header ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json") // as the SDK sends
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, b}
}

// want checks a status and, for errors, a JSON body that says what went wrong.
func (f *fixture) want(r response, code int, says string) {
	f.t.Helper()
	if r.code != code {
		f.t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
	if code >= 400 {
		var e errorBody
		if err := json.Unmarshal(r.body, &e); err != nil || e.Status != code || e.Message == "" {
			f.t.Fatalf("error body %q is not a JSON error", r.body)
		}
		if !strings.Contains(e.Message, says) {
			f.t.Fatalf("error %q does not say %q", e.Message, says)
		}
	}
}

// document makes an ExportedDatabase document from a generated database.
func document(t *testing.T, size int64, seed int64) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	if _, err := gendb.Generate(dir, gendb.Options{Size: size, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := exported.NewEncoder(&buf)
	if err := enc.WriteFolder(dir); err != nil {
		t.Fatal(err)
	}
	enc.WriteCollection("values", strings.NewReader(`{"id":"v1","raw":"AAEC"}`+"\n"))
	if err := enc.Close(exported.Meta{Version: "11.2.0", Schema: json.RawMessage(`{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`)}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	a := newFixture(t)
	doc := document(t, 1<<20, 1)
	a.want(a.do("POST", "/database/import", doc), 204, "")
	first := a.do("GET", "/database/export", nil)
	a.want(first, 200, "")
	b := newFixture(t)
	b.want(b.do("POST", "/database/import", first.body), 204, "")
	second := b.do("GET", "/database/export", nil)
	if !bytes.Equal(first.body, second.body) {
		t.Fatalf("export of an imported export differs (%d vs %d bytes)", len(first.body), len(second.body))
	}
	var m map[string]any
	if err := json.Unmarshal(first.body, &m); err != nil || m["version"] != "11.2.0" {
		t.Fatalf("export is not an ExportedDatabase: %v %v", err, m["version"])
	}
}

func TestFailedImportChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 256<<10, 2)), 204, "")
	before := f.do("GET", "/database/export", nil).body
	bad := []struct {
		name, doc, says string
		code            int
	}{
		{"bad record in the middle", `{"version":"1","assets":` + byteArray(`{"id":"new1"}`+"\n"+`not json`+"\n") + `,"tags":[]}`, "record 2", 400},
		{"record without id", `{"version":"1","tags":` + byteArray(`{"name":"x"}`) + `}`, "id", 400},
		{"malformed JSON", `{"version":"1","assets":[1,2`, "ends too early", 400},
		{"wrong type", `{"version":"1","assets":"abc"}`, "array", 400},
		{"unknown field", `{"version":"1","bogus":[]}`, "unknown field", 400},
		{"byte out of range", `{"version":"1","assets":[300]}`, "0 to 255", 400},
		{"newer schema", `{"version":"1","schema":{"migration":9,"semantic":"MAJOR_9"}}`, "newer", 505},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			f.want(f.do("POST", "/database/import", []byte(tc.doc)), tc.code, tc.says)
			if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(before, after) {
				t.Fatal("a failed import changed the database")
			}
		})
	}
}

func byteArray(s string) string {
	parts := make([]string, len(s))
	for i := range len(s) {
		parts[i] = fmt.Sprint(s[i])
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestBackupRestoreCycle(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 512<<10, 3)), 204, "")
	original := f.do("GET", "/database/export", nil).body
	r := f.do("POST", "/backups/create", nil)
	f.want(r, 200, "")
	var b Backup
	if err := json.Unmarshal(r.body, &b); err != nil || !strings.HasPrefix(b.ID, "11.2.0_") || b.DeviceName != "test-box" || b.Platform != "LINUX" || b.Bytes == 0 {
		t.Fatalf("backup %+v (%v)", b, err)
	}
	if _, err := time.Parse(time.RFC3339, b.Created.Value); err != nil || b.Timestamp == "" {
		t.Fatalf("created %+v timestamp %q", b.Created, b.Timestamp)
	}
	var list Backups
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(list.Iterable) != 1 || list.Iterable[0].ID != b.ID {
		t.Fatalf("list %+v", list)
	}
	f.want(f.do("GET", "/backup/"+b.ID, nil), 200, "")
	var st BackupStatus
	json.Unmarshal(f.do("GET", "/backup/"+b.ID+"/creation/status", nil).body, &st)
	if st.Value != StatusCompleted || *st.Percentage != 100 {
		t.Fatalf("status %+v", st)
	}
	// Change the database, restore, and get the snapshot's state back exactly.
	f.want(f.do("POST", "/database/import", []byte(`{"version":"1","tags":`+byteArray(`{"id":"later"}`)+`}`)), 204, "")
	if bytes.Equal(original, f.do("GET", "/database/export", nil).body) {
		t.Fatal("the import changed nothing")
	}
	f.want(f.do("POST", "/backup/"+b.ID+"/restore", nil), 200, "")
	if !bytes.Equal(original, f.do("GET", "/database/export", nil).body) {
		t.Fatal("restore did not bring back the snapshot's database")
	}
	json.Unmarshal(f.do("GET", "/backup/"+b.ID+"/restoration/status", nil).body, &st)
	if st.Value != StatusCompleted {
		t.Fatalf("restoration status %+v", st)
	}
	// A second backup of the same data, then delete the first.
	r2 := f.do("POST", "/backups/create", []byte(`{}`))
	f.want(r2, 200, "")
	f.want(f.do("POST", "/backups/"+b.ID+"/delete", nil), 204, "")
	f.want(f.do("GET", "/backup/"+b.ID, nil), 404, "no backup")
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(list.Iterable) != 1 {
		t.Fatalf("after delete: %+v", list)
	}
}

func TestAssetsBackupMerges(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/backup/asset", []byte(`{"id":"a1","name":"first"}`)), 204, "")
	f.want(f.do("POST", "/backup", []byte(`{"iterable":[{"id":"a2","name":"second"},{"id":"a3"}]}`)), 204, "")
	var list Backups
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(list.Iterable) != 2 {
		t.Fatalf("%d backups, want 2", len(list.Iterable))
	}
	// Restoring the assets snapshot merges: a4 stays.
	f.want(f.do("POST", "/backup/asset", []byte(`{"id":"a4"}`)), 204, "")
	f.want(f.do("POST", "/backup/"+list.Iterable[0].ID+"/restore", nil), 200, "")
	st, _ := f.db.Stats()
	if st.Collections["assets"] != 4 {
		t.Fatalf("assets after merging restore: %d, want 4", st.Collections["assets"])
	}
	f.want(f.do("POST", "/backup/asset", []byte(`{"name":"no id"}`)), 400, "id")
	f.want(f.do("POST", "/backup", []byte(`{"iterable":[{"id":"x"}],"bogus":1}`)), 400, "unknown field")
	f.want(f.do("POST", "/backup", []byte(`[1,2]`)), 400, "invalid request body")
}

func TestCancelRestoreKeepsDatabase(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 512<<10, 4)), 204, "")
	r := f.do("POST", "/backups/create", nil)
	f.want(r, 200, "")
	var b Backup
	json.Unmarshal(r.body, &b)
	f.want(f.do("POST", "/database/import", []byte(`{"version":"1","tags":`+byteArray(`{"id":"kept"}`)+`}`)), 204, "")
	before := f.do("GET", "/database/export", nil).body

	f.srv.forgetRepository() // reopen: the restore then reads packs through the gate
	f.gate.close()
	done := make(chan response, 1)
	go func() { done <- f.do("POST", "/backup/"+b.ID+"/restore", nil) }()
	<-f.gate.hit
	var st BackupStatus
	json.Unmarshal(f.do("GET", "/backup/"+b.ID+"/restoration/status", nil).body, &st)
	if st.Value != StatusInitialized && st.Value != StatusInProgress {
		t.Fatalf("status while running: %+v", st)
	}
	f.want(f.do("POST", "/backups/create", nil), 409, "running")
	f.want(f.do("POST", "/backup/"+b.ID+"/restore", nil), 409, "running")
	f.want(f.do("POST", "/backup/"+b.ID+"/creation/cancel", nil), 500, "no creation")
	f.want(f.do("POST", "/backup/"+b.ID+"/restoration/cancel", nil), 204, "")
	if r := <-done; r.code == 200 {
		t.Fatal("a cancelled restore answered 200")
	}
	json.Unmarshal(f.do("GET", "/backup/"+b.ID+"/restoration/status", nil).body, &st)
	if st.Value != StatusCanceled {
		t.Fatalf("status after cancel: %+v", st)
	}
	f.gate.release()
	if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(before, after) {
		t.Fatal("a cancelled restore changed the database")
	}
	f.want(f.do("POST", "/backup/"+b.ID+"/restoration/cancel", nil), 500, "no restoration")
}

func TestCancelBackupLeavesNoSnapshot(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 2<<20, 5)), 204, "")
	f.gate.close()
	done := make(chan response, 1)
	go func() { done <- f.do("POST", "/backups/create", nil) }()
	<-f.gate.hit
	var progress BackupsStreamedProgress
	json.Unmarshal(f.do("GET", "/backups/streamed/progress", nil).body, &progress)
	if len(progress.Backups) != 1 || progress.Backups[0].Backup == nil {
		t.Fatalf("progress while a backup runs: %+v", progress)
	}
	id := progress.Backups[0].Backup.ID
	f.want(f.do("POST", "/backup/"+id+"/creation/cancel", nil), 204, "")
	<-done
	f.gate.release()
	var list Backups
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(list.Iterable) != 0 {
		t.Fatalf("a cancelled backup left %+v", list)
	}
	f.want(f.do("POST", "/backups/create", nil), 200, "")
}

func TestStreamedAndWebsocket(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 1<<20, 6)), 204, "")
	// NDJSON frames for a client that asks for them.
	r := f.do("POST", "/backups/create/streamed", nil, "Accept", "application/x-ndjson")
	f.want(r, 200, "")
	lines := bytes.Split(bytes.TrimSpace(r.body), []byte("\n"))
	var last BackupStreamedProgress
	for _, l := range lines {
		if err := json.Unmarshal(l, &last); err != nil {
			t.Fatalf("frame %q: %v", l, err)
		}
	}
	if last.Status != StatusCompleted || *last.Percentage != 100 || last.Backup == nil {
		t.Fatalf("last frame %+v", last)
	}
	// One JSON value for the SDK's plain call.
	r = f.do("POST", "/backup/"+last.Backup.ID+"/restore/streamed", nil)
	f.want(r, 200, "")
	var one BackupStreamedProgress
	if err := json.Unmarshal(r.body, &one); err != nil || one.Status != StatusCompleted {
		t.Fatalf("streamed restore: %s", r.body)
	}
	// Frames over a websocket.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(f.http.URL, "http", "ws", 1)+"/backups/create/streamed/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var frames []BackupStreamedProgress
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("websocket ended with %v", err)
			}
			break
		}
		var fr BackupStreamedProgress
		json.Unmarshal(msg, &fr)
		frames = append(frames, fr)
	}
	if len(frames) == 0 || frames[len(frames)-1].Status != StatusCompleted {
		t.Fatalf("websocket frames %+v", frames)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("9", 300)
	cases := []struct {
		method, path, body string
		code               int
		says               string
	}{
		{"GET", "/backup/11.2.0_1", "", 404, "no backup"},
		{"GET", "/backup/nope", "", 400, "version_timestamp"},
		{"GET", "/backup/1.0_" + long, "", 400, "invalid backup id"},
		{"GET", "/backup/%E2%9C%93_1", "", 400, "version"},
		{"GET", "/backup/..%2F..%2Fetc_1", "", 400, "version"},
		{"POST", "/backup/11.2.0_1/restore", "", 404, "no backup"},
		{"POST", "/backups/11.2.0_1/delete", "", 404, "no backup"},
		{"GET", "/backup/11.2.0_1/creation/status", "", 404, "no creation"},
		{"POST", "/backups/create", `{"bogus":true}`, 400, "unknown field"},
		{"POST", "/backups/create", `{"schema":1}`, 400, "cannot unmarshal"},
		{"POST", "/backups/create", `{`, 400, "invalid request body"},
		{"POST", "/backups/create", `{} {}`, 400, "more than one"},
		{"POST", "/backups/create", `{"schema":{"migration":1,"semantic":"MAJOR_2"}}`, 505, "newer"},
		{"POST", "/backups/create", strings.Repeat(" ", 17<<20) + "{}", 413, "larger than"},
		{"GET", "/nowhere", "", 404, "no such endpoint"},
		{"POST", "/backup//restore", "", 400, "invalid path"},
		{"GET", "/backup/", "", 400, "invalid path"},
		{"GET", "/backup/%20_1", "", 400, "version"},
		{"DELETE", "/backups", "", 404, "no such endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 40)], func(t *testing.T) {
			f.want(f.do(tc.method, tc.path, []byte(tc.body)), tc.code, tc.says)
		})
	}
	f.want(f.do("GET", "/backups", nil, "Host", "evil.example:1000"), 403, "loopback")
	f.want(f.do("GET", "/backups", nil, "Origin", "https://evil.example"), 403, "origin")
	f.want(f.do("GET", "/backups", nil, "Host", "localhost:1000", "Origin", "http://localhost:1000"), 200, "")
	if r := f.do("GET", "/backups", nil); r.code != 200 {
		t.Fatal("the server stopped serving after bad requests")
	}
}

func TestNoRepository(t *testing.T) {
	db, _ := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	defer db.Close()
	srv := New(Config{DB: db, OpenRepo: func(context.Context) (*repo.Repository, error) {
		return nil, errors.New("dial tcp 192.0.2.1:443: connection refused")
	}})
	f := &fixture{t: t, http: serve(t, srv)}
	f.want(f.do("POST", "/backups/create", nil), 511, "connection refused")
	f.want(f.do("GET", "/backups", nil), 511, "no cloud repository")
	f.want(f.do("GET", "/database/export", nil), 200, "")
}

// TestRejectedCredentials: a REST repository that refuses the daemon's credentials is
// a 511 whose body says so.
func TestRejectedCredentials(t *testing.T) {
	dir := t.TempDir()
	sum := sha1.Sum([]byte("right"))
	os.WriteFile(filepath.Join(dir, ".htpasswd"), []byte("cairn:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600)
	srv := resttest.StartIn(t, dir)
	db, _ := localdb.Open(filepath.Join(t.TempDir(), "pieces.db"))
	defer db.Close()
	api := New(Config{DB: db, OpenRepo: func(ctx context.Context) (*repo.Repository, error) {
		be, err := rest.Open(strings.Replace(srv.URL, "http://", "http://cairn:wrong@", 1)+"repo", rest.Options{})
		if err != nil {
			return nil, err
		}
		return repo.Open(ctx, be)
	}})
	f := &fixture{t: t, http: serve(t, api)}
	f.want(f.do("POST", "/backups/create", nil), 511, "credentials")
	r := f.do("GET", "/backups", nil)
	f.want(r, 511, "credentials")
	if strings.Contains(string(r.body), "wrong") {
		t.Fatalf("the body shows the password: %s", r.body)
	}
}
