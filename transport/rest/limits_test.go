package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"cairn/transport"
	"cairn/transport/rest"
)

// endlessListing answers every listing with a JSON list that goes on until the
// client stops reading, or until giveUp bytes (so that a client without a bound
// fails instead of running out of memory). It counts the bytes it sent.
type endlessListing struct {
	announce bool // send a Content-Length of 1 TiB first
	sent     atomic.Int64
}

const giveUp = 64 << 20

func (e *endlessListing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/data/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.x.restic.rest.v2")
	if e.announce {
		w.Header().Set("Content-Length", fmt.Sprint(int64(1)<<40))
	}
	w.Write([]byte("["))
	for i := 0; e.sent.Load() < giveUp; i++ {
		n, err := fmt.Fprintf(w, `{"name":"%064x","size":%d},`, i, i)
		e.sent.Add(int64(n))
		if err != nil {
			return // the client hung up
		}
	}
}

// TestListingWithoutEnd: a server whose listing never ends makes List fail once the
// listing passes MaxListBytes, not read on until memory runs out; one that announces
// a listing over the bound is not read at all.
func TestListingWithoutEnd(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name     string
		announce bool
	}{{"streamed", false}, {"announced", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &endlessListing{announce: tc.announce}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			be := newRepoAt(t, hs.URL+"/repo", rest.Options{MaxListBytes: limit})
			defer be.Close()
			listed := 0
			err := be.List(context.Background(), transport.Data, func(transport.FileInfo) error {
				listed++
				return nil
			})
			if !errors.Is(err, transport.ErrTooLarge) {
				t.Fatalf("listing without end: %v (server sent %d bytes), want ErrTooLarge", err, srv.sent.Load())
			}
			if listed != 0 {
				t.Fatalf("%d names of a listing that failed were reported", listed)
			}
			// The client stopped at the bound: the server got no further than what the
			// connection's buffers hold past it.
			if sent := srv.sent.Load(); sent >= giveUp/2 {
				t.Fatalf("the server sent %d bytes before the client stopped", sent)
			}
			t.Logf("%v (server sent %d bytes)", err, srv.sent.Load())
		})
	}
}
