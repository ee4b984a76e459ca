package engine_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/mem"
)

// recordSink counts the collections written at once, and keeps what they wrote.
type recordSink struct {
	concurrent bool

	mu              sync.Mutex
	now, most       int
	calls           []string
	data            map[string][]byte
	aborted, commit bool
}

func (s *recordSink) Begin(engine.Meta) error { return nil }

func (s *recordSink) Collection(name string, fn func(io.Writer) error) error {
	s.mu.Lock()
	s.now++
	s.most = max(s.most, s.now)
	s.calls = append(s.calls, name)
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.now--; s.mu.Unlock() }()
	var b strings.Builder
	err := fn(&b)
	time.Sleep(5 * time.Millisecond) // give another collection the time to start
	s.mu.Lock()
	s.data[name] = []byte(b.String())
	s.mu.Unlock()
	return err
}

func (s *recordSink) Commit() error { s.commit = true; return nil }
func (s *recordSink) Abort()        { s.aborted = true }

type concurrentRecordSink struct{ *recordSink }

func (s concurrentRecordSink) ConcurrentCollections() bool { return true }

// TestRestoreConcurrency: a ConcurrentSink gets two collections at once, any other sink
// one at a time and in the snapshot's order; both get every byte.
func TestRestoreConcurrency(t *testing.T) {
	db := generate(t, 4<<20, 21)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	want := readFolder(t, db)
	if len(sn.Collections) < 3 {
		t.Fatalf("the test database has %d collections", len(sn.Collections))
	}
	for _, concurrent := range []bool{false, true} {
		rec := &recordSink{data: map[string][]byte{}}
		var sink engine.Sink = rec
		if concurrent {
			sink = concurrentRecordSink{rec}
		}
		if err := engine.Restore(context.Background(), r, sn, sink, engine.RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		sameCollections(t, want, rec.data)
		if !rec.commit || rec.aborted {
			t.Fatalf("concurrent %v: committed %v, aborted %v", concurrent, rec.commit, rec.aborted)
		}
		if concurrent && rec.most != 2 || !concurrent && rec.most != 1 {
			t.Errorf("concurrent %v: %d collections written at once", concurrent, rec.most)
		}
		if !concurrent {
			for i, c := range sn.Collections {
				if rec.calls[i] != c.Name {
					t.Fatalf("sequential restore wrote %v, not in the snapshot's order", rec.calls)
				}
			}
		}
	}
}

// TestRestoreUnknownCollection: a name the snapshot lacks fails the restore before any
// collection is written, and the sink is aborted.
func TestRestoreUnknownCollection(t *testing.T) {
	db := generate(t, 1<<20, 22)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	rec := &recordSink{data: map[string][]byte{}}
	err := engine.Restore(context.Background(), r, sn, concurrentRecordSink{rec}, engine.RestoreOptions{Collections: []string{sn.Collections[0].Name, "nope"}})
	if err == nil || !strings.Contains(err.Error(), `no collection "nope"`) || !strings.Contains(err.Error(), sn.ID) {
		t.Fatalf("restore of a missing collection: %v", err)
	}
	if len(rec.calls) > 0 || !rec.aborted || rec.commit {
		t.Fatalf("collections written %v, aborted %v, committed %v", rec.calls, rec.aborted, rec.commit)
	}
}

// failSink fails one collection's write.
type failSink struct {
	*engine.FolderSink
	fail string
}

var errWrite = errors.New("disk full")

func (s failSink) Collection(name string, fn func(io.Writer) error) error {
	if name != s.fail {
		return s.FolderSink.Collection(name, fn)
	}
	return s.FolderSink.Collection(name, func(w io.Writer) error {
		fn(io.Discard)
		return errWrite
	})
}

func (s failSink) ConcurrentCollections() bool { return true }

// TestFolderSinkFailure: a collection that fails stops the restore with an error naming
// it, and leaves neither the target nor the temporary folder.
func TestFolderSinkFailure(t *testing.T) {
	db := generate(t, 4<<20, 23)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	parent := t.TempDir()
	target := filepath.Join(parent, "out")
	fs, err := engine.NewFolderSink(target)
	if err != nil {
		t.Fatal(err)
	}
	name := sn.Collections[1].Name
	err = engine.Restore(context.Background(), r, sn, failSink{fs, name}, engine.RestoreOptions{})
	if !errors.Is(err, errWrite) || !strings.Contains(err.Error(), "collection "+name) || !strings.Contains(err.Error(), sn.ID) {
		t.Fatalf("restore with a failing collection: %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) > 0 {
		t.Fatalf("a failed restore left %v", entries)
	}
}

// TestFolderSinkLeavesOnlyCollections: the restored folder holds the collection files
// and the metadata file, nothing temporary.
func TestFolderSinkLeavesOnlyCollections(t *testing.T) {
	db := generate(t, 2<<20, 24)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	parent := t.TempDir()
	target := filepath.Join(parent, "out")
	sink, err := engine.NewFolderSink(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Restore(context.Background(), r, sn, sink, engine.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	sameCollections(t, readFolder(t, db), readFolder(t, target))
	entries, _ := os.ReadDir(target)
	if len(entries) != len(sn.Collections)+1 {
		t.Errorf("the restored folder holds %d entries for %d collections", len(entries), len(sn.Collections))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("a temporary file %s was left", e.Name())
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 1 {
		t.Errorf("beside the target: %v", entries)
	}
}

// TestRestoreListCountMismatch: each collection's list is checked against the
// manifest's count, by the goroutine restoring it when collections are restored side
// by side; one that differs, even the last collection restored, fails the whole
// restore, naming its collection, and nothing is left at the target. A sink taking
// one collection at a time gets no collection at all.
func TestRestoreListCountMismatch(t *testing.T) {
	db := generate(t, 1<<20, 23)
	r := newRepo(t, mem.New())
	sn := backup(t, r, engine.FolderSource{Dir: db}, clock())
	bad := *sn
	bad.Collections = slices.Clone(sn.Collections)
	smallest := 0
	for i, c := range bad.Collections {
		if c.Bytes < bad.Collections[smallest].Bytes {
			smallest = i
		}
	}
	bad.Collections[smallest].Count++
	name := bad.Collections[smallest].Name

	rec := &recordSink{data: map[string][]byte{}}
	err := engine.Restore(context.Background(), r, &bad, concurrentRecordSink{rec}, engine.RestoreOptions{})
	if !errors.Is(err, repo.ErrDamaged) || !strings.Contains(err.Error(), "collection "+name+":") || !strings.Contains(err.Error(), "manifest says") {
		t.Fatalf("restore with a wrong count for %s: %v", name, err)
	}
	if !rec.aborted || rec.commit {
		t.Fatalf("aborted %v, committed %v", rec.aborted, rec.commit)
	}

	// A sink taking one collection at a time may stream what it gets: it gets nothing.
	rec = &recordSink{data: map[string][]byte{}}
	err = engine.Restore(context.Background(), r, &bad, rec, engine.RestoreOptions{})
	if !errors.Is(err, repo.ErrDamaged) || len(rec.calls) > 0 || !rec.aborted {
		t.Fatalf("restore one collection at a time with a wrong count: %v; collections written %v, aborted %v", err, rec.calls, rec.aborted)
	}

	target := filepath.Join(t.TempDir(), "out")
	sink, err := engine.NewFolderSink(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Restore(context.Background(), r, &bad, sink, engine.RestoreOptions{}); !errors.Is(err, repo.ErrDamaged) {
		t.Fatalf("restore into a folder with a wrong count: %v", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("target after a failed restore: %v", err)
	}
}
