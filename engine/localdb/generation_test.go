package localdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// within fails the test when done does not say so within d: the guard of a test
// whose failure mode is a wait that never ends.
func within(t *testing.T, d time.Duration, what string, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s still waiting after %v", what, d)
		return nil
	}
}

// fillFormats merges 5000 records into formats and returns them as one collection.
func fillFormats(t *testing.T, db *DB) string {
	t.Helper()
	var old strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&old, "{\"id\":\"%05d\",\"text\":\"%s\"}\n", i, strings.Repeat("o", 100))
	}
	if err := merge(db, map[string]string{"formats": old.String()}); err != nil {
		t.Fatal(err)
	}
	return old.String()
}

// stallReader starts a reader (an export whose client stops reading) that stops after
// its first kilobyte until resume is closed; read then says what it read in all.
func stallReader(db *DB) (resume chan struct{}, read <-chan string) {
	started, resume := make(chan struct{}), make(chan struct{})
	out := make(chan string, 1)
	go func() { // ends once resume is closed
		var got strings.Builder
		db.Read(context.Background(), func(name string, r io.Reader) error {
			if _, err := io.CopyN(&got, r, 1000); err != nil {
				return err
			}
			close(started)
			<-resume
			_, err := io.Copy(&got, r)
			return err
		})
		out <- got.String()
	}()
	<-started
	return resume, out
}

// TestReaderDoesNotBlockWriters: a reader that stops midway (an export whose client
// stopped reading) keeps its snapshot while a replacement and a merge complete; new
// readers see the new database at once, and the old file is closed when the stalled
// reader ends.
func TestReaderDoesNotBlockWriters(t *testing.T) {
	db := openTest(t)
	old := fillFormats(t, db)
	first := db.cur

	resume, read := stallReader(db)

	replaced := make(chan error, 1)
	go func() {
		replaced <- db.Replace(context.Background(), func(w *Writer) error {
			return w.Collection("tags", strings.NewReader(`{"id":"new"}`+"\n"))
		})
	}()
	if err := within(t, 10*time.Second, "a replacement beside a stalled reader", replaced); err != nil {
		t.Fatal(err)
	}
	merged := make(chan error, 1)
	go func() { merged <- merge(db, map[string]string{"tags": `{"id":"merged"}` + "\n"}) }()
	if err := within(t, 10*time.Second, "a merge beside a stalled reader", merged); err != nil {
		t.Fatal(err)
	}
	if got, _ := dump(t, db); len(got) != 1 || got["tags"] != `{"id":"merged"}`+"\n"+`{"id":"new"}`+"\n" {
		t.Fatalf("a new reader sees %q", got)
	}
	if err := first.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		t.Fatalf("the file of a running reader was closed: %v", err)
	}

	close(resume)
	if got := <-read; got != old {
		t.Fatalf("the stalled reader's snapshot changed under it: %d bytes, want %d", len(got), len(old))
	}
	if err := first.db.View(func(*bolt.Tx) error { return nil }); !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		t.Fatalf("the old file is still open after its last reader: %v", err)
	}
}

// TestWriterWaitEndsWithContext: a writer waiting for its turn behind another (a
// trickling import) gives up when its context ends, and when the database closes.
func TestWriterWaitEndsWithContext(t *testing.T) {
	db := openTest(t)
	p, err := db.BeginMerge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := db.BeginReplace(ctx)
		waiting <- err
	}()
	cancel()
	if err := within(t, 10*time.Second, "a cancelled writer", waiting); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait for the writer: %v", err)
	}
	go func() {
		_, err := db.BeginMerge(context.Background())
		waiting <- err
	}()
	db.Close()
	if err := within(t, 10*time.Second, "a writer of a closed database", waiting); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait for the writer of a closed database: %v", err)
	}
	if err := p.Commit(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("commit into a closed database: %v", err)
	}
	if _, err := db.Meta(); !errors.Is(err, ErrClosed) {
		t.Fatalf("read of a closed database: %v", err)
	}
}

// TestCloseLeavesReadersTheirFile: Close with a reader running leaves the reader its file
// until it ends, then closes it.
func TestCloseLeavesReadersTheirFile(t *testing.T) {
	db := openTest(t)
	if err := merge(db, map[string]string{"assets": `{"id":"a"}` + "\n" + `{"id":"b"}` + "\n"}); err != nil {
		t.Fatal(err)
	}
	g := db.cur
	inside, resume := make(chan struct{}), make(chan struct{})
	read := make(chan error, 1)
	go func() {
		_, err := db.Read(context.Background(), func(name string, r io.Reader) error {
			close(inside)
			<-resume
			b, err := io.ReadAll(r)
			if err == nil && string(b) != `{"id":"a"}`+"\n"+`{"id":"b"}`+"\n" {
				err = fmt.Errorf("read %q after Close", b)
			}
			return err
		})
		read <- err
	}()
	<-inside
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	close(resume)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if err := g.db.View(func(*bolt.Tx) error { return nil }); !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		t.Fatalf("the file is still open after Close and its last reader: %v", err)
	}
}

// TestMergeBesideStalledReader: a small merge writes in place on the file a stalled
// reader is reading; it completes, new readers see it, and the stalled reader keeps
// the snapshot it began with.
func TestMergeBesideStalledReader(t *testing.T) {
	db := openTest(t)
	old := fillFormats(t, db)
	resume, read := stallReader(db)
	merged := make(chan error, 1)
	go func() {
		merged <- merge(db, map[string]string{"formats": `{"id":"00000","text":"changed"}` + "\n", "tags": `{"id":"t"}` + "\n"})
	}()
	if err := within(t, 10*time.Second, "a merge beside a stalled reader of the same file", merged); err != nil {
		t.Fatal(err)
	}
	if got, _ := dump(t, db); !strings.HasPrefix(got["formats"], `{"id":"00000","text":"changed"}`) || got["tags"] != `{"id":"t"}`+"\n" {
		t.Fatalf("a new reader does not see the merge: %.80q", got["formats"])
	}
	close(resume)
	if got := <-read; got != old {
		t.Fatalf("the stalled reader's snapshot changed under it: %d bytes, want %d", len(got), len(old))
	}
}
