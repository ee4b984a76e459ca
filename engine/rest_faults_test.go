package engine_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
	"cairn/transport/retry"
)

// faultProxy stands between cairn and rest-server and misbehaves as told.
type faultProxy struct {
	next     http.Handler
	mu       sync.Mutex
	rng      *rand.Rand
	fail503  float64       // share of requests answered 503
	latency  time.Duration // added to every request
	cutEvery int           // every n-th GET body is cut in half
	gets     int
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fail := p.rng.Float64() < p.fail503
	latency := p.latency
	cut := false
	if r.Method == http.MethodGet && p.cutEvery > 0 {
		p.gets++
		cut = p.gets%p.cutEvery == 0
	}
	p.mu.Unlock()
	time.Sleep(latency)
	if fail {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if !cut {
		p.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(body[:len(body)/2]) // the server then drops the connection: Content-Length was the whole
}

// TestRestFaults: a backup meets a misbehaving server. Whatever happens to that backup,
// every earlier snapshot restores byte for byte, check passes, and the next backup on
// a healthy server succeeds.
func TestRestFaults(t *testing.T) {
	fast := retry.Options{Max: 8, WaitMin: time.Millisecond, WaitMax: 20 * time.Millisecond}
	cases := []struct {
		name      string
		flags     []string
		setup     func(p *faultProxy, srv *resttest.Server) // before the second backup
		heal      func(p *faultProxy, srv *resttest.Server) // before the third
		wantFail  bool
		badCreds  bool
		authFiles bool
	}{
		{name: "20% of requests fail with 503", setup: func(p *faultProxy, _ *resttest.Server) { p.fail503 = 0.2 }},
		{name: "300 ms added to every request", setup: func(p *faultProxy, _ *resttest.Server) { p.latency = 300 * time.Millisecond }},
		{name: "responses cut short", setup: func(p *faultProxy, _ *resttest.Server) { p.cutEvery = 3 }},
		{name: "server out of space (507)", wantFail: true,
			setup: func(_ *faultProxy, srv *resttest.Server) { srv.RestartWith("--no-auth", "--max-size", "1") },
			heal:  func(_ *faultProxy, srv *resttest.Server) { srv.RestartWith("--no-auth") }},
		{name: "wrong credentials", wantFail: true, badCreds: true, authFiles: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			flags := []string{"--no-auth"}
			if tc.authFiles {
				sum := sha1.Sum([]byte("right"))
				os.WriteFile(filepath.Join(dir, ".htpasswd"), []byte("cairn:{SHA}"+base64.StdEncoding.EncodeToString(sum[:])+"\n"), 0o600)
				flags = nil
			}
			srv := resttest.StartIn(t, dir, flags...)
			target, _ := url.Parse(srv.URL)
			proxy := &faultProxy{next: httputil.NewSingleHostReverseProxy(target), rng: rand.New(rand.NewPCG(7, 8))}
			hs := httptest.NewServer(proxy)
			defer hs.Close()
			repoURL := func(password string) string {
				u := hs.URL + "/repo"
				if tc.authFiles {
					u = strings.Replace(u, "http://", "http://cairn:"+password+"@", 1)
				}
				return u
			}
			ctx := context.Background()
			be, r := restRepo(t, repoURL("right"), fast)
			now := clock()
			db := generate(t, 1<<20, 31)
			first := backup(t, r, engine.FolderSource{Dir: db}, now)
			want := readFolder(t, db)
			if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.3, Seed: 32}); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(proxy, srv)
			}
			password := "right"
			if tc.badCreds {
				password = "wrong"
			}
			faultyRaw, _ := rest.Open(repoURL(password), rest.Options{})
			faulty := retry.New(faultyRaw, fast)
			_, err := func() (*repo.Snapshot, error) {
				r2, err := repo.Open(ctx, faulty)
				if err != nil {
					return nil, err
				}
				return engine.Backup(ctx, r2, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now})
			}()
			if tc.wantFail && err == nil {
				t.Fatal("the backup succeeded")
			}
			if !tc.wantFail && err != nil {
				t.Fatalf("the backup failed despite retries: %v", err)
			}
			if tc.badCreds && (!faulty.IsPermanent(err) || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "wrong")) {
				t.Fatalf("wrong credentials: %v", err)
			}
			if tc.heal != nil {
				tc.heal(proxy, srv)
			}
			// Earlier snapshots restore byte for byte, through the same proxy.
			r3, err := repo.Open(ctx, be)
			if err != nil {
				t.Fatal(err)
			}
			list, err := r3.Snapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, sn := range list {
				if sn.ID == first.ID {
					sameCollections(t, want, restoreFolder(t, r3, sn))
				}
			}
			proxy.mu.Lock()
			proxy.fail503, proxy.latency, proxy.cutEvery = 0, 0, 0
			proxy.mu.Unlock()
			if res, err := engine.Check(ctx, r3, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
				t.Fatalf("check: %v %+v", err, res)
			}
			next := backup(t, r3, engine.FolderSource{Dir: db}, now)
			sameCollections(t, readFolder(t, db), restoreFolder(t, r3, next))
		})
	}
}
