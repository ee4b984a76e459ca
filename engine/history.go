package engine

import (
	"context"
	"fmt"
	"time"

	"cairn/repo"
)

// Unchanged marks a version the same as the one before it in a history.
const Unchanged = "unchanged"

// Version is a record as one snapshot holds it.
type Version struct {
	Snapshot string    `json:"snapshot"`
	Time     time.Time `json:"time"`
	Change   string    `json:"change"` // Added, Changed, Removed or Unchanged, against the snapshot before
	Bytes    int64     `json:"bytes"`  // 0 when removed
	Hash     string    `json:"hash"`   // BLAKE3 of the record's bytes (without the newline), hex; empty when removed
}

// History follows one record through the whole-database snapshots of snaps, oldest
// first: one version for each snapshot that holds it, and a removed one for the
// first snapshot without it after one with it. Snapshots of other kinds (assets) are
// skipped: a record they lack was not removed. It reads each chunk once
// (chunkScanner): the chunks a snapshot shares with one before it are not read
// again. A record no snapshot holds is repo.ErrNotFound.
func History(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, collection, id string) ([]Version, error) {
	s := newChunkScanner(r, func(_, rid string, _ []byte) bool { return rid == id })
	var out []Version
	var prev *recordHit
	for _, sn := range snaps {
		if sn.Kind != repo.KindDatabase {
			continue
		}
		cur, err := findIn(ctx, r, s, sn, collection)
		if err != nil {
			return nil, err
		}
		v := Version{Snapshot: sn.ID, Time: sn.Time.UTC()}
		switch {
		case cur == nil && prev == nil:
			continue
		case cur == nil:
			v.Change = Removed
		case prev == nil:
			v.Change = Added
		case prev.Hash != cur.Hash:
			v.Change = Changed
		default:
			v.Change = Unchanged
		}
		if cur != nil {
			v.Bytes, v.Hash = cur.Size, cur.Hash.String()
		}
		out = append(out, v)
		prev = cur
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no snapshot holds record %q in %s: %w", id, collection, repo.ErrNotFound)
	}
	return out, nil
}

// findIn returns the first record the scanner matches in a collection of sn; nil when
// sn lacks the collection or the record.
func findIn(ctx context.Context, r *repo.Repository, s *chunkScanner, sn *repo.Snapshot, collection string) (*recordHit, error) {
	c, err := Collection(sn, collection)
	if err != nil {
		return nil, nil
	}
	l, err := r.LoadList(ctx, c.List, nil)
	if err != nil {
		return nil, fmt.Errorf("history in %s/%s: %w", sn.ID, collection, err)
	}
	var found *recordHit
	err = s.collection(ctx, collection, l.Chunks, func(h recordHit) error {
		if found == nil {
			found = &h
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history in %s/%s: %w", sn.ID, collection, err)
	}
	return found, nil
}
