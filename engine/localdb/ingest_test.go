package localdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeBulk writes one collection through BeginMerge (read ahead, committed in batches)
// or Merge (one transaction, read in line), committing only when it succeeds.
func writeBulk(t testing.TB, db *DB, bulk bool, name, body string) error {
	t.Helper()
	if !bulk {
		return merge(db, map[string]string{name: body})
	}
	p, err := db.BeginMerge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Collection(name, strings.NewReader(body)); err != nil {
		p.Abort()
		return err
	}
	return p.Commit(context.Background())
}

// sortedLines returns the records the database should hold for body: the last record
// of each id, in id order, each ending with a newline. ids are what each line holds.
func sortedLines(lines, ids []string) string {
	last := map[string]string{}
	for i, l := range lines {
		last[ids[i]] = l
	}
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(last[k] + "\n")
	}
	return sb.String()
}

func TestBulkWriteStoresEveryRecord(t *testing.T) {
	big := `{"id":"big","code":"` + strings.Repeat("y", 3*blockSize+17) + `"}`
	type tc struct {
		name  string
		lines []string
		ids   []string
		sep   string // between lines; the body has no newline at its end when trailing is false
		trail bool
	}
	var tests []tc
	// Ids in order, then out of order, with repeats: more than two batches.
	{
		var lines, ids []string
		for i := range 12000 {
			id := fmt.Sprintf("%06d", i)
			if i >= 6000 {
				id = fmt.Sprintf("%06d", 17999-i) // descending, into what is there
			}
			lines = append(lines, fmt.Sprintf(`{"id":"%s","n":%d,"text":"%s"}`, id, i, strings.Repeat("z", 1500)))
			ids = append(ids, id)
		}
		tests = append(tests, tc{"batches in and out of order", lines, ids, "\n", true})
	}
	tests = append(tests,
		tc{"records longer than a block", []string{`{"id":"a"}`, big, `{"id":"c"}`}, []string{"a", "big", "c"}, "\n", true},
		tc{"no newline at the end, empty lines", []string{`{"id":"b","v":1}`, `{"id":"a"}`, `{"id":"b","v":2}`}, []string{"b", "a", "b"}, "\n\n", false},
		tc{"ids with escapes or not first", []string{`{"id":"q\"uote"}`, `{"v":1,"id":"late"}`, `{"id":"\u0041"}`, ` {"id":"space"}`}, []string{`q"uote`, "late", "A", "space"}, "\n", true},
		tc{"carriage returns kept", []string{"{\"id\":\"cr\"}\r"}, []string{"cr"}, "\n", true},
	)
	for _, tt := range tests {
		for _, bulk := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/bulk=%v", tt.name, bulk), func(t *testing.T) {
				db := openTest(t)
				body := strings.Join(tt.lines, tt.sep)
				if tt.trail {
					body += "\n"
				}
				if err := writeBulk(t, db, bulk, "formats", body); err != nil {
					t.Fatal(err)
				}
				got, _ := dump(t, db)
				// The stored lines come back in key order, keyed by the id as
				// decoded; the escaped ids above sort the same either way.
				if want := sortedLines(tt.lines, tt.ids); got["formats"] != want {
					t.Fatalf("stored %d bytes, want %d:\n%.300q\nwant\n%.300q", len(got["formats"]), len(want), got["formats"], want)
				}
			})
		}
	}
}

func TestBulkWriteRefusesBadRecords(t *testing.T) {
	good := strings.Repeat(`{"id":"ok","text":"`+strings.Repeat("w", 900)+`"}`+"\n", 300) // spans blocks
	tests := []struct {
		name, rec, want string
	}{
		{"truncated", `{"id":"a"`, "record 302: not a JSON object"},
		{"empty id", `{"id":""}`, "record 302: id must be 1 to"},
		{"id a number", `{"id":1}`, `record 302: "id" is not a string`},
		{"an array", `[{"id":"a"}]`, "record 302: not a JSON object"},
		{"data after", `{"id":"a"} {}`, "record 302: not a JSON object"},
		{"control character", "{\"id\":\"a\x01\"}", "record 302: not a JSON object"},
		{"bad escape", `{"id":"a\x"}`, "record 302: not a JSON object"},
		{"id too long", `{"id":"` + strings.Repeat("i", 1025) + `"}`, "record 302: id must be 1 to 1024"},
		{"no id", `{"name":"a"}`, `record 302: no string "id"`},
	}
	for _, tt := range tests {
		for _, bulk := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/bulk=%v", tt.name, bulk), func(t *testing.T) {
				db := openTest(t)
				if err := writeBulk(t, db, bulk, "tags", `{"id":"kept"}`); err != nil {
					t.Fatal(err)
				}
				err := writeBulk(t, db, bulk, "formats", good+"\n"+tt.rec+"\n"+good)
				if !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), "collection formats "+tt.want) {
					t.Fatalf("got %v, want ErrBadRecord and %q", err, tt.want)
				}
				got, _ := dump(t, db)
				if len(got) != 1 || got["tags"] != `{"id":"kept"}`+"\n" {
					t.Fatalf("a refused write changed the database: %q", got)
				}
			})
		}
	}
}

// TestBulkLoadPacksPages: records put in id order fill their pages (a bulk load), the
// others leave the room that inserts in the middle of the tree need.
func TestBulkLoadPacksPages(t *testing.T) {
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("ordered=%v", ordered), func(t *testing.T) {
			db := openTest(t)
			var sb strings.Builder
			for i := range 20000 {
				n := i
				if !ordered {
					n = i * 7919 % 20000
				}
				fmt.Fprintf(&sb, `{"id":"%06d","text":"%s"}`+"\n", n, strings.Repeat("p", 80))
			}
			if err := writeBulk(t, db, true, "formats", sb.String()); err != nil {
				t.Fatal(err)
			}
			var st bolt.BucketStats
			var pageSize int
			err := db.view(func(tx *bolt.Tx) error {
				st = tx.Bucket([]byte("formats")).Stats()
				pageSize = tx.DB().Info().PageSize
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			fill := float64(st.LeafInuse) / float64(st.LeafPageN*pageSize)
			if ordered && fill < 0.9 || !ordered && fill > 0.8 {
				t.Fatalf("leaf pages %.0f%% full, %d pages", 100*fill, st.LeafPageN)
			}
		})
	}
}

// gatedReader gives one block of bytes, then blocks each read until gate is closed.
type gatedReader struct {
	first   bool
	started chan struct{} // closed when the second read begins
	gate    chan struct{}
	after   *atomic.Bool // set once cut returned
	late    atomic.Bool  // a read began after cut returned
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.after.Load() {
		g.late.Store(true)
	}
	if !g.first {
		g.first = true
		for i := range p {
			p[i] = 'x'
		}
		return len(p), nil
	}
	select {
	case <-g.started:
	default:
		close(g.started)
	}
	<-g.gate
	return copy(p, "more"), nil
}

// TestCutWaitsForItsReader: when put fails, cut returns only once the reading
// goroutine has left r, and it never reads r again.
func TestCutWaitsForItsReader(t *testing.T) {
	var returned atomic.Bool
	r := &gatedReader{started: make(chan struct{}), gate: make(chan struct{}), after: &returned}
	boom := errors.New("boom")
	done := make(chan error, 1)
	go func() {
		err := cut(&cutter{name: "x", r: r, line: 1}, newBlocks(true), true, func(*block) error {
			<-r.started // fail while the reader is inside r.Read
			return boom
		})
		returned.Store(true)
		done <- err
	}()
	<-r.started
	// Nothing can signal that cut goes on waiting: give a wrong one the time to
	// return early.
	select {
	case err := <-done:
		t.Fatalf("cut returned (%v) while its reader was still in r.Read", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(r.gate)
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("cut: %v, want put's error", err)
	}
	if r.late.Load() {
		t.Fatal("r was read after cut returned")
	}
}

// TestCutPassesReadErrors: a read error after some records reaches the caller after
// put saw the records.
func TestCutPassesReadErrors(t *testing.T) {
	bad := errors.New("connection reset")
	line := `{"id":"a","text":"` + strings.Repeat("t", 100) + `"}` + "\n"
	lines := blockSize/len(line) + 10
	for _, ahead := range []bool{true, false} {
		var seen int
		body := io.MultiReader(strings.NewReader(strings.Repeat(line, lines)), errReader{bad})
		err := cut(&cutter{name: "x", r: body, line: 1}, newBlocks(ahead), ahead, func(b *block) error {
			seen += len(b.recs)
			return nil
		})
		if !errors.Is(err, bad) || seen != lines {
			t.Fatalf("ahead=%v: %v after %d records, want %d", ahead, err, seen, lines)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestNewFilesHaveLargePages: a new database file, and the file an import into it
// builds, use pageSize.
func TestNewFilesHaveLargePages(t *testing.T) {
	db := openTest(t)
	if err := writeBulk(t, db, true, "formats", `{"id":"a"}`); err != nil {
		t.Fatal(err)
	}
	err := db.view(func(tx *bolt.Tx) error {
		if got := tx.DB().Info().PageSize; got != pageSize {
			t.Errorf("page size %d, want %d", got, pageSize)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
