package repo

import (
	"context"
	"testing"
	"time"

	"cairn/transport"
	"cairn/transport/faulty"
)

// TestOpenReadsIndexWhileDeriving: when the index cache has no copy of the
// repository's index, Open reads the index files while the key is derived, each file
// once; once the repository is pinned and its copy cached, Open reads none.
func TestOpenReadsIndexWhileDeriving(t *testing.T) {
	c := newCacheRepo(t, FormatVersion, true, "")
	names := indexNames(t, c.be)
	fb := faulty.New(c.be)
	loads := func() (each []int) {
		for _, n := range names {
			each = append(each, fb.CallsFor(faulty.Load, transport.Handle{Kind: transport.Index, Name: n}))
		}
		return each
	}
	all := func(each []int, want int) bool {
		for _, n := range each {
			if n != want {
				return false
			}
		}
		return true
	}
	var during []int // loads of each index file by the time the key was derived
	derive := func(pw string, salt []byte, p KDFParams) []byte {
		for end := time.Now().Add(5 * time.Second); !all(loads(), 1) && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		during = loads()
		return argon2Key(pw, salt, p)
	}
	opts := []Option{WithPassword("pw", KDFParams{}), withDerive(derive), WithIndexCache(t.TempDir()), WithPins(Pins{Dir: t.TempDir()})}
	r, err := Open(context.Background(), fb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !all(during, 1) {
		t.Fatalf("index files read while the key was derived: %v, want each once", during)
	}
	if after := loads(); !all(after, 1) {
		t.Fatalf("index files read by Open: %v, want each once", after)
	}
	sameIndexes(t, r.idx, c.open(t).idx)
	r.Release(context.Background())

	if _, err := Open(context.Background(), fb, opts...); err != nil {
		t.Fatal(err)
	}
	if after := loads(); !all(after, 1) {
		t.Fatalf("second open: index files read %v times, want none since the first", after)
	}
}
