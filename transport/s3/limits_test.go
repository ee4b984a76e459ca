package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/s3"
)

// hostileLister is an S3 server that answers ListObjectsV2 the way a hostile one may:
// a page without end, pages without end, or the same page again and again. It stops
// after giveUp bytes in all, so that a client without a bound fails instead of running
// out of memory.
type hostileLister struct {
	mode  string // "endless page", "endless pages", "same page"
	sent  atomic.Int64
	pages atomic.Int64
}

const giveUp = 64 << 20

func (h *hostileLister) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !r.URL.Query().Has("list-type") {
		http.Error(w, "not here", http.StatusNotImplemented)
		return
	}
	page := h.pages.Add(1)
	w.Header().Set("Content-Type", "application/xml")
	write := func(format string, args ...any) bool {
		n, err := fmt.Fprintf(w, format, args...)
		return h.sent.Add(int64(n)) < giveUp && err == nil
	}
	prefix := r.URL.Query().Get("prefix")
	write(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`+
		`<Name>bucket</Name><Prefix>%s</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>%v</IsTruncated>`+
		`<NextContinuationToken>t%d</NextContinuationToken>`, prefix, h.mode != "endless page", page)
	keys := 1000
	if h.mode == "endless page" {
		keys = 1 << 62
	}
	first := (page - 1) * 1000
	if h.mode == "same page" {
		first = 0
	}
	for i := range int64(keys) {
		if !write(`<Contents><Key>%s%064x</Key><Size>1</Size></Contents>`, prefix, first+i) {
			return
		}
	}
	write(`</ListBucketResult>`)
}

// TestListingBounded: whatever a server lists, a listing ends with an error before it
// has read more than a page's bound or reported more than MaxList objects.
func TestListingBounded(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want error // nil: any error
	}{
		{"endless page", transport.ErrTooLarge},
		{"endless pages", transport.ErrTooLarge},
		{"same page", nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := &hostileLister{mode: tc.mode}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			be, err := s3.Open(hs.URL+"/bucket", s3.Options{AccessKeyID: "k", SecretAccessKey: "s", Region: "us-east-1",
				MaxList: 5000})
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			listed := 0
			err = be.List(ctx, transport.Data, func(transport.FileInfo) error {
				listed++
				return nil
			})
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) || ctx.Err() != nil {
				t.Fatalf("%v after %d objects, %d pages, %d bytes; want %v", err, listed, srv.pages.Load(), srv.sent.Load(), tc.want)
			}
			if listed > 5000 {
				t.Fatalf("%d objects reported, more than MaxList", listed)
			}
			if sent := srv.sent.Load(); sent >= giveUp/2 {
				t.Fatalf("the server sent %d bytes before the client stopped", sent)
			}
			t.Logf("%v (%d objects, %d pages, server sent %s bytes)", err, listed, srv.pages.Load(), strconv.FormatInt(srv.sent.Load(), 10))
		})
	}
}
