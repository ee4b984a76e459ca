package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"cairn/engine/localdb"
	"cairn/repo"
)

// putRecords merges records into the fixture's database.
func (f *fixture) putRecords(collection string, lines ...string) {
	f.t.Helper()
	err := f.db.Merge(context.Background(), func(w *localdb.Writer) error {
		return w.Collection(collection, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestOverviewAndSnapshots(t *testing.T) {
	f := newFixture(t)
	var assets []string
	for i := range 300 {
		assets = append(assets, fmt.Sprintf(`{"id":"a%d","name":"snippet %d","text":"%s"}`, i, i, strings.Repeat("func main() { fmt.Println(i) } ", 1+i%7)))
	}
	f.putRecords("assets", assets...)
	f.want(f.do("POST", "/backups/create", nil), 200, "")
	f.putRecords("tags", `{"id":"t1","text":"go"}`)
	f.want(f.do("POST", "/backups/create", nil), 200, "")

	r := f.do("GET", "/cairn/v1/snapshots", nil)
	f.want(r, 200, "")
	var list SnapshotList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Snapshots) != 2 {
		t.Fatalf("%d snapshots, want 2", len(list.Snapshots))
	}
	first, second := list.Snapshots[0], list.Snapshots[1]
	if !first.Time.Before(second.Time) && !first.Time.Equal(second.Time) {
		t.Fatalf("snapshots not oldest first: %v then %v", first.Time, second.Time)
	}
	if first.Records != 300 || second.Records != 301 || second.Device != "test-box" || second.Kind != "database" || second.Tags == nil {
		t.Fatalf("second snapshot: %+v", second)
	}
	if second.RawBytes <= first.RawBytes || first.StoredBytes <= 0 || first.BytesSent <= 0 || first.NewRawBytes <= 0 {
		t.Fatalf("figures: first %+v second %+v", first, second)
	}
	cols := map[string]CollectionInfo{}
	for _, c := range second.Collections {
		cols[c.Name] = c
	}
	if cols["assets"].Records != 300 || cols["tags"].Records != 1 || cols["tags"].Bytes <= 0 {
		t.Fatalf("collections of the second snapshot: %+v", second.Collections)
	}

	r = f.do("GET", "/cairn/v1/overview", nil)
	f.want(r, 200, "")
	var ov Overview
	if err := json.Unmarshal(r.body, &ov); err != nil {
		t.Fatal(err)
	}
	tt := ov.Totals
	if ov.Location != "mem:" || ov.Format == 0 || ov.LastBackup == nil || ov.LastBackup.ID != second.ID || ov.Database.Records != 301 {
		t.Fatalf("overview: %+v", ov)
	}
	if tt.Snapshots != 2 || tt.RawBytes != first.RawBytes+second.RawBytes || tt.UniqueRawBytes <= 0 || tt.StoredBytes <= 0 || tt.Chunks <= 0 {
		t.Fatalf("totals: %+v", tt)
	}
	if tt.DedupRatio <= 1 || tt.CompressionRatio <= 0 {
		t.Fatalf("ratios: dedup %v compression %v", tt.DedupRatio, tt.CompressionRatio)
	}
}

func TestOverviewWithoutRepository(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.OpenRepo = func(context.Context) (*repo.Repository, error) { return nil, errNoRepository }
	})
	for _, path := range []string{"/cairn/v1/overview", "/cairn/v1/snapshots"} {
		f.want(f.do("GET", path, nil), http.StatusNetworkAuthenticationRequired, "no cloud repository")
	}
}

func TestDashboardPage(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path, contentType, has string
		code                   int
	}{
		{"/", "text/html", `<script type="module" src="/web/app.js">`, 200},
		{"/web/app.js", "javascript", "watchProgress", 200},
		{"/web/app.css", "text/css", "prefers-color-scheme: dark", 200},
		{"/web/chart.js", "javascript", "createElementNS", 200},
		{"/web/missing.js", "application/json", "no such file", 404},
		{"/web/", "application/json", "invalid path", 400},
		{"/index.html", "application/json", "no such endpoint", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(f.http.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var b strings.Builder
			if _, err := io.Copy(&b, res.Body); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.code || !strings.Contains(res.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(b.String(), tc.has) {
				t.Fatalf("%d %q %.200s", res.StatusCode, res.Header.Get("Content-Type"), b.String())
			}
			if tc.code == 200 {
				if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Fatalf("Content-Security-Policy %q", csp)
				}
				if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("headers %v", res.Header)
				}
			}
		})
	}
	// The page is behind the same guards as the API.
	f.want(f.do("GET", "/", nil, "Host", "evil.example:1000"), http.StatusForbidden, "not a loopback name")
}
