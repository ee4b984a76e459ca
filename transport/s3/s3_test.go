package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"cairn/engine"
	"cairn/engine/enginetest"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/location"
	"cairn/transport/retry"
	"cairn/transport/s3"
	"cairn/transport/s3/miniotest"
	"cairn/transport/transporttest"
)

// start runs a MinIO server for one test; -short skips the tests that need one.
func start(t *testing.T) *miniotest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a MinIO server")
	}
	return miniotest.Start(t)
}

// creds are Options with the test server's credentials.
func creds(opt s3.Options) s3.Options {
	opt.AccessKeyID, opt.SecretAccessKey = miniotest.User, miniotest.Password
	return opt
}

// retried wraps be in the retry layer, with max retries and quick backoffs.
func retried(be transport.Backend, max int) *retry.Backend {
	return retry.New(be, retry.Options{Max: max, WaitMin: time.Millisecond, WaitMax: 20 * time.Millisecond})
}

var bucketCount atomic.Int64

// newBucket makes a backend on a fresh bucket of srv, under a prefix.
func newBucket(t *testing.T, base string, opt s3.Options) *s3.Backend {
	t.Helper()
	be, err := s3.Open(fmt.Sprintf("%s/cairn-%d/some/prefix", base, bucketCount.Add(1)), creds(opt))
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Create(t.Context()); err != nil {
		t.Fatal(err)
	}
	return be
}

func object(data string) transport.Handle {
	sum := sha256.Sum256([]byte(data))
	return transport.Handle{Kind: transport.Data, Name: hex.EncodeToString(sum[:])}
}

// rawClient talks to srv directly, to look at what the backend stored.
func rawClient(t *testing.T, srv *miniotest.Server) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(miniotest.User, miniotest.Password, ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	srv := start(t)
	t.Run("raw", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Backend { return newBucket(t, srv.URL, s3.Options{}) })
	})
	t.Run("retry", func(t *testing.T) {
		transporttest.Run(t, func(t *testing.T) transport.Backend { return retried(newBucket(t, srv.URL, s3.Options{}), 0) })
	})
}

// TestLayout: objects are <prefix>/<kind>/<name>, the config <prefix>/config, and the
// location names the endpoint, bucket and prefix alone.
func TestLayout(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	for _, tc := range []struct{ path, prefix string }{
		{"/layout-a/deep/prefix/", "deep/prefix/"},
		{"/layout-b", ""},
	} {
		be, err := s3.Open(srv.URL+tc.path, creds(s3.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if err := be.Create(ctx); err != nil {
			t.Fatal(err)
		}
		if err := be.Create(ctx); err != nil {
			t.Fatalf("creating an existing bucket again: %v", err)
		}
		if want := "s3:" + srv.URL + strings.TrimSuffix(tc.path, "/"); be.Location() != want {
			t.Errorf("location %q, want %q", be.Location(), want)
		}
		h := object("layout")
		if err := be.Save(ctx, h, []byte("layout")); err != nil {
			t.Fatal(err)
		}
		if err := be.Save(ctx, transport.Handle{Kind: transport.Config}, []byte("cfg")); err != nil {
			t.Fatal(err)
		}
		bucket, _, _ := strings.Cut(strings.TrimPrefix(tc.path, "/"), "/")
		var keys []string
		for obj := range rawClient(t, srv).ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			keys = append(keys, obj.Key)
		}
		slices.Sort(keys)
		want := []string{tc.prefix + "config", tc.prefix + "data/" + h.Name}
		if !slices.Equal(keys, want) {
			t.Errorf("bucket %s holds %q, want %q", bucket, keys, want)
		}
	}
	for _, bad := range []string{
		"ftp://host/bucket", "http:///bucket", "http://host", "http://host/", "http://host/Bad_Bucket",
		"http://host/bucket/../x", "http://host/bucket?x=1",
	} {
		if _, err := s3.Open(bad, creds(s3.Options{})); err == nil {
			t.Errorf("Open(%q) accepted", bad)
		}
	}
	_, err := s3.Open("http://AKIAEXAMPLE:topsecret@host/bucket", s3.Options{})
	if err == nil || strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "AKIAEXAMPLE") {
		t.Fatalf("credentials in the location: %v", err)
	}
}

// counter is an http.RoundTripper that counts requests, and corrupts the bodies of
// the next `corrupt` uploads (a byte flipped on the way, length unchanged).
type counter struct {
	next     http.RoundTripper
	requests atomic.Int64
	puts     atomic.Int64
	corrupt  atomic.Int64
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	if req.Method == http.MethodPut && req.URL.Query().Get("uploadId") == "" && req.ContentLength > 0 {
		c.puts.Add(1)
		if c.corrupt.Add(-1) >= 0 {
			body, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			body[len(body)/2] ^= 0x40
			req = req.Clone(req.Context())
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	return c.next.RoundTrip(req)
}

func newCounter() *counter { return &counter{next: http.DefaultTransport.(*http.Transport).Clone()} }

// TestWrongCredentials: a wrong secret or key id is a clear, permanent error, sent
// once, never retried, and never printed.
func TestWrongCredentials(t *testing.T) {
	srv := start(t)
	good := newBucket(t, srv.URL, s3.Options{})
	ctx := t.Context()
	h := object("x")
	if err := good.Save(ctx, h, []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key, secret, code string }{
		{"wrong secret", miniotest.User, "wrong-secret-key-123", "SignatureDoesNotMatch"},
		{"unknown key id", "NOSUCHKEYID", miniotest.Password, "InvalidAccessKeyId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newCounter()
			// A retry would wait at least 1 s: the answer must come sooner.
			opt := s3.Options{AccessKeyID: tc.key, SecretAccessKey: tc.secret, Transport: rt}
			u := strings.TrimPrefix(good.Location(), "s3:")
			raw, err := s3.Open(u, opt)
			if err != nil {
				t.Fatal(err)
			}
			be := retry.New(raw, retry.Options{Max: 5, WaitMin: 2 * time.Second, WaitMax: 4 * time.Second})
			for _, op := range []struct {
				name string
				call func() error
			}{
				{"ping", func() error { return be.Do(ctx, raw.Ping) }},
				{"stat", func() error { _, err := be.Stat(ctx, h); return err }},
				{"load", func() error { _, err := transport.LoadAll(ctx, be, h); return err }},
				{"save", func() error { return be.Save(ctx, object("y"), []byte("y")) }},
				{"list", func() error {
					return be.List(ctx, transport.Data, func(transport.FileInfo) error { return nil })
				}},
			} {
				before := rt.requests.Load()
				began := time.Now()
				err := op.call()
				took, sent := time.Since(began), rt.requests.Load()-before
				var se *s3.Error
				switch {
				case err == nil:
					t.Fatalf("%s succeeded", op.name)
				case !be.IsPermanent(err) || be.IsNotExist(err):
					t.Fatalf("%s: permanent %v, not-exist %v: %v", op.name, be.IsPermanent(err), be.IsNotExist(err), err)
				case !errors.As(err, &se) || se.Code != tc.code || se.Status != http.StatusForbidden:
					t.Fatalf("%s: %v, want 403 %s", op.name, err, tc.code)
				case !strings.Contains(err.Error(), "credentials"):
					t.Fatalf("%s: the error does not say what is wrong: %v", op.name, err)
				case strings.Contains(err.Error(), tc.secret) || strings.Contains(err.Error(), miniotest.Password):
					t.Fatalf("%s: the error shows the secret: %v", op.name, err)
				case sent != 1 || took > time.Second:
					t.Fatalf("%s: %d requests in %v: retried", op.name, sent, took)
				}
			}
			if strings.Contains(be.Location(), tc.secret) || strings.Contains(be.Location(), tc.key) {
				t.Fatalf("location %q shows credentials", be.Location())
			}
		})
	}
	// Through location, as the CLI opens it: the credentials come from the environment.
	t.Setenv("AWS_ACCESS_KEY_ID", miniotest.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-key-123")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	began := time.Now()
	_, err := location.Open(ctx, good.Location(), location.Options{})
	var se *s3.Error
	if !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" || errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("open with a wrong secret: %v", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("open with a wrong secret took %v", took)
	}
}

// TestMissingBucket: opening a bucket that is not there says so (and matches
// fs.ErrNotExist, as a missing folder does); an empty bucket is no repository; no
// message shows the secret.
func TestMissingBucket(t *testing.T) {
	srv := start(t)
	ctx := t.Context()
	t.Setenv("AWS_ACCESS_KEY_ID", miniotest.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", miniotest.Password)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	loc := "s3:" + srv.URL + "/no-such-bucket/repo"
	_, err := location.Open(ctx, loc, location.Options{})
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Fatalf("open of a missing bucket: %v", err)
	}
	if strings.Contains(err.Error(), miniotest.Password) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	// Objects of a bucket that went away: permanent, but not a missing object.
	be, err := s3.Open(srv.URL+"/no-such-bucket/repo", creds(s3.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = be.Stat(ctx, object("x"))
	var se *s3.Error
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" || !be.IsPermanent(err) || be.IsNotExist(err) {
		t.Fatalf("stat in a missing bucket: %v", err)
	}
	err = be.Save(ctx, object("x"), []byte("x"))
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" || !be.IsPermanent(err) || !strings.Contains(err.Error(), "bucket does not exist") {
		t.Fatalf("save in a missing bucket: %v", err)
	}
	// A bucket without a config is no repository.
	empty, err := location.Create(ctx, "s3:"+srv.URL+"/empty-bucket", location.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Open(ctx, empty)
	if !errors.Is(err, repo.ErrNoRepository) {
		t.Fatalf("open of an empty bucket: %v", err)
	}
	for _, l := range []string{empty.Location(), be.Location(), err.Error()} {
		if strings.Contains(l, miniotest.Password) {
			t.Fatalf("%q shows the secret", l)
		}
	}
	// No credentials at all: said before any request.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if _, err := location.Open(ctx, loc, location.Options{}); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("open without credentials: %v", err)
	}
}

// flaky stands in front of MinIO and answers a share of requests itself with an S3
// error that asks to try again, or cuts every n-th GET response in half.
type flaky struct {
	next     http.Handler
	mu       sync.Mutex
	rng      *rand.Rand
	share    float64
	fails    int
	cutEvery int
	gets     int
	cuts     int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.rng.Float64() < f.share
	kind := f.rng.IntN(3)
	if fail {
		f.fails++
	}
	cut := false
	if r.Method == http.MethodGet && f.cutEvery > 0 && !fail {
		f.gets++
		cut = f.gets%f.cutEvery == 0
	}
	f.mu.Unlock()
	if cut {
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if len(body) < 2 {
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		f.mu.Lock()
		f.cuts++
		f.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2]) // the connection then drops: Content-Length was the whole
		return
	}
	if !fail {
		f.next.ServeHTTP(w, r)
		return
	}
	io.Copy(io.Discard, r.Body)
	status, code := []int{503, 429, 500}[kind], []string{"SlowDown", "TooManyRequests", "InternalError"}[kind]
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>try again</Message></Error>`, code)
	}
}

// TestRetriesTransientFaults: 503 SlowDown, 429 and 500 answers and refused
// connections are retried; once the retries run out the error is not permanent.
func TestRetriesTransientFaults(t *testing.T) {
	srv := start(t)
	target, _ := url.Parse(srv.URL)
	proxy := &flaky{next: httputil.NewSingleHostReverseProxy(target), rng: rand.New(rand.NewPCG(1, 2))}
	hs := httptest.NewServer(proxy)
	defer hs.Close()
	be := retried(newBucket(t, hs.URL, s3.Options{}), 10)
	proxy.mu.Lock()
	proxy.share = 0.25
	proxy.mu.Unlock()
	ctx := t.Context()
	for i := range 40 {
		data := fmt.Sprintf("object %d", i)
		if err := be.Save(ctx, object(data), []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := transport.LoadAll(ctx, be, object(data))
		if err != nil || string(got) != data {
			t.Fatalf("load %d: %q %v", i, got, err)
		}
	}
	n := 0
	if err := be.List(ctx, transport.Data, func(transport.FileInfo) error { n++; return nil }); err != nil || n != 40 {
		t.Fatalf("list: %d objects, %v", n, err)
	}
	if proxy.fails == 0 {
		t.Fatal("the proxy failed nothing")
	}
	// Responses cut short, object bodies and listings alike, are asked for again.
	proxy.mu.Lock()
	proxy.share, proxy.cutEvery = 0, 2
	proxy.mu.Unlock()
	big := bytes.Repeat([]byte("cut short "), 50000)
	if err := be.Save(ctx, object(string(big)), big); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		got, err := transport.LoadAll(ctx, be, object(string(big)))
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("load through cut responses: %d bytes, %v", len(got), err)
		}
		n := 0
		if err := be.List(ctx, transport.Data, func(transport.FileInfo) error { n++; return nil }); err != nil || n != 41 {
			t.Fatalf("list through cut responses: %d objects, %v", n, err)
		}
	}
	if proxy.cuts == 0 {
		t.Fatal("the proxy cut nothing")
	}
	proxy.mu.Lock()
	proxy.cutEvery = 0
	proxy.mu.Unlock()
	// With every request failing, the error outlasts the retries and stays transient.
	proxy.mu.Lock()
	proxy.share = 1
	proxy.mu.Unlock()
	noRetryRaw, err := s3.Open(strings.TrimPrefix(be.Location(), "s3:"), creds(s3.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	noRetry := retried(noRetryRaw, 2)
	err = noRetry.Save(ctx, object("z"), []byte("z"))
	if err == nil || noRetry.IsPermanent(err) {
		t.Fatalf("503 after the retries: %v (permanent %v)", err, noRetry.IsPermanent(err))
	}
	// A server that is not there: every attempt is made, and the error is transient.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rt := newCounter()
	goneRaw, err := s3.Open("http://"+addr+"/bucket", creds(s3.Options{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	gone := retried(goneRaw, 3)
	_, err = gone.Stat(ctx, object("z"))
	if err == nil || gone.IsPermanent(err) || gone.IsNotExist(err) || rt.requests.Load() != 4 {
		t.Fatalf("stat on a closed port: %v after %d requests", err, rt.requests.Load())
	}
}

// TestCorruptedUpload: a body changed on the way is refused by the server (the upload
// carries its MD5) and sent again; if it keeps arriving corrupted, the save fails and
// nothing is stored.
func TestCorruptedUpload(t *testing.T) {
	srv := start(t)
	rt := newCounter()
	be := retried(newBucket(t, srv.URL, s3.Options{Transport: rt}), 3)
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	h := object(string(data))
	rt.corrupt.Store(1)
	before := rt.puts.Load()
	if err := be.Save(ctx, h, data); err != nil {
		t.Fatalf("save after one corrupted upload: %v", err)
	}
	if n := rt.puts.Load() - before; n != 2 {
		t.Fatalf("%d uploads, want the corrupted one and one more", n)
	}
	if got, err := transport.LoadAll(ctx, be, h); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("load: %d bytes, %v", len(got), err)
	}
	rt.corrupt.Store(100)
	h2 := object("other")
	err := be.Save(ctx, h2, []byte("other"))
	var se *s3.Error
	if !errors.As(err, &se) || se.Code != "BadDigest" || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("save with every upload corrupted: %v", err)
	}
	rt.corrupt.Store(0)
	if _, err := be.Stat(ctx, h2); !be.IsNotExist(err) {
		t.Fatalf("a corrupted upload was stored: %v", err)
	}
}

// The fault test below works on generated databases, with the engine's test helpers.
// The ordinary round trip (init, backup, incremental, restore, check, forget, prune)
// is engine's TestScenario, which runs on MinIO too.

func smallConfig(t *testing.T) repo.Config {
	t.Helper()
	cfg, err := repo.NewConfig(time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	cfg.PackSize = 256 << 10
	return cfg
}

// onSave calls fire before the at-th save of a pack.
type onSave struct {
	transport.Backend
	n    atomic.Int64
	at   int64
	fire func()
}

func (o *onSave) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if h.Kind == transport.Data && o.n.Add(1) == o.at && o.fire != nil {
		o.fire()
	}
	return o.Backend.Save(ctx, h, data)
}

// TestServerKilledMidBackup: MinIO dies in the middle of a backup and comes back on
// the same port and data. The backup fails promptly; the earlier snapshot still
// restores byte for byte, check finds nothing wrong, and the next backup succeeds.
func TestServerKilledMidBackup(t *testing.T) {
	srv := start(t)
	be := retried(newBucket(t, srv.URL, s3.Options{}), 2)
	ctx := t.Context()
	r, err := repo.Init(ctx, be, smallConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	now := enginetest.Clock()
	db := enginetest.Generate(t, 4<<20, 21)
	first := enginetest.Backup(t, r, engine.FolderSource{Dir: db}, now)
	want := enginetest.ReadFolder(t, db)
	if _, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.5, Seed: 22}); err != nil {
		t.Fatal(err)
	}
	killer := &onSave{Backend: be, at: 2, fire: srv.Stop} // at the second of the backup's packs
	r2, err := repo.Open(ctx, killer)
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	began := time.Now()
	_, err = engine.Backup(bctx, r2, engine.FolderSource{Dir: db}, engine.BackupOptions{Now: now})
	if err == nil {
		t.Fatal("a backup whose server died succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 30*time.Second {
		t.Fatalf("the backup hung: %v after %v", err, time.Since(began))
	}
	if killer.n.Load() < killer.at {
		t.Fatalf("the backup saved %d packs: the server was never killed", killer.n.Load())
	}
	t.Logf("backup with the server killed: %v", err)
	srv.Restart()
	r3, err := repo.Open(ctx, be)
	if err != nil {
		t.Fatal(err)
	}
	list, err := r3.Snapshots(ctx)
	if err != nil || len(list) != 1 || list[0].ID != first.ID {
		t.Fatalf("snapshots after the failed backup: %v %v", list, err)
	}
	if res, err := engine.Check(ctx, r3, engine.CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check: %v %+v", err, res)
	}
	enginetest.SameCollections(t, want, enginetest.RestoreFolder(t, r3, list[0]))
	next := enginetest.Backup(t, r3, engine.FolderSource{Dir: db}, now)
	enginetest.SameCollections(t, enginetest.ReadFolder(t, db), enginetest.RestoreFolder(t, r3, next))
	if next.Totals.BytesSent == 0 || next.Totals.BytesSent > next.Totals.StoredBytes {
		t.Fatalf("bytes sent %d, stored %d", next.Totals.BytesSent, next.Totals.StoredBytes)
	}
}
