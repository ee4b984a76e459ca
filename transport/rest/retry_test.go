package rest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/location"
	"cairn/transport/retry"
)

// answering is a server that answers every request with one status, counting them.
type answering struct {
	status int
	mu     sync.Mutex
	n      int
}

func (a *answering) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	http.Error(w, http.StatusText(a.status), a.status)
}

func (a *answering) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// restOps are the calls of a backend, each on one object.
var restOps = []struct {
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

// TestRequestsPerCall counts the requests that reach the server: through the backend
// location.Open builds, a call the server answers with 503 (or another transient
// status) is sent retries+1 times, no more; one answered with 404, 401 or 507 once.
func TestRequestsPerCall(t *testing.T) {
	for _, tc := range []struct {
		status  int
		retries int // Options.Max
		want    int // requests per call
	}{
		{http.StatusServiceUnavailable, 3, 4},
		{http.StatusInternalServerError, 2, 3},
		{http.StatusTooManyRequests, 1, 2},
		{http.StatusServiceUnavailable, -1, 1},
		{http.StatusNotFound, 3, 1},
		{http.StatusUnauthorized, 3, 1},
		{http.StatusInsufficientStorage, 3, 1},
		{http.StatusNotImplemented, 3, 1},
	} {
		for _, op := range restOps {
			t.Run(fmt.Sprintf("%d/%d retries/%s", tc.status, tc.retries, op.name), func(t *testing.T) {
				srv := &answering{status: tc.status}
				hs := httptest.NewServer(srv)
				defer hs.Close()
				be, err := location.Open(t.Context(), "rest:"+hs.URL+"/repo", location.Options{
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
				if tc.status == http.StatusNotFound && op.name != "list" && op.name != "save" && !be.IsNotExist(err) {
					t.Fatalf("404: IsNotExist false for %v", err)
				}
			})
		}
	}
}

// cutOnce serves one object with ranges, and cuts the body of its first answer after
// cutAt bytes (the connection then drops: the Content-Length was the whole). It
// records the Range header of every request.
type cutOnce struct {
	data   []byte
	cutAt  int
	mu     sync.Mutex
	ranges []string
}

func (c *cutOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.ranges = append(c.ranges, r.Header.Get("Range"))
	first := len(c.ranges) == 1
	c.mu.Unlock()
	if r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if first {
		w = &cutWriter{ResponseWriter: w, left: c.cutAt}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(c.data))
}

// cutWriter takes left bytes of body and fails the rest.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.left = 0
		return n, errors.New("cut")
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}

// TestCutBodyResumed: a body cut short on the way is asked for again from the byte
// where it stopped, once, and the callback reads the object whole, called once.
func TestCutBodyResumed(t *testing.T) {
	data := bytes.Repeat([]byte("resumed "), 64<<10) // 512 KiB
	for _, tc := range []struct {
		name           string
		length         int
		offset         int64
		first, resumed string // the Range headers
	}{
		{"whole", 0, 0, "", "bytes=100000-"},
		{"range", 300000, 50000, "bytes=50000-349999", "bytes=150000-349999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &cutOnce{data: data, cutAt: 100000}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			be, err := location.Open(t.Context(), "rest:"+hs.URL+"/repo", location.Options{
				Retry: retry.Options{Max: 1, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			h := object(string(data))
			calls := 0
			var got []byte
			err = be.Load(t.Context(), h, tc.length, tc.offset, func(rd io.Reader) error {
				calls++
				var err error
				got, err = transport.ReadAll(rd)
				return err
			})
			want := data[tc.offset:]
			if tc.length > 0 {
				want = want[:tc.length]
			}
			if err != nil || !bytes.Equal(got, want) || calls != 1 {
				t.Fatalf("load: %d bytes of %d, %v, fn called %d times", len(got), len(want), err, calls)
			}
			if len(srv.ranges) != 2 || srv.ranges[0] != tc.first || srv.ranges[1] != tc.resumed {
				t.Fatalf("requests with ranges %q, want %q then %q", srv.ranges, tc.first, tc.resumed)
			}
		})
	}
}
