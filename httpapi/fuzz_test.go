package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine/exported"
	"cairn/engine/gendb"
	"cairn/engine/localdb"
	"cairn/repo"
	"cairn/transport/mem"
)

// fuzzNow is the daemon's clock in the fuzz target, so the backup made at setup has a
// known id that seeds can name.
var fuzzNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fuzzBackup is the id of the backup every fuzzed request finds.
var fuzzBackup = repo.SnapshotID("11.2.0", fuzzNow)

// fuzzDaemon is the real handler on a loopback listener, over a tiny database and an
// in-memory repository holding one backup. A request that may have changed either
// marks it dirty, and the next request gets a fresh one: every input meets the same
// state.
type fuzzDaemon struct {
	srv   *Server
	hs    *httptest.Server
	db    *localdb.DB
	dir   string
	dirty bool
}

var (
	fuzzD   *fuzzDaemon
	fuzzCfg *repo.Config
)

func fuzzDaemonFor(tb testing.TB) *fuzzDaemon {
	if fuzzD != nil && !fuzzD.dirty {
		return fuzzD
	}
	if fuzzD != nil {
		fuzzD.close()
		fuzzD = nil
	}
	if fuzzCfg == nil {
		cfg, err := repo.NewConfig(fuzzNow)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.PackSize = 64 << 10
		fuzzCfg = &cfg
	}
	dir, err := os.MkdirTemp("", "cairn-fuzz-api-")
	if err != nil {
		tb.Fatal(err)
	}
	d := &fuzzDaemon{dir: dir}
	if d.db, err = localdb.Open(filepath.Join(dir, "pieces.db")); err != nil {
		tb.Fatal(err)
	}
	be := mem.New()
	if _, err := repo.Init(context.Background(), be, *fuzzCfg); err != nil {
		tb.Fatal(err)
	}
	d.srv = New(Config{DB: d.db, DeviceName: "fuzz-box", Platform: "LINUX", Now: func() time.Time { return fuzzNow },
		OpenRepo: func(ctx context.Context) (*repo.Repository, error) { return repo.Open(ctx, be) }})
	d.hs = httptest.NewUnstartedServer(nil)
	d.hs.Config = d.srv.HTTPServer()
	d.hs.Start()
	fuzzD = d
	for _, step := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/database/import", tinyDocument, 204},
		{"POST", "/backups/create", "", 200},
	} {
		res, err := d.do(step.method, step.path, jsonBody, []byte(step.body))
		if err != nil || res.code != step.code {
			tb.Fatalf("setup %s %s: %v %d %s", step.method, step.path, err, res.code, res.body)
		}
	}
	return d
}

// tinyDocument is an ExportedDatabase of three records.
var tinyDocument = `{"version":"11.2.0","schema":{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"},` +
	`"assets":` + byteArray(`{"id":"a1","name":"first"}`+"\n"+`{"id":"a2","name":"second"}`+"\n") +
	`,"tags":` + byteArray(`{"id":"t1","text":"go"}`+"\n") + `}`

func (d *fuzzDaemon) close() {
	d.srv.Shutdown(context.Background())
	d.hs.Close()
	d.db.Close()
	os.RemoveAll(d.dir)
}

var fuzzClient = &http.Client{Timeout: 20 * time.Second}

// reply is a response as the checks see it.
type reply struct {
	code  int
	body  []byte
	ctype string
}

// do sends one request; headers are "Name: value" lines, Host among them.
func (d *fuzzDaemon) do(method, path, headers string, body []byte) (reply, error) {
	req, err := http.NewRequest(method, d.hs.URL+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for _, line := range strings.Split(headers, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if strings.EqualFold(name, "Host") {
			req.Host = value
		} else {
			req.Header.Add(name, value)
		}
	}
	res, err := fuzzClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		return reply{code: res.StatusCode}, nil // a websocket; leave it
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, fmt.Errorf("reading the answer: %w", err)
	}
	return reply{code: res.StatusCode, body: b, ctype: res.Header.Get("Content-Type")}, nil
}

// sendable reports whether Go's client sends the request as given, so that a failed
// request means a failed server: the method a token, the path a request target,
// header names tokens and values free of control characters.
func sendable(method, path, headers string) bool {
	if method == "" || strings.IndexFunc(method, func(r rune) bool { return !isToken(r) }) >= 0 || method == "CONNECT" {
		return false
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " #?\x7f") || strings.IndexFunc(path, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
		return false
	}
	if _, err := url.ParseRequestURI(path); err != nil {
		return false
	}
	for _, line := range strings.Split(headers, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isToken(r) }) >= 0 {
			return false
		}
		if strings.IndexFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0 {
			return false
		}
		if strings.EqualFold(name, "Host") && strings.TrimSpace(value) == "" {
			return false
		}
	}
	return true
}

func isToken(r rune) bool {
	return r < 0x7f && r > ' ' && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}

// jsonBody is the header of a request with a JSON body, as the SDK sends it.
const jsonBody = "Content-Type: application/json"

// wsHandshake are the headers of a websocket handshake.
const wsHandshake = "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="

// handlerSeed is one request.
type handlerSeed struct{ name, method, path, headers, body string }

// handlerSeeds are a request of each kind the SDK makes, good and bad, with a real
// ExportedDatabase of a small generated database among them.
func handlerSeeds(tb testing.TB) []handlerSeed {
	doc, err := generatedDocument()
	if err != nil {
		tb.Fatal(err)
	}
	b := "/backup/" + fuzzBackup
	return []handlerSeed{
		{"list", "GET", "/backups", "", ""},
		{"progress", "GET", "/backups/streamed/progress", "", ""},
		{"export", "GET", "/database/export", "", ""},
		{"import-tiny", "POST", "/database/import", jsonBody, tinyDocument},
		{"import-text", "POST", "/database/import", "Content-Type: text/plain", tinyDocument},
		{"create-form", "POST", "/backups/create", "Content-Type: application/x-www-form-urlencoded\nOrigin: http://localhost:3000", "a=1"},
		{"create-other-port", "POST", "/backups/create", jsonBody + "\nSec-Fetch-Site: same-site\nOrigin: http://localhost:3000", "{}"},
		{"import-generated", "POST", "/database/import", jsonBody, doc},
		{"import-truncated", "POST", "/database/import", jsonBody, `{"version":"1","assets":[1,2`},
		{"import-newer", "POST", "/database/import", jsonBody, `{"version":"1","schema":{"migration":9,"semantic":"MAJOR_9"}}`},
		{"create", "POST", "/backups/create", "", ""},
		{"create-schema", "POST", "/backups/create", jsonBody, `{"schema":{"migration":0,"semantic":"UNKNOWN"}}`},
		{"create-newer", "POST", "/backups/create", jsonBody, `{"schema":{"migration":1,"semantic":"MAJOR_2"}}`},
		{"create-streamed", "POST", "/backups/create/streamed", "Accept: application/x-ndjson", ""},
		{"create-ws-plain", "GET", "/backups/create/streamed/websocket", "", ""},
		{"create-ws-no-upgrade", "GET", "/backups/create/streamed/websocket", "Sec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", ""},
		{"create-ws", "GET", "/backups/create/streamed/websocket", wsHandshake, ""},
		{"create-ws-origin", "GET", "/backups/create/streamed/websocket", wsHandshake + "\nOrigin: http://localhost", ""},
		{"delete", "POST", "/backups/" + fuzzBackup + "/delete", "", ""},
		{"delete-body", "POST", "/backups/" + fuzzBackup + "/delete", jsonBody, `{"id":"x"}`},
		{"assets", "POST", "/backup", jsonBody, `{"iterable":[{"id":"a3","name":"third"}]}`},
		{"assets-no-id", "POST", "/backup", jsonBody, `{"iterable":[{"name":"no id"}]}`},
		{"asset", "POST", "/backup/asset", jsonBody, `{"id":"a4"}`},
		{"asset-array", "POST", "/backup/asset", jsonBody, `[1]`},
		{"get", "GET", b, "", ""},
		{"get-unknown", "GET", "/backup/11.2.0_1", "", ""},
		{"get-bad-id", "GET", "/backup/nope", "", ""},
		{"restore", "POST", b + "/restore", "", ""},
		{"restore-streamed", "POST", b + "/restore/streamed", "Accept: application/x-ndjson", ""},
		{"restore-ws-plain", "GET", b + "/restore/streamed/websocket", "", ""},
		{"restore-ws", "GET", b + "/restore/streamed/websocket", wsHandshake, ""},
		{"creation-status", "GET", b + "/creation/status", "", ""},
		{"restoration-status", "GET", b + "/restoration/status", "", ""},
		{"creation-cancel", "POST", b + "/creation/cancel", "", ""},
		{"restoration-cancel", "POST", b + "/restoration/cancel", jsonBody, "{}"},
		{"foreign-host", "GET", "/backups", "Host: evil.example:1000", ""},
		{"local-origin", "GET", "/backups", "Origin: http://localhost:1000", ""},
		{"foreign-origin", "GET", "/backups", "Origin: https://evil.example", ""},
		{"unclean-path", "POST", "/backup//restore", "", ""},
		{"delete-method", "DELETE", "/backups", "", ""},
		{"head", "HEAD", "/backups", "", ""},
		{"options", "OPTIONS", "/database/export", "", ""},
		{"escaped-id", "GET", "/backup/%E2%9C%93_1", "", ""},
	}
}

// generatedDocument is the ExportedDatabase of a 4 KiB generated database.
var generatedDocument = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cairn-fuzz-doc-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if _, err := gendb.Generate(dir, gendb.Options{Size: 4 << 10, Seed: 3}); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := exported.NewEncoder(&buf)
	if err := enc.WriteFolder(dir); err != nil {
		return "", err
	}
	if err := enc.Close(exported.Meta{Version: "11.2.0", Schema: json.RawMessage(`{"migration":0,"semantic":"MAJOR_0_MINOR_0_PATCH_1"}`)}); err != nil {
		return "", err
	}
	return buf.String(), nil
})

var writeCorpus = flag.Bool("fuzz-corpus", false, "rewrite the seed corpus of FuzzHandler under testdata/fuzz")

// TestFuzzHandlerCorpus checks that the committed seeds are there and, with
// -fuzz-corpus, writes them afresh: go test ./httpapi -run TestFuzzHandlerCorpus -fuzz-corpus
func TestFuzzHandlerCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHandler")
	if *writeCorpus {
		old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		for _, f := range old {
			os.Remove(f)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range handlerSeeds(t) {
			file := fmt.Sprintf("go test fuzz v1\nstring(%q)\nstring(%q)\nstring(%q)\n[]byte(%q)\n", s.method, s.path, s.headers, s.body)
			if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(file), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	if len(files) < len(handlerSeeds(t)) {
		t.Fatalf("%d committed seeds in %s, want %d (regenerate with -fuzz-corpus)", len(files), dir, len(handlerSeeds(t)))
	}
}

// FuzzHandler sends the fuzzer's method, path, headers and body to the documented
// endpoints of the real server. Properties: the server never panics or drops the
// connection and keeps answering; every error is a 4xx, or one of the documented 5xx
// (500 only for cancelling a job that does not run, 505 for a newer schema, 511 for a
// repository it cannot reach), with a JSON body {"status", "error", "message"} naming
// the same status and a message; every 200 is JSON (NDJSON when asked for).
func FuzzHandler(f *testing.F) {
	for _, s := range handlerSeeds(f) {
		f.Add(s.method, s.path, s.headers, []byte(s.body))
	}
	f.Cleanup(func() {
		if fuzzD != nil {
			fuzzD.close()
			fuzzD = nil
		}
	})
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte) {
		if len(path) > 4096 || len(headers) > 8192 || len(body) > 1<<20 || !sendable(method, path, headers) {
			t.Skip()
		}
		d := fuzzDaemonFor(t)
		res, err := d.do(method, path, headers, body)
		if err != nil {
			t.Fatalf("%s %s: no answer: %v", method, path, err)
		}
		upgrade := strings.Contains(path, "websocket")
		if res.code < 400 && method != "GET" && method != "HEAD" || upgrade || strings.HasPrefix(path, "/backups/create") {
			d.dirty = true // may have changed the database or the repository, or left a job
		}
		checkAnswer(t, method, path, res)
		// The server keeps answering, and the backup made at setup is still listed
		// unless the request may have removed it.
		list, err := d.do("GET", "/backups", "", nil)
		if err != nil || list.code != 200 {
			t.Fatalf("after %s %s: GET /backups: %v %d %s", method, path, err, list.code, list.body)
		}
		if !d.dirty && !bytes.Contains(list.body, []byte(fuzzBackup)) {
			t.Fatalf("after %s %s the backup is gone: %s", method, path, list.body)
		}
	})
}

// checkAnswer checks a response against the API's rules for errors and bodies.
func checkAnswer(t *testing.T, method, path string, res reply) {
	t.Helper()
	switch {
	case res.code == http.StatusSwitchingProtocols:
		if !strings.Contains(path, "websocket") {
			t.Fatalf("%s %s: switched protocols", method, path)
		}
		return
	case res.code >= 500:
		cancel := method == "POST" && (strings.HasSuffix(path, "/creation/cancel") || strings.HasSuffix(path, "/restoration/cancel"))
		documented := res.code == 505 || res.code == 511 || res.code == 500 && cancel && bytes.Contains(res.body, []byte(" is running"))
		if !documented {
			t.Fatalf("%s %s: undocumented %d: %s", method, path, res.code, res.body)
		}
	case res.code < 200 || res.code == 301 || res.code == 302 || res.code == 307 || res.code == 308:
		t.Fatalf("%s %s: status %d: %s", method, path, res.code, res.body)
	}
	if method == "HEAD" {
		return
	}
	if res.code >= 400 {
		var e errorBody
		if err := json.Unmarshal(res.body, &e); err != nil || e.Status != res.code || e.Message == "" || e.Error != http.StatusText(res.code) {
			t.Fatalf("%s %s: %d with a body that is not a JSON error (%v): %q", method, path, res.code, err, res.body)
		}
		if !strings.HasPrefix(res.ctype, "application/json") {
			t.Fatalf("%s %s: %d error as %q", method, path, res.code, res.ctype)
		}
		return
	}
	if res.code == http.StatusNoContent {
		if len(res.body) != 0 {
			t.Fatalf("%s %s: 204 with a body: %q", method, path, res.body)
		}
		return
	}
	switch {
	case strings.HasPrefix(res.ctype, "application/x-ndjson"):
		for _, line := range bytes.Split(bytes.TrimSpace(res.body), []byte("\n")) {
			if !json.Valid(line) {
				t.Fatalf("%s %s: NDJSON line %q is not JSON", method, path, line)
			}
		}
	case strings.HasPrefix(res.ctype, "application/json"):
		if !json.Valid(res.body) {
			t.Fatalf("%s %s: %d body is not JSON: %q", method, path, res.code, res.body)
		}
	default:
		t.Fatalf("%s %s: %d as %q: %q", method, path, res.code, res.ctype, res.body)
	}
}

// TestWebsocketNeedsHandshake: a request to a websocket endpoint that is not a
// handshake (a plain GET any web page can make) is a JSON error and starts no job.
func TestWebsocketNeedsHandshake(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", []byte(tinyDocument)), 204, "")
	r := f.do("POST", "/backups/create", nil)
	f.want(r, 200, "")
	var b Backup
	json.Unmarshal(r.body, &b)
	for _, tc := range []struct {
		path, says string
		code       int
		header     []string
	}{
		{"/backups/create/streamed/websocket", "websocket handshake", 426, nil},
		{"/backup/" + b.ID + "/restore/streamed/websocket", "websocket handshake", 426, nil},
		{"/backups/create/streamed/websocket", "Sec-WebSocket-Key", 400, []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13"}},
		{"/backups/create/streamed/websocket", "version", 400, []string{"Connection", "upgrade", "Upgrade", "WebSocket", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}},
		{"/backups/create/streamed/websocket", "origin", 403, []string{"Connection", "keep-alive, Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
			"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", "http://localhost:1"}},
	} {
		f.want(f.do("GET", tc.path, nil, tc.header...), tc.code, tc.says)
	}
	var progress BackupsStreamedProgress
	json.Unmarshal(f.do("GET", "/backups/streamed/progress", nil).body, &progress)
	var list Backups
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(progress.Backups)+len(progress.Restorations) != 0 || len(list.Iterable) != 1 {
		t.Fatalf("refused handshakes started jobs: %+v, %d backups", progress, len(list.Iterable))
	}
}
