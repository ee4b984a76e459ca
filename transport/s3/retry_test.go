package s3_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/location"
	"cairn/transport/retry"
)

// answering is an S3 server whose bucket exists (a HEAD of it succeeds) and that
// answers every other request with one status and S3 error code, counting them.
type answering struct {
	status int
	code   string
	mu     sync.Mutex
	n      int
}

func (a *answering) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if r.Method == http.MethodHead && strings.Trim(r.URL.Path, "/") == "bucket" {
		return // the bucket is there
	}
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(a.status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>as asked</Message><Resource>%s</Resource></Error>`, a.code, r.URL.Path)
	}
}

func (a *answering) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// TestRequestsPerCall counts the requests that reach the server: through the backend
// location.Open builds, a call the server answers with 503 SlowDown (or another
// transient answer) is sent retries+1 times, no more; one answered with 404
// NoSuchKey, 403 AccessDenied or 401 once.
func TestRequestsPerCall(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	ops := []struct {
		name string
		call func(ctx context.Context, be transport.Backend) error
	}{
		{"load", func(ctx context.Context, be transport.Backend) error {
			_, err := transport.LoadAll(ctx, be, object("x"))
			return err
		}},
		{"save", func(ctx context.Context, be transport.Backend) error { return be.Save(ctx, object("x"), []byte("x")) }},
		{"stat", func(ctx context.Context, be transport.Backend) error { _, err := be.Stat(ctx, object("x")); return err }},
		{"list", func(ctx context.Context, be transport.Backend) error {
			return be.List(ctx, transport.Data, func(transport.FileInfo) error { return nil })
		}},
		{"remove", func(ctx context.Context, be transport.Backend) error { return be.Remove(ctx, object("x")) }},
	}
	for _, tc := range []struct {
		status  int
		code    string
		retries int // Options.Max
		want    int // requests per call
	}{
		{http.StatusServiceUnavailable, "SlowDown", 3, 4},
		{http.StatusInternalServerError, "InternalError", 2, 3},
		{http.StatusServiceUnavailable, "SlowDown", -1, 1},
		{http.StatusNotFound, "NoSuchKey", 3, 1},
		{http.StatusForbidden, "AccessDenied", 3, 1},
		{http.StatusUnauthorized, "Unauthorized", 3, 1},
	} {
		for _, op := range ops {
			t.Run(fmt.Sprintf("%d %s/%d retries/%s", tc.status, tc.code, tc.retries, op.name), func(t *testing.T) {
				srv := &answering{status: tc.status, code: tc.code}
				hs := httptest.NewServer(srv)
				defer hs.Close()
				be, err := location.Open(t.Context(), "s3:"+hs.URL+"/bucket/repo", location.Options{
					Retry: retry.Options{Max: tc.retries, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond},
				})
				if err != nil {
					t.Fatal(err)
				}
				defer be.Close()
				err = op.call(t.Context(), be)
				if err == nil {
					t.Fatal("succeeded")
				}
				if got := srv.count(); got != tc.want {
					t.Fatalf("%d requests, want %d (%v)", got, tc.want, err)
				}
				transient := tc.want > 1 || tc.retries < 0
				if be.IsPermanent(err) == transient {
					t.Fatalf("IsPermanent %v for %v", be.IsPermanent(err), err)
				}
			})
		}
	}
}
