package localdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "pieces.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump reads every collection back.
func dump(t *testing.T, db *DB) (map[string]string, Meta) {
	t.Helper()
	out := map[string]string{}
	m, err := db.Read(context.Background(), func(name string, r io.Reader) error {
		b, err := io.ReadAll(r)
		out[name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

func merge(db *DB, cols map[string]string) error {
	return db.Merge(context.Background(), func(w *Writer) error {
		for name, body := range cols {
			if err := w.Collection(name, strings.NewReader(body)); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestMergeAndRead(t *testing.T) {
	db := openTest(t)
	err := merge(db, map[string]string{
		"assets": `{"id":"b","v":1}` + "\n" + `{"id":"a","v":1}` + "\n",
		"tags":   `{"id":"t1"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Upsert by id: b replaced, c added.
	if err := merge(db, map[string]string{"assets": `{"id":"b","v":2}` + "\n" + `{"v":3,"id":"c"}` + "\n"}); err != nil {
		t.Fatal(err)
	}
	got, m := dump(t, db)
	want := `{"id":"a","v":1}` + "\n" + `{"id":"b","v":2}` + "\n" + `{"v":3,"id":"c"}` + "\n"
	if got["assets"] != want || got["tags"] != `{"id":"t1"}`+"\n" {
		t.Fatalf("got %q", got)
	}
	if m.Version != DefaultVersion {
		t.Fatalf("version %q", m.Version)
	}
	st, _ := db.Stats()
	if st.Records != 4 || st.Collections["assets"] != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFailedMergeChangesNothing(t *testing.T) {
	db := openTest(t)
	if err := merge(db, map[string]string{"assets": `{"id":"a"}` + "\n"}); err != nil {
		t.Fatal(err)
	}
	before, _ := dump(t, db)
	for _, bad := range []string{
		`{"id":"x"}` + "\n" + `not json` + "\n" + `{"id":"y"}`,
		`{"id":"x"}` + "\n" + `{"name":"no id"}`,
		`{"id":"x"}` + "\n" + `{"id":7}`,
		`{"id":""}`,
	} {
		err := merge(db, map[string]string{"assets": bad, "tags": `{"id":"t"}`})
		if !errors.Is(err, ErrBadRecord) {
			t.Fatalf("merge of %q: %v", bad, err)
		}
		if !strings.Contains(err.Error(), "record 2") && !strings.Contains(err.Error(), "record 1") {
			t.Fatalf("error %q does not say which record", err)
		}
		after, _ := dump(t, db)
		if len(after) != len(before) || after["assets"] != before["assets"] {
			t.Fatalf("a failed merge changed the database: %q", after)
		}
	}
}

func TestReplace(t *testing.T) {
	db := openTest(t)
	merge(db, map[string]string{"assets": `{"id":"old"}` + "\n"})
	err := db.Replace(context.Background(), func(w *Writer) error {
		if err := w.SetMeta(Meta{Version: "12.0.0"}); err != nil {
			return err
		}
		return w.Collection("formats", strings.NewReader(`{"id":"f"}`+"\n"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, m := dump(t, db)
	if len(got) != 1 || got["formats"] != `{"id":"f"}`+"\n" || m.Version != "12.0.0" {
		t.Fatalf("after replace: %q %+v", got, m)
	}
	// A cancelled or failed replace leaves the database as it was.
	ctx, cancel := context.WithCancel(context.Background())
	err = db.Replace(ctx, func(w *Writer) error {
		w.Collection("assets", strings.NewReader(`{"id":"new"}`))
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled replace: %v", err)
	}
	err = db.Replace(context.Background(), func(w *Writer) error { return errors.New("boom") })
	if err == nil {
		t.Fatal("failed replace succeeded")
	}
	again, _ := dump(t, db)
	if len(again) != 1 || again["formats"] != got["formats"] {
		t.Fatalf("a cancelled replace changed the database: %q", again)
	}
}

func TestLongLines(t *testing.T) {
	db := openTest(t)
	long := `{"id":"big","code":"` + strings.Repeat("x", 300<<10) + `"}`
	if err := merge(db, map[string]string{"formats": long + "\n"}); err != nil {
		t.Fatal(err)
	}
	got, _ := dump(t, db)
	if got["formats"] != long+"\n" {
		t.Fatalf("long record came back as %d bytes", len(got["formats"]))
	}
	var n int
	EachRecord(bytes.NewReader([]byte("a\n\nb\nc")), func(int, []byte) error { n++; return nil })
	if n != 3 {
		t.Fatalf("EachRecord saw %d records, want 3", n)
	}
}

// TestManyRecords: records read through a reused buffer are stored intact (bbolt keeps
// the slices it is given until the commit).
func TestManyRecords(t *testing.T) {
	db := openTest(t)
	var sb strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&sb, "{\"id\":\"%06d\",\"text\":\"%s\"}\n", i, strings.Repeat(string(rune('a'+i%26)), i%200))
	}
	if err := merge(db, map[string]string{"formats": sb.String()}); err != nil {
		t.Fatal(err)
	}
	got, _ := dump(t, db)
	if got["formats"] != sb.String() {
		t.Fatal("records changed on their way through the database")
	}
}

// TestImportIsAllOrNothing: an import works on a copy committed in batches; a failure
// after several batches leaves the live database as it was, a success keeps what was
// there and adds the rest.
func TestImportIsAllOrNothing(t *testing.T) {
	db := openTest(t)
	merge(db, map[string]string{"tags": `{"id":"kept"}` + "\n"})
	var sb strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&sb, "{\"id\":\"%06d\",\"text\":\"%s\"}\n", i, strings.Repeat("x", 1000))
	}
	big := sb.String() // about 41 MB: more than one batch
	before, _ := dump(t, db)
	p, err := db.BeginMerge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = p.Collection("formats", strings.NewReader(big+"not json\n"))
	if !errors.Is(err, ErrBadRecord) {
		t.Fatalf("bad record after %d bytes: %v", len(big), err)
	}
	p.Abort()
	after, _ := dump(t, db)
	if len(after) != len(before) || after["tags"] != before["tags"] {
		t.Fatalf("a failed import changed the database: %d collections", len(after))
	}
	p, err = db.BeginMerge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Collection("formats", strings.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ = dump(t, db)
	if after["tags"] != before["tags"] || after["formats"] != big {
		t.Fatal("a good import lost records")
	}
}
