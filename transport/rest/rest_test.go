package rest_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/rest"
	"cairn/transport/rest/resttest"
	"cairn/transport/retry"
	"cairn/transport/transporttest"
)

var repoCount atomic.Int64

// newRepo makes a fresh repository on srv.
func newRepo(t *testing.T, base string, opt rest.Options) *rest.Backend {
	t.Helper()
	be, err := rest.Open(fmt.Sprintf("%srepo%d", base, repoCount.Add(1)), opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	return be
}

// newRetried makes a fresh repository on a server that may fail, behind the retry layer.
func newRetried(t *testing.T, base string, opt retry.Options) *retry.Backend {
	t.Helper()
	raw, err := rest.Open(fmt.Sprintf("%srepo%d", base, repoCount.Add(1)), rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	be := retry.New(raw, opt)
	if err := be.Do(t.Context(), raw.Create); err != nil {
		t.Fatal(err)
	}
	return be
}

func TestConformance(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	t.Run("raw", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Backend { return newRepo(t, srv.URL, rest.Options{}) })
	})
	t.Run("retry", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Backend { return newRetried(t, srv.URL, retry.Options{}) })
	})
}

// htpasswd writes a rest-server password file with a {SHA} entry.
func htpasswd(t *testing.T, dir, user, password string) {
	t.Helper()
	sum := sha1.Sum([]byte(password))
	line := user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".htpasswd"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
}

func object(data string) transport.Handle {
	sum := sha256.Sum256([]byte(data))
	return transport.Handle{Kind: transport.Data, Name: hex.EncodeToString(sum[:])}
}

func TestAuthAndPrivateRepos(t *testing.T) {
	dir := t.TempDir()
	htpasswd(t, dir, "alice", "s3cret-pw")
	srv := resttest.StartIn(t, dir, "--private-repos")
	u := strings.Replace(srv.URL, "http://", "http://alice:s3cret-pw@", 1) + "alice/"
	be, err := rest.Open(u, rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := be.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, object("x"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(be.Location(), "s3cret") {
		t.Fatalf("location %q shows the password", be.Location())
	}
	for _, bad := range []string{
		strings.Replace(srv.URL, "http://", "http://alice:wrong@", 1) + "alice/",
		strings.Replace(srv.URL, "http://", "http://alice:s3cret-pw@", 1) + "bob/", // not hers
		srv.URL + "alice/", // no credentials
	} {
		be, _ := rest.Open(bad, rest.Options{})
		err := be.Save(ctx, object("y"), []byte("y"))
		var se *rest.StatusError
		if !errors.As(err, &se) || (se.Status != 401 && se.Status != 403) || !be.IsPermanent(err) {
			t.Fatalf("%s: %v", bad, err)
		}
		if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "credentials") {
			t.Fatalf("error %q", err)
		}
	}
	// Credentials from the environment.
	t.Setenv("CAIRN_REST_USER", "alice")
	t.Setenv("CAIRN_REST_PASSWORD", "s3cret-pw")
	be, _ = rest.Open(srv.URL+"alice/", rest.Options{})
	if _, err := be.Stat(ctx, object("x")); err != nil {
		t.Fatalf("credentials from the environment: %v", err)
	}
}

func TestAppendOnly(t *testing.T) {
	srv := resttest.Start(t, "--no-auth", "--append-only")
	be := newRepo(t, srv.URL, rest.Options{})
	ctx := context.Background()
	h := object("kept")
	if err := be.Save(ctx, h, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	err := be.Remove(ctx, h)
	if err == nil || !be.IsPermanent(err) {
		t.Fatalf("remove in append-only mode: %v", err)
	}
	if err := be.Save(ctx, h, []byte("kept")); err != nil {
		t.Fatalf("saving an existing object again: %v", err)
	}
}

func TestDiskFull(t *testing.T) {
	srv := resttest.Start(t, "--no-auth", "--max-size", "200000")
	be := newRepo(t, srv.URL, rest.Options{})
	big := strings.Repeat("z", 300000)
	err := be.Save(context.Background(), object(big), []byte(big))
	var se *rest.StatusError
	if !errors.As(err, &se) || se.Status != 507 || !be.IsPermanent(err) || !strings.Contains(err.Error(), "out of space") {
		t.Fatalf("save past the quota: %v", err)
	}
}

// flaky is a proxy in front of a server that answers a share of requests with 503.
type flaky struct {
	next  http.Handler
	mu    sync.Mutex
	rng   *rand.Rand
	share float64
	fails int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.rng.Float64() < f.share
	if fail {
		f.fails++
	}
	f.mu.Unlock()
	if fail {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	f.next.ServeHTTP(w, r)
}

func TestRetriesTransientFaults(t *testing.T) {
	srv := resttest.Start(t, "--no-auth")
	target, _ := url.Parse(srv.URL)
	proxy := &flaky{next: httputil.NewSingleHostReverseProxy(target), rng: rand.New(rand.NewPCG(1, 2)), share: 0.2}
	hs := httptest.NewServer(proxy)
	defer hs.Close()
	be := newRetried(t, hs.URL+"/", retry.Options{WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Max: 10})
	ctx := context.Background()
	for i := range 50 {
		data := fmt.Sprintf("object %d", i)
		if err := be.Save(ctx, object(data), []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := transport.LoadAll(ctx, be, object(data))
		if err != nil || string(got) != data {
			t.Fatalf("load %d: %q %v", i, got, err)
		}
	}
	if proxy.fails == 0 {
		t.Fatal("the proxy failed nothing")
	}
	// With no retries left, a 503 is reported as transient.
	proxy.share = 1
	noRetry := newRepoAt(t, hs.URL+"/repo-noretry", rest.Options{})
	err := noRetry.Save(ctx, object("z"), []byte("z"))
	if err == nil || noRetry.IsPermanent(err) {
		t.Fatalf("503 without retries: %v (permanent %v)", err, noRetry.IsPermanent(err))
	}
}

func newRepoAt(t *testing.T, u string, opt rest.Options) *rest.Backend {
	t.Helper()
	be, err := rest.Open(u, opt)
	if err != nil {
		t.Fatal(err)
	}
	return be
}
