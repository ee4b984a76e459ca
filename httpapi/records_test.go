package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"

	"cairn/engine"
	"cairn/engine/localdb"
)

// setAssets replaces the live database with these assets records.
func (f *fixture) setAssets(recs ...string) {
	f.t.Helper()
	body := strings.Join(recs, "\n") + "\n"
	if err := f.db.Replace(f.t.Context(), func(w *localdb.Writer) error { return w.Collection("assets", strings.NewReader(body)) }); err != nil {
		f.t.Fatal(err)
	}
}

// snapshotNow backs the database up through the API and returns the backup's id.
func (f *fixture) snapshotNow() string {
	f.t.Helper()
	res := f.do("POST", "/backups/create", nil)
	f.want(res, 200, "")
	var b Backup
	if err := json.Unmarshal(res.body, &b); err != nil {
		f.t.Fatal(err)
	}
	return b.ID
}

// liveAssets reads the live database's assets by id.
func (f *fixture) liveAssets() map[string]string {
	f.t.Helper()
	out := map[string]string{}
	_, err := f.db.Read(f.t.Context(), func(name string, rd io.Reader) error {
		if name != "assets" {
			return nil
		}
		return localdb.EachRecord(rd, func(_ int, b []byte) error {
			out[engine.RecordID(b)] = string(b)
			return nil
		})
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// getJSON GETs path, wants 200 and decodes the answer into v.
func (f *fixture) getJSON(path string, v any) {
	f.t.Helper()
	res := f.do("GET", path, nil)
	f.want(res, 200, "")
	if err := json.Unmarshal(res.body, v); err != nil {
		f.t.Fatalf("%s: %v: %s", path, err, res.body)
	}
}

const oddID = `a/b?c&d="e" f%2F`

// recordsFixture has two backups of the database: A with keep, gone, edit and a
// record whose id holds URL and JSON specials; B after gone was deleted, edit changed
// and new added.
func recordsFixture(t *testing.T) (f *fixture, a, b string) {
	t.Helper()
	f = newFixture(t)
	odd, _ := json.Marshal(oddID)
	f.setAssets(`{"id":"keep","v":"old"}`, `{"id":"gone","v":"v1","text":"Lost Snippet"}`, `{"id":"edit","v":"old"}`, `{"id":`+string(odd)+`}`)
	a = f.snapshotNow()
	f.setAssets(`{"id":"keep","v":"old"}`, `{"id":"edit","v":"new"}`, `{"id":"new","v":"1"}`, `{"id":`+string(odd)+`}`)
	b = f.snapshotNow()
	return f, a, b
}

// TestRecordEndpoints: list, get, diff, find and log answer what the snapshots hold.
func TestRecordEndpoints(t *testing.T) {
	f, a, b := recordsFixture(t)
	q := url.QueryEscape

	var list RecordList
	f.getJSON("/cairn/v1/records?snapshot="+a+"&q=lost+SNIPPET", &list)
	if list.Snapshot != a || list.Total != 1 || len(list.Records) != 1 || list.Records[0].ID != "gone" || list.NextOffset != nil {
		t.Fatalf("search by text: %+v", list)
	}
	f.getJSON("/cairn/v1/records?snapshot="+a+"&collection=assets&limit=2", &list)
	if list.Total != 4 || len(list.Records) != 2 || list.NextOffset == nil || *list.NextOffset != 2 {
		t.Fatalf("first page: %+v", list)
	}

	res := f.do("GET", "/cairn/v1/record?snapshot="+a+"&collection=assets&id="+q(oddID), nil)
	f.want(res, 200, "")
	var odd map[string]string
	if err := json.Unmarshal(res.body, &odd); err != nil || odd["id"] != oddID {
		t.Fatalf("record with an odd id: %s", res.body)
	}

	var diff SnapshotDiff
	f.getJSON("/cairn/v1/diff?from="+a+"&to="+b, &diff)
	want := `[{"name":"assets","added":["new"],"removed":["gone"],"changed":["edit"]}]`
	if got, _ := json.Marshal(diff.Collections); string(got) != want || diff.From != a || diff.To != b {
		t.Fatalf("diff %s, want %s", got, want)
	}

	var rd RecordDiff
	f.getJSON("/cairn/v1/diff/record?from="+a+"&to="+b+"&collection=assets&id=edit", &rd)
	if got, _ := json.Marshal(rd.Fields); string(got) != `[{"name":"id","before":"edit","after":"edit","changed":false},{"name":"v","before":"old","after":"new","changed":true}]` {
		t.Fatalf("fields %s", got)
	}
	f.getJSON("/cairn/v1/diff/record?from="+a+"&to="+b+"&collection=assets&id=gone", &rd)
	if string(rd.After) != "null" || string(rd.Before) != `{"id":"gone","v":"v1","text":"Lost Snippet"}` {
		t.Fatalf("removed record: before %s after %s", rd.Before, rd.After)
	}

	var found engine.FindResult
	f.getJSON("/cairn/v1/find?q=GONE", &found)
	if len(found.Records) != 1 || found.Records[0].ID != "gone" || found.Records[0].First != a || found.Records[0].Last != a {
		t.Fatalf("find by id: %+v", found)
	}
	f.getJSON("/cairn/v1/find?q=old", &found)
	if len(found.Records) != 2 { // keep in both, edit in a
		t.Fatalf("find by text: %+v", found)
	}

	var log RecordLog
	f.getJSON("/cairn/v1/log?collection=assets&id=gone", &log)
	if got := changes(log); got != "added removed" {
		t.Fatalf("log of gone: %s", got)
	}
	f.getJSON("/cairn/v1/log?collection=assets&id=edit", &log)
	if got := changes(log); got != "added changed" || log.Versions[0].Snapshot != a || log.Versions[0].Hash == "" {
		t.Fatalf("log of edit: %+v", log)
	}
}

func changes(l RecordLog) string {
	var s []string
	for _, v := range l.Versions {
		s = append(s, v.Change)
	}
	return strings.Join(s, " ")
}

// TestRestoreRecords: a record deleted since an older backup comes back from it,
// while records changed or added since stay as they are now; a request naming a
// record the backup lacks answers 404 naming it and writes nothing.
func TestRestoreRecordsEndpoint(t *testing.T) {
	f, a, _ := recordsFixture(t)
	before := f.liveAssets()
	body := fmt.Sprintf(`{"snapshot":%q,"records":[{"collection":"assets","id":"gone"},{"collection":"assets","id":"never"}]}`, a)
	f.want(f.do("POST", "/cairn/v1/records/restore", []byte(body)), 404, `assets/never`)
	if got := f.liveAssets(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a refused restore changed the database: %v", got)
	}
	body = fmt.Sprintf(`{"snapshot":%q,"records":[{"collection":"assets","id":"gone"}]}`, a)
	res := f.do("POST", "/cairn/v1/records/restore", []byte(body))
	f.want(res, 200, "")
	if string(res.body) != `{"restored":[{"collection":"assets","id":"gone"}]}`+"\n" {
		t.Fatalf("answer %s", res.body)
	}
	after := f.liveAssets()
	before["gone"] = `{"id":"gone","v":"v1","text":"Lost Snippet"}`
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("database after restoring gone:\n%v\nwant\n%v", after, before)
	}
}

// TestRecordEndpointsRefuseBadInput: missing or bad parameters and bodies answer 400,
// unknown snapshots, collections and records 404, with a JSON body saying so.
func TestRecordEndpointsRefuseBadInput(t *testing.T) {
	f, a, b := recordsFixture(t)
	restore := func(body string) response { return f.do("POST", "/cairn/v1/records/restore", []byte(body)) }
	for _, tc := range []struct {
		name string
		res  func() response
		code int
		says string
	}{
		{"records without snapshot", func() response { return f.do("GET", "/cairn/v1/records", nil) }, 400, `"snapshot" is missing`},
		{"unknown snapshot", func() response { return f.do("GET", "/cairn/v1/records?snapshot=9.9.9_123", nil) }, 404, "9.9.9_123"},
		{"malformed snapshot id", func() response { return f.do("GET", "/cairn/v1/records?snapshot=../x", nil) }, 400, "invalid backup id"},
		{"limit over the most", func() response { return f.do("GET", "/cairn/v1/records?snapshot="+a+"&limit=1001", nil) }, 400, "at most 1000"},
		{"negative offset", func() response { return f.do("GET", "/cairn/v1/records?snapshot="+a+"&offset=-1", nil) }, 400, "offset"},
		{"unknown collection", func() response { return f.do("GET", "/cairn/v1/records?snapshot="+a+"&collection=nope", nil) }, 404, "nope"},
		{"record without id", func() response { return f.do("GET", "/cairn/v1/record?snapshot="+a+"&collection=assets", nil) }, 400, `"id" is missing`},
		{"unknown record", func() response { return f.do("GET", "/cairn/v1/record?snapshot="+a+"&collection=assets&id=new", nil) }, 404, "new"},
		{"diff without to", func() response { return f.do("GET", "/cairn/v1/diff?from="+a, nil) }, 400, `"to" is missing`},
		{"diff of a record neither holds", func() response {
			return f.do("GET", "/cairn/v1/diff/record?from="+a+"&to="+b+"&collection=assets&id=zz", nil)
		}, 404, "zz"},
		{"find without text", func() response { return f.do("GET", "/cairn/v1/find?q=", nil) }, 400, `"q" is missing`},
		{"find with a huge text", func() response { return f.do("GET", "/cairn/v1/find?q="+strings.Repeat("x", 2000), nil) }, 400, "longer"},
		{"log of an unknown record", func() response { return f.do("GET", "/cairn/v1/log?collection=assets&id=zz", nil) }, 404, "zz"},
		{"restore with an unknown field", func() response { return restore(`{"snapshot":"` + a + `","records":[],"force":true}`) }, 400, "unknown field"},
		{"restore without records", func() response { return restore(`{"snapshot":"` + a + `","records":[]}`) }, 400, "at least one"},
		{"restore with an empty id", func() response {
			return restore(`{"snapshot":"` + a + `","records":[{"collection":"assets","id":""}]}`)
		}, 400, `"id"`},
		{"restore from an unknown snapshot", func() response {
			return restore(`{"snapshot":"1.0.0_1","records":[{"collection":"assets","id":"gone"}]}`)
		}, 404, "1.0.0_1"},
		{"restore from an unknown collection", func() response {
			return restore(`{"snapshot":"` + a + `","records":[{"collection":"nope","id":"gone"}]}`)
		}, 404, "nope"},
		{"restore with a body that is no JSON", func() response { return restore(`{"snapshot":`) }, 400, "invalid request body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.want(tc.res(), tc.code, tc.says)
		})
	}
}

// TestRestoreRecordsWhileImporting: while an import holds the database, a record
// restore answers 409 and writes nothing; once it ends, the restore goes through.
func TestRestoreRecordsWhileImporting(t *testing.T) {
	f, a, _ := recordsFixture(t)
	c := f.trickleImport()
	body := fmt.Sprintf(`{"snapshot":%q,"records":[{"collection":"assets","id":"gone"}]}`, a)
	f.want(f.do("POST", "/cairn/v1/records/restore", []byte(body)), 409, "import")
	c.Close()
	// The import ends once the server sees the connection go; until then the writer
	// is still held.
	for {
		res := f.do("POST", "/cairn/v1/records/restore", []byte(body))
		if res.code == 200 {
			break
		}
		f.want(res, 409, "import")
		f.waitWriter()
	}
	if f.liveAssets()["gone"] == "" {
		t.Fatal("the restore after the import did not write")
	}
}

// waitWriter waits until the database's writer is free: a Merge that gets it.
func (f *fixture) waitWriter() {
	f.t.Helper()
	if err := f.db.Merge(f.t.Context(), func(*localdb.Writer) error { return nil }); err != nil {
		f.t.Fatal(err)
	}
}
