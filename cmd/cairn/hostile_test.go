package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"cairn/transport/rest/resttest"
)

// The hostile-storage suite: whoever holds the storage answers cairn's requests as
// they please. Each case drives the real CLI (or daemon) through a lying server, a
// proxy in front of a real rest-server whose rules rewrite answers, and checks that
// cairn refuses with a clear error, writes no plaintext and nothing outside its own
// folders, and still restores byte for byte where the lie is only in its caches.
//
// More lies go into hostileCases as cases that install rules; those that cost the
// client CPU and memory before any password is checked (absurd key slots, bodies
// without end) are in hostile_limits_test.go.
var hostileCases = []struct {
	name string
	run  func(t *testing.T, f *hostileFixture)
}{
	{"downgraded config", downgradedConfig},
	{"downgraded config, daemon", downgradedConfigDaemon},
	{"swapped repository", swappedRepository},
	{"traversal id", traversalID},
	{"truncated and foreign cached copies", damagedCaches},
	{"endless bodies", endlessBodies},
	{"absurd key slots", absurdKeySlots},
}

func TestHostileStorage(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newHostileFixture(t, srv)) })
	}
}

// lyingServer is an HTTP server in front of a real rest-server: requests pass through
// unless a rule answers them instead. It records every request that changes storage.
type lyingServer struct {
	URL   string // http://127.0.0.1:port/
	rest  *resttest.Server
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	rules  []rule
	writes []string // "POST /repo/data/..." of writes that reached the rest-server
}

// A rule answers the requests it matches in place of the rest-server; answer may
// still hand the request on with pass.
type rule struct {
	match  func(*http.Request) bool
	answer func(w http.ResponseWriter, r *http.Request, pass http.HandlerFunc)
}

func startLyingServer(t *testing.T, rest *resttest.Server) *lyingServer {
	t.Helper()
	target, err := url.Parse(rest.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := &lyingServer{rest: rest, proxy: httputil.NewSingleHostReverseProxy(target)}
	hs := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/"
	return s
}

func (s *lyingServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rules := slices.Clone(s.rules)
	s.mu.Unlock()
	for _, rl := range rules {
		if rl.match(r) {
			rl.answer(w, r, s.pass)
			return
		}
	}
	s.pass(w, r)
}

// pass hands a request on to the rest-server.
func (s *lyingServer) pass(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.mu.Lock()
		s.writes = append(s.writes, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
	}
	s.proxy.ServeHTTP(w, r)
}

// lie installs rules, ahead of those installed before, and forgets the writes seen so
// far.
func (s *lyingServer) lie(rules ...rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(slices.Clone(rules), s.rules...)
	s.writes = nil
}

// truth removes every rule.
func (s *lyingServer) truth() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// written returns the writes that reached the rest-server since the last lie.
func (s *lyingServer) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// object reads an object straight from the rest-server, say "victim/config".
func (s *lyingServer) object(t *testing.T, name string) []byte {
	t.Helper()
	res, err := http.Get(s.rest.URL + name)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", name, res.StatusCode, err)
	}
	return b
}

// reads matches the reads (GET, HEAD) of one path.
func reads(p string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.URL.Path == p && (r.Method == http.MethodGet || r.Method == http.MethodHead)
	}
}

// serveBytes answers reads of p with body.
func serveBytes(p string, body []byte) rule {
	return rule{match: reads(p), answer: func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	}}
}

// listNothing answers a listing (p ends in "/") with an empty one.
func listNothing(p string) rule {
	r := serveBytes(p, []byte("[]"))
	answer := r.answer
	r.answer = func(w http.ResponseWriter, req *http.Request, pass http.HandlerFunc) {
		w.Header().Set("Content-Type", "application/vnd.x.restic.rest.v2")
		answer(w, req, pass)
	}
	return r
}

// reroute serves every request under one repository from another.
func reroute(from, to string) rule {
	return rule{
		match: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, from) },
		answer: func(w http.ResponseWriter, r *http.Request, pass http.HandlerFunc) {
			r.URL.Path = to + strings.TrimPrefix(r.URL.Path, from)
			r.URL.RawPath = ""
			pass(w, r)
		},
	}
}

// hostileFixture is one case's world: a lying server, a cache folder of its own (in
// CAIRN_CACHE_DIR), a snippet database, and a folder for everything else.
type hostileFixture struct {
	t     *testing.T
	store *lyingServer
	dir   string
	cache string
	db    string
}

func newHostileFixture(t *testing.T, srv *resttest.Server) *hostileFixture {
	f := &hostileFixture{t: t, store: startLyingServer(t, srv), dir: t.TempDir()}
	f.cache = filepath.Join(f.dir, "cache")
	f.db = filepath.Join(f.dir, "db")
	t.Setenv("CAIRN_CACHE_DIR", f.cache)
	t.Setenv("CAIRN_PASSWORD", "test password")
	runner{tb: t}.ok("generate", "--size", "768KiB", "--seed", "11", f.db)
	return f
}

// repoName is a repository path on the rest-server of this case alone.
func (f *hostileFixture) repoName(name string) string {
	sum := sha256.Sum256([]byte(f.t.Name()))
	return name + "-" + hex.EncodeToString(sum[:4])
}

// cli runs commands against a repository on the lying server.
func (f *hostileFixture) cli(repoName string) runner {
	return runner{tb: f.t, repo: "rest:" + f.store.URL + repoName}
}

// repoDir is where the rest-server keeps a repository.
func (f *hostileFixture) repoDir(repoName string) string {
	return filepath.Join(f.store.rest.Dir, repoName)
}

// files lists the files under dir with their sizes, leaving out the folders skip.
func listFiles(t *testing.T, dir string, skip ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && slices.Contains(skip, p) {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = info.Size()
		if d.IsDir() {
			out[p] = -1
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameFiles fails unless the two listings are the same.
func sameFiles(t *testing.T, what string, before, after map[string]int64) {
	t.Helper()
	for p, n := range after {
		if m, ok := before[p]; !ok {
			t.Errorf("%s: %s appeared", what, p)
		} else if m != n {
			t.Errorf("%s: %s changed size %d -> %d", what, p, m, n)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: %s disappeared", what, p)
		}
	}
}

// noRecordText fails if any sample of the database's records is readable in dir.
func (f *hostileFixture) noRecordText(dir string) {
	f.t.Helper()
	for _, s := range someRecordText(f.t, f.db) {
		if storedContains(f.t, dir, s) {
			f.t.Errorf("%s holds record text %q", dir, s)
		}
	}
}

// nothingWritten fails if a write reached the rest-server since the last lie.
func (f *hostileFixture) nothingWritten() {
	f.t.Helper()
	if w := f.store.written(); len(w) > 0 {
		f.t.Errorf("the client wrote to the lying server: %v", w)
	}
}

// downgrade makes victim serve the config of a fresh unencrypted repository and list
// no index files and no snapshots, as if it had always been unencrypted.
func (f *hostileFixture) downgrade(victim string) {
	f.t.Helper()
	decoy := f.repoName("decoy")
	f.cli(decoy).ok("--cache-dir", filepath.Join(f.dir, "decoy-cache"), "init", "--no-encryption")
	plain := f.store.object(f.t, decoy+"/config")
	f.store.lie(serveBytes("/"+victim+"/config", plain), listNothing("/"+victim+"/index/"), listNothing("/"+victim+"/snapshots/"))
}

// downgradedConfig: the storage holder swaps in an unencrypted config so that the next
// backup writes plaintext. With a pin, with a password and no pin, and with a pin and
// no password, the backup is refused (exit 5) and nothing is written.
func downgradedConfig(t *testing.T, f *hostileFixture) {
	victim := f.repoName("victim")
	c := f.cli(victim)
	c.ok("init")
	c.ok("backup", f.db)
	before := listFiles(t, f.repoDir(victim))
	f.downgrade(victim)

	c.fails(exitPassword, `it was stored with encryption "xchacha20-poly1305", its config now says "none"`, "backup", f.db)
	c.fails(exitPassword, "delete "+filepath.Join(f.cache, "pins"), "backup", f.db)
	c.fails(exitPassword, "a password was given but its config says it is not encrypted", "--cache-dir", filepath.Join(f.dir, "fresh-cache"), "backup", f.db)
	c.fails(exitPassword, `it was stored with encryption "xchacha20-poly1305"`, "--no-cache", "backup", f.db) // pins stay with --no-cache
	t.Setenv("CAIRN_PASSWORD", "")
	c.fails(exitPassword, `it was stored with encryption "xchacha20-poly1305"`, "backup", f.db)
	c.fails(exitPassword, `it was stored with encryption "xchacha20-poly1305"`, "--no-cache", "backup", f.db)

	f.nothingWritten()
	sameFiles(t, "the repository", before, listFiles(t, f.repoDir(victim)))
	f.noRecordText(f.repoDir(victim))
	f.store.truth()
	t.Setenv("CAIRN_PASSWORD", "test password")
	c.ok("check", "--read-data")
}

// downgradedConfigDaemon: the same against cairn serve, which pins in its data folder
// and answers 511 with a body that says why.
func downgradedConfigDaemon(t *testing.T, f *hostileFixture) {
	victim := f.repoName("dvictim")
	c := f.cli(victim)
	c.ok("init")
	data := filepath.Join(f.dir, "data")
	args := []string{"--repo", c.repo, "serve", "--addr", "127.0.0.1:0", "--data", data}
	d := startDaemon(t, args...)
	if code, body := d.do(http.MethodGet, "/backups"); code != http.StatusOK {
		t.Fatalf("GET /backups before the lie: %d %s", code, body)
	}
	d.stop()
	if _, err := os.Stat(filepath.Join(data, "pins")); err != nil {
		t.Fatalf("the daemon pinned nothing in its data folder: %v", err)
	}
	before := listFiles(t, f.repoDir(victim))
	f.downgrade(victim)
	d = startDaemon(t, args...)
	for _, req := range [][2]string{{http.MethodPost, "/backups/create"}, {http.MethodGet, "/backups"}} {
		code, body := d.do(req[0], req[1])
		if code != http.StatusNetworkAuthenticationRequired || !strings.Contains(body, `it was stored with encryption \"xchacha20-poly1305\"`) || !strings.Contains(body, strings.ReplaceAll(filepath.Join(data, "pins"), `\`, `\\`)) {
			t.Fatalf("%s %s on a downgraded repository: %d %s", req[0], req[1], code, body)
		}
	}
	d.stop()
	f.nothingWritten()
	sameFiles(t, "the repository", before, listFiles(t, f.repoDir(victim)))
}

// swappedRepository: the storage holder serves another repository that opens with the
// same password (one the user made elsewhere, say). A client that has seen the
// location refuses it.
func swappedRepository(t *testing.T, f *hostileFixture) {
	victim, other := f.repoName("victim"), f.repoName("other")
	c := f.cli(victim)
	c.ok("init")
	c.ok("backup", f.db)
	f.cli(other).ok("--cache-dir", filepath.Join(f.dir, "other-cache"), "init")
	before := listFiles(t, f.repoDir(other))
	f.store.lie(reroute("/"+victim+"/", "/"+other+"/"))
	c.fails(exitPassword, "it was repository ", "backup", f.db)
	c.fails(exitPassword, "whoever holds the storage may have swapped it", "snapshots")
	f.nothingWritten()
	sameFiles(t, "the other repository", before, listFiles(t, f.repoDir(other)))
}

// traversalID: a hostile server met for the first time serves an unencrypted config
// whose id is a path. The id named the list cache folder; it is refused before any
// local folder is made from it.
func traversalID(t *testing.T, f *hostileFixture) {
	name := f.repoName("plain")
	c := f.cli(name)
	t.Setenv("CAIRN_PASSWORD", "")
	c.ok("--cache-dir", filepath.Join(f.dir, "setup-cache"), "init", "--no-encryption")
	cfg := f.store.object(t, name+"/config")
	forged := regexp.MustCompile(`"id":"[0-9a-f]{32}"`).ReplaceAll(cfg, []byte(`"id":"../../escaped"`))
	if bytes.Equal(forged, cfg) {
		t.Fatal("the config has no id to replace")
	}
	f.store.lie(serveBytes("/"+name+"/config", forged))
	before := listFiles(t, f.dir, f.cache)
	c.fails(exitDamaged, `repository id "../../escaped" is not 32 lowercase hex digits`, "backup", f.db)
	if _, err := os.Stat(filepath.Join(f.dir, "escaped")); !os.IsNotExist(err) {
		t.Errorf("cairn made a folder outside its cache: %v", err)
	}
	sameFiles(t, "outside the cache", before, listFiles(t, f.dir, f.cache))
	f.nothingWritten()
}

// damagedCaches: the local copies of list chunks and index files are cut short or
// hold other objects' bytes (a crash, a full disk, another tool). They are detected,
// fetched again and replaced; restores still come out byte for byte.
func damagedCaches(t *testing.T, f *hostileFixture) {
	name := f.repoName("cached")
	c := f.cli(name)
	c.ok("init")
	c.ok("backup", f.db)
	first := filepath.Join(f.dir, "db-first")
	if err := os.CopyFS(first, os.DirFS(f.db)); err != nil {
		t.Fatal(err)
	}
	c.ok("generate", "--mutate", "0.05", "--seed", "12", f.db)
	c.ok("backup", f.db)
	var snaps []struct{ ID string }
	c.json(&snaps, "snapshots")
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots", len(snaps))
	}

	lists, _ := filepath.Glob(filepath.Join(f.cache, "lists", "*", "*"))
	index, _ := filepath.Glob(filepath.Join(f.cache, "*", "index", "*"))
	manifests, _ := filepath.Glob(filepath.Join(f.cache, "*", "snapshots", "*"))
	if len(lists) < 2 || len(index) == 0 || len(manifests) == 0 {
		t.Fatalf("cached: %d lists, %d index files, %d manifests", len(lists), len(index), len(manifests))
	}
	for _, damage := range []struct {
		name string
		do   func(group []string) map[string][]byte
	}{
		{"truncated", func(group []string) map[string][]byte {
			out := map[string][]byte{}
			for _, p := range group {
				b, _ := os.ReadFile(p)
				out[p] = b[:len(b)/2]
			}
			return out
		}},
		{"foreign", func(group []string) map[string][]byte {
			out := map[string][]byte{} // each file gets the next one's bytes
			for i, p := range group {
				out[p], _ = os.ReadFile(group[(i+1)%len(group)])
			}
			return out
		}},
	} {
		planted := map[string][]byte{}
		for _, group := range [][]string{lists, append(slices.Clone(index), manifests...)} {
			for p, b := range damage.do(group) {
				planted[p] = b
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Without the local index cache, which would spare the restores the index
		// files, they are read through the planted copies.
		if err := os.RemoveAll(filepath.Join(f.cache, "index")); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{first, f.db} {
			target := filepath.Join(f.dir, fmt.Sprintf("%s-%d", damage.name, i))
			c.ok("restore", snaps[i].ID, "--target", target)
			sameJSONL(t, want, target)
		}
		for p, b := range planted {
			now, err := os.ReadFile(p)
			if err == nil && bytes.Equal(now, b) {
				t.Errorf("%s cached copy %s was not replaced", damage.name, p)
			}
		}
	}
}

// sameJSONL fails unless the two folders hold the same collection files.
func sameJSONL(t *testing.T, want, got string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(want, "*.jsonl"))
	gotNames, _ := filepath.Glob(filepath.Join(got, "*.jsonl"))
	if len(names) == 0 || len(names) != len(gotNames) {
		t.Fatalf("restored %d collections, want %d", len(gotNames), len(names))
	}
	for _, p := range names {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, filepath.Base(p)))
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("restored %s differs (%v)", filepath.Base(p), err)
		}
	}
}

// daemon is a cairn serve running in this process.
type daemon struct {
	t      *testing.T
	base   string
	cancel context.CancelFunc
	code   chan int
	errb   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to write from the daemon and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startDaemon runs cairn with args (serve ...) until stop, and returns once it serves.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &daemon{t: t, cancel: cancel, code: make(chan int, 1), errb: &syncBuffer{}}
	go func() { // ends when ctx is cancelled (stop)
		d.code <- run(ctx, append([]string{"cairn"}, args...), pw, d.errb)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed nothing: %v %s", err, d.errb.String())
	}
	go io.Copy(io.Discard, pr) // ends when the daemon closes pw
	d.base = strings.Fields(strings.TrimPrefix(line, "cairn serving on "))[0]
	t.Cleanup(d.stop)
	return d
}

// do sends a request with an empty JSON body and returns the status and body.
func (d *daemon) do(method, p string) (int, string) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+p, strings.NewReader("{}"))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// stop ends the daemon as SIGINT would and checks that it exited cleanly.
func (d *daemon) stop() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	if code := <-d.code; code != 0 {
		d.t.Errorf("serve exited %d: %s", code, d.errb.String())
	}
}
