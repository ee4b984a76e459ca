package httpapi

// Tests of local callers that misbehave: clients that stop reading or trickle their
// bodies, web pages of other origins, requests made while a job runs, and clients that
// send a whole body before reading the answer.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// logged is a slog handler that hands every record's message and attributes to a
// channel, so a test can wait for the server to say something.
type logged chan string

func (l logged) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l logged) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l logged) WithGroup(string) slog.Handler                 { return l }
func (l logged) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	select {
	case l <- b.String():
	default:
	}
	return nil
}

// waitLog waits for a logged message that contains want.
func waitLog(t *testing.T, l logged, want string, limit time.Duration) string {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case m := <-l:
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("the server did not log %q within %v", want, limit)
		}
	}
}

// rawConn opens a connection to the fixture's server that the test drives by hand.
func (f *fixture) rawConn() net.Conn {
	f.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
	if err != nil {
		f.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // the guard of a hung test
	f.t.Cleanup(func() { c.Close() })
	return c
}

// stalledExport starts GET /database/export on a raw connection, reads its first
// bytes, and returns the response to read on (or not).
func (f *fixture) stalledExport() (*http.Response, []byte) {
	f.t.Helper()
	c := f.rawConn()
	fmt.Fprintf(c, "GET /database/export HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(f.http.URL, "http://"))
	res, err := http.ReadResponse(bufio.NewReaderSize(c, 4<<10), nil)
	if err != nil || res.StatusCode != 200 {
		f.t.Fatalf("export: %v %v", err, res)
	}
	head := make([]byte, 1<<10)
	if _, err := io.ReadFull(res.Body, head); err != nil {
		f.t.Fatal(err)
	}
	return res, head
}

// backupThenChange makes a backup of a database of size bytes, then changes the
// database, and returns the backup's id and the exports of the database backed up and
// of the changed one.
func (f *fixture) backupThenChange(size int64) (id string, original, changed []byte) {
	f.t.Helper()
	f.want(f.do("POST", "/database/import", document(f.t, size, 21)), 204, "")
	original = f.do("GET", "/database/export", nil).body
	r := f.do("POST", "/backups/create", nil)
	f.want(r, 200, "")
	var b Backup
	json.Unmarshal(r.body, &b)
	f.want(f.do("POST", "/database/import", []byte(`{"version":"1","tags":`+byteArray(`{"id":"changed"}`)+`}`)), 204, "")
	res := f.do("GET", "/database/export", nil)
	f.want(res, 200, "")
	return b.ID, original, res.body
}

// TestStalledExportDoesNotBlockRestore: a client that stops reading an export holds
// no lock a restore needs. The restore completes well within the write timeout, and
// the stalled export, read on afterwards, is the database as it was when it began.
func TestStalledExportDoesNotBlockRestore(t *testing.T) {
	const timeout = 20 * time.Second
	f := newFixture(t, func(c *Config) { c.IOTimeout = timeout })
	id, original, before := f.backupThenChange(8 << 20)
	if len(before) < 16<<20 {
		t.Fatalf("an export of %d bytes fits in socket buffers; the test needs more", len(before))
	}
	res, head := f.stalledExport()

	start := time.Now()
	f.want(f.do("POST", "/backup/"+id+"/restore", nil), 200, "")
	if took := time.Since(start); took >= timeout {
		t.Fatalf("the restore took %v beside a stalled export (write timeout %v)", took, timeout)
	}
	if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(after, original) {
		t.Fatal("the restore did not bring back the backup's database")
	}

	rest, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("the stalled export, read on: %v", err)
	}
	if got := append(head, rest...); !bytes.Equal(got, before) {
		t.Fatalf("the stalled export is not the database as it was when it began (%d bytes, want %d)", len(got), len(before))
	}
}

// TestStalledExportIsCut: an export whose client stopped reading ends after the write
// timeout, its response cut short.
func TestStalledExportIsCut(t *testing.T) {
	log := make(logged, 100)
	f := newFixture(t, func(c *Config) {
		c.IOTimeout = time.Second
		c.Logger = slog.New(log)
	})
	f.want(f.do("POST", "/database/import", document(t, 8<<20, 22)), 204, "")
	res, _ := f.stalledExport()
	start := time.Now()
	m := waitLog(t, log, "export failed midway", 60*time.Second)
	if !strings.Contains(m, "timeout") {
		t.Fatalf("the export ended for another reason: %s", m)
	}
	t.Logf("cut after %v: %s", time.Since(start).Round(time.Millisecond), m)
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("the cut export reads as complete")
	}
	f.want(f.do("GET", "/backups", nil), 200, "")
}

// TestTricklingImportDoesNotBlockRestore: an import whose body trickles in holds the
// database's writer only until the read timeout cuts it; a restore waiting behind it
// then completes, and nothing of the trickled import is kept.
func TestTricklingImportDoesNotBlockRestore(t *testing.T) {
	const timeout = 2 * time.Second
	f := newFixture(t, func(c *Config) { c.IOTimeout = timeout })
	id, original, _ := f.backupThenChange(256 << 10)
	c := f.trickleImport()
	start := time.Now()
	restored := make(chan response, 1)
	go func() { restored <- f.do("POST", "/backup/"+id+"/restore", nil) }()
	select {
	case r := <-restored:
		f.want(r, 200, "")
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("the restore still waits behind a trickling import after %v (read timeout %v)", time.Since(start).Round(time.Second), timeout)
	}
	t.Logf("the restore took %v behind a trickling import (read timeout %v)", time.Since(start).Round(time.Millisecond), timeout)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusRequestTimeout || !bytes.Contains(body, []byte("slower than")) {
			t.Fatalf("the trickling import was answered %d %s", res.StatusCode, body)
		}
	}
	if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(after, original) {
		t.Fatal("the database is not the restored backup")
	}
}

// trickleImport starts an import whose body trickles in on a raw connection, and
// returns the connection once the import holds the database's writer (its copy of the
// database exists).
func (f *fixture) trickleImport() net.Conn {
	f.t.Helper()
	c := f.rawConn()
	fmt.Fprintf(c, "POST /database/import HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"version\":\"1\",\"tags\":[",
		strings.TrimPrefix(f.http.URL, "http://"), 1<<20)
	ended := make(chan error, 1)
	go func() { // one byte array element every 50 ms, until the server cuts it off
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(c, "%d,", 'a'+i%26); err != nil {
				ended <- err
				return
			}
			time.Sleep(50 * time.Millisecond) // the trickle itself
		}
	}()
	for {
		if _, err := os.Stat(f.db.Path() + ".new"); err == nil {
			return c
		}
		select {
		case err := <-ended:
			f.t.Fatalf("the import ended before it began: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestCancelRestoreWaitingForWriter: a restore waiting for the database's writer
// behind a trickling import is cancelled at once, and the cancel answers.
func TestCancelRestoreWaitingForWriter(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IOTimeout = time.Minute })
	id, _, changed := f.backupThenChange(256 << 10)
	f.trickleImport()
	restored := make(chan response, 1)
	go func() { restored <- f.do("POST", "/backup/"+id+"/restore", nil) }()
	// Time for the restore to reach its wait for the writer; cancelled sooner, it
	// ends all the same.
	time.Sleep(500 * time.Millisecond)
	cancelled := make(chan response, 1)
	go func() { cancelled <- f.do("POST", "/backup/"+id+"/restoration/cancel", nil) }()
	select {
	case r := <-cancelled:
		f.want(r, 204, "")
	case <-time.After(10 * time.Second):
		t.Fatal("the cancel of a restore waiting for the writer still waits after 10 s")
	}
	if r := <-restored; r.code == 200 {
		t.Fatal("a cancelled restore answered 200")
	}
	var st BackupStatus
	json.Unmarshal(f.do("GET", "/backup/"+id+"/restoration/status", nil).body, &st)
	if st.Value != StatusCanceled {
		t.Fatalf("status after cancel: %+v", st)
	}
	if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(after, changed) {
		t.Fatal("a cancelled restore changed the database")
	}
}

// TestCrossOrigin: a web page on another port of localhost (or another site) cannot
// change data, whatever it sends; the service's own origin can, with JSON bodies
// only.
func TestCrossOrigin(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", []byte(tinyDocument)), 204, "")
	r := f.do("POST", "/backups/create", nil)
	f.want(r, 200, "")
	var b Backup
	json.Unmarshal(r.body, &b)
	before := f.do("GET", "/database/export", nil).body
	own := f.http.URL
	other := "http://localhost:3000"
	cases := []struct {
		name, method, path, body string
		header                   []string
		code                     int
		says                     string
	}{
		{"text/plain from another port", "POST", "/backups/create", "{}", []string{"Origin", other, "Content-Type", "text/plain"}, 403, "cross-origin"},
		{"form from another port", "POST", "/backups/create", "a=1", []string{"Origin", other, "Content-Type", "application/x-www-form-urlencoded"}, 403, "cross-origin"},
		{"multipart form from another port", "POST", "/backup/" + b.ID + "/restore", "--x--", []string{"Origin", other, "Content-Type", "multipart/form-data; boundary=x"}, 403, "cross-origin"},
		{"text/plain import from another port", "POST", "/database/import", tinyDocument, []string{"Origin", other, "Content-Type", "text/plain", "Sec-Fetch-Site", "same-site"}, 403, "cross-origin"},
		{"restore from another port", "POST", "/backup/" + b.ID + "/restore", "", []string{"Origin", other}, 403, "cross-origin"},
		{"cross-site without Origin", "POST", "/backups/create", "", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
		{"same-site", "POST", "/backup", `{"iterable":[{"id":"x"}]}`, []string{"Sec-Fetch-Site", "same-site", "Content-Type", "application/json"}, 403, "cross-origin"},
		{"opaque origin", "POST", "/backups/create", "", []string{"Origin", "null"}, 403, "origin"},
		{"another name of this host", "POST", "/backups/create", "", []string{"Origin", strings.Replace(own, "127.0.0.1", "localhost", 1)}, 403, "origin"},
		{"another scheme", "POST", "/backups/create", "", []string{"Origin", strings.Replace(own, "http:", "https:", 1), "Sec-Fetch-Site", "same-origin"}, 403, "may not change data"},
		{"text/plain from the service's own page", "POST", "/backups/create", "{}", []string{"Origin", own, "Content-Type", "text/plain"}, 415, "application/json"},
		{"text/plain from no page", "POST", "/database/import", tinyDocument, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"body without content type", "POST", "/backup/asset", `{"id":"x"}`, []string{"Content-Type", ""}, 415, "Content-Type"},
		{"form from the service's own page", "POST", "/backup/asset", "id=x", []string{"Origin", own, "Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "same-origin"}, 415, "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.want(f.do(tc.method, tc.path, []byte(tc.body), tc.header...), tc.code, tc.says)
		})
	}
	f.t = t
	var list Backups
	json.Unmarshal(f.do("GET", "/backups", nil).body, &list)
	if len(list.Iterable) != 1 || !bytes.Equal(before, f.do("GET", "/database/export", nil).body) {
		t.Fatalf("refused requests changed something: %d backups", len(list.Iterable))
	}
	// What the service's own pages and programs send goes through.
	f.want(f.do("POST", "/backups/create", []byte(`{}`), "Origin", own, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json; charset=utf-8"), 200, "")
	f.want(f.do("POST", "/backups/create", nil, "Content-Type", ""), 200, "")
	f.want(f.do("POST", "/backup/"+b.ID+"/creation/cancel", nil), 500, "no creation")
	f.want(f.do("GET", "/backups", nil, "Origin", other, "Sec-Fetch-Site", "same-site"), 200, "")
}

// TestAssetsWhileJobRuns: /backup and /backup/asset answer 409 while a job runs and
// leave the database as it was.
func TestAssetsWhileJobRuns(t *testing.T) {
	f := newFixture(t)
	f.want(f.do("POST", "/database/import", document(t, 512<<10, 23)), 204, "")
	before := f.do("GET", "/database/export", nil).body
	f.gate.close()
	done := make(chan response, 1)
	go func() { done <- f.do("POST", "/backups/create", nil) }()
	<-f.gate.hit
	f.want(f.do("POST", "/backup/asset", []byte(`{"id":"sneaked-in"}`)), 409, "running")
	f.want(f.do("POST", "/backup", []byte(`{"iterable":[{"id":"sneaked-in-too"}]}`)), 409, "running")
	f.gate.release()
	f.want(<-done, 200, "")
	if after := f.do("GET", "/database/export", nil).body; !bytes.Equal(before, after) {
		t.Fatal("assets refused with 409 were merged into the database")
	}
}

// TestEarlyAnswerReachesSender: a client that sends a whole 16 MB import without
// Expect: 100-continue (as Python's urllib does) and reads only then gets the 400 and
// its JSON body for a bad record near the start, not a reset connection.
func TestEarlyAnswerReachesSender(t *testing.T) {
	f := newFixture(t)
	var doc bytes.Buffer
	doc.WriteString(`{"version":"1","assets":[110,111,116,10,`) // "not\n": a bad first record
	for doc.Len() < 16<<20 {
		doc.WriteString("120,")
	}
	doc.WriteString("10]}")
	c := f.rawConn()
	fmt.Fprintf(c, "POST /database/import HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(f.http.URL, "http://"), doc.Len())
	if _, err := c.Write(doc.Bytes()); err != nil {
		t.Fatalf("sending the body: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	f.want(response{res.StatusCode, body}, 400, "record 1")
	// Then the server closes the connection cleanly: what the client sent was read.
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the answer: %d bytes, %v (want the end of the connection)", n, err)
	}
}
