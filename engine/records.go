package engine

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"cairn/chunk"
	"cairn/chunk/record"
	"cairn/repo"
)

// Records calls fn for every record of a collection, in order, with the record's bytes
// (newline included when present). rec is valid only during fn.
func Records(ctx context.Context, r *repo.Repository, c repo.Collection, fn func(rec []byte) error) error {
	l, err := r.LoadList(ctx, c.List, nil)
	if err != nil {
		return err
	}
	return records(ctx, r, l.Chunks, fn)
}

// records calls fn for every record held by the chunks ids, in order.
func records(ctx context.Context, r *repo.Repository, ids []chunk.ID, fn func(rec []byte) error) error {
	var partial []byte
	err := r.LoadChunks(ctx, ids, func(_ int, data []byte) error {
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				partial = append(partial, data...)
				return nil
			}
			line := data[:i+1]
			data = data[i+1:]
			if len(partial) > 0 {
				partial = append(partial, line...)
				line = partial
			}
			if err := fn(line); err != nil {
				return err
			}
			partial = partial[:0]
		}
		return nil
	})
	if err == nil && len(partial) > 0 {
		err = fn(partial)
	}
	return err
}

// RecordID is the printable key of a record: its id, or for records without one the
// short hash of its bytes, marked with "#". An id written with escapes is given
// decoded; one whose escapes are not valid JSON is given as written.
func RecordID(rec []byte) string {
	key, ok := record.Key(rec)
	if !ok {
		return "#" + chunk.Hash(rec).Short()
	}
	if id, err := record.Unescape(key); err == nil {
		return id
	}
	return string(key)
}

// Collection finds a collection of a snapshot by name.
func Collection(sn *repo.Snapshot, name string) (repo.Collection, error) {
	for _, c := range sn.Collections {
		if c.Name == name {
			return c, nil
		}
	}
	return repo.Collection{}, fmt.Errorf("snapshot %s has no collection %q: %w", sn.ID, name, repo.ErrNotFound)
}

// Change kinds in a diff.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// RecordChange is one record that differs between two snapshots.
type RecordChange struct {
	ID       string `json:"id"`
	Change   string `json:"change"`
	OldBytes int64  `json:"old_bytes"`
	NewBytes int64  `json:"new_bytes"`
}

// CollectionDiff sums the changes of one collection.
type CollectionDiff struct {
	Name         string         `json:"name"`
	Added        int            `json:"added"`
	Removed      int            `json:"removed"`
	Changed      int            `json:"changed"`
	AddedBytes   int64          `json:"added_bytes"`
	RemovedBytes int64          `json:"removed_bytes"`
	ChangedBytes int64          `json:"changed_bytes"` // new size of the changed records
	Records      []RecordChange `json:"records"`
}

type recInfo struct {
	hash chunk.ID
	size int64
}

// Diff compares two snapshots record by record. Collections whose chunk lists are
// equal are not read at all.
func Diff(ctx context.Context, r *repo.Repository, a, b *repo.Snapshot) ([]CollectionDiff, error) {
	ra, err := r.Resolve(ctx, a)
	if err != nil {
		return nil, err
	}
	rb, err := r.Resolve(ctx, b)
	if err != nil {
		return nil, err
	}
	names := []string{}
	seen := map[string]bool{}
	for _, sn := range []*repo.Snapshot{a, b} {
		for _, c := range sn.Collections {
			if !seen[c.Name] {
				seen[c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	slices.Sort(names)
	out := []CollectionDiff{}
	for _, name := range names {
		ca, cb := chunksOf(ra, name), chunksOf(rb, name) // nil where a snapshot lacks it
		if slices.Equal(ca, cb) {
			continue
		}
		old, err := recordMap(ctx, r, ca)
		if err != nil {
			return nil, err
		}
		d := CollectionDiff{Name: name, Records: []RecordChange{}}
		err = forEachKeyed(ctx, r, cb, func(key string, info recInfo) error {
			prev, ok := old[key]
			switch {
			case !ok:
				d.Added++
				d.AddedBytes += info.size
				d.Records = append(d.Records, RecordChange{ID: key, Change: Added, NewBytes: info.size})
			case prev.hash != info.hash:
				d.Changed++
				d.ChangedBytes += info.size
				d.Records = append(d.Records, RecordChange{ID: key, Change: Changed, OldBytes: prev.size, NewBytes: info.size})
			}
			delete(old, key)
			return nil
		})
		if err != nil {
			return nil, err
		}
		for key, info := range old {
			d.Removed++
			d.RemovedBytes += info.size
			d.Records = append(d.Records, RecordChange{ID: key, Change: Removed, OldBytes: info.size})
		}
		slices.SortFunc(d.Records, func(x, y RecordChange) int { return strings.Compare(x.ID, y.ID) })
		if d.Added+d.Removed+d.Changed > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// chunksOf returns the chunk ids of the collection called name, nil when there is none.
func chunksOf(cols []repo.ResolvedCollection, name string) []chunk.ID {
	for _, c := range cols {
		if c.Name == name {
			return c.Chunks
		}
	}
	return nil
}

func recordMap(ctx context.Context, r *repo.Repository, ids []chunk.ID) (map[string]recInfo, error) {
	m := map[string]recInfo{}
	err := forEachKeyed(ctx, r, ids, func(key string, info recInfo) error {
		m[key] = info
		return nil
	})
	return m, err
}

// forEachKeyed gives each record a unique key: its RecordID, with "~n" added for the
// n-th repeat of the same id.
func forEachKeyed(ctx context.Context, r *repo.Repository, ids []chunk.ID, fn func(string, recInfo) error) error {
	repeats := map[string]int{}
	return records(ctx, r, ids, func(rec []byte) error {
		key := RecordID(rec)
		if n := repeats[key]; n > 0 {
			repeats[key] = n + 1
			key = fmt.Sprintf("%s~%d", key, n)
		} else {
			repeats[key] = 1
		}
		return fn(key, recInfo{hash: chunk.Hash(rec), size: int64(len(rec))})
	})
}
