package engine

import (
	"context"
	"fmt"

	"cairn/repo"
)

// MaxFound is the most records Find gives.
const MaxFound = 200

// FoundRecord is a record Find matched and the snapshots that hold a matching
// version of it, oldest first.
type FoundRecord struct {
	Collection string   `json:"collection"`
	ID         string   `json:"id"`
	Snapshots  []string `json:"snapshots"`
	First      string   `json:"first"`
	Last       string   `json:"last"`
}

// FindResult is what Find found.
type FindResult struct {
	Records   []FoundRecord `json:"records"`
	Truncated bool          `json:"truncated,omitempty"` // more than MaxFound records matched
}

type recordKey struct{ collection, id string }

// Find looks for records matching query (Query: by id or text) in every snapshot,
// oldest first, and gives each at most MaxFound of them with the snapshots that hold
// it. It reads each chunk once (chunkScanner): a chunk an earlier snapshot shares is
// not read again. Once MaxFound records are found, records not among them no longer
// match, so that what the scanner remembers of each chunk stays within those records.
func Find(ctx context.Context, r *repo.Repository, snaps []*repo.Snapshot, query string) (FindResult, error) {
	q := NewQuery(query)
	res := FindResult{Records: []FoundRecord{}}
	index := map[recordKey]int{}
	match := func(collection, id string, rec []byte) bool {
		if len(index) >= MaxFound {
			if _, ok := index[recordKey{collection, id}]; !ok {
				if q.Match(id, rec) {
					res.Truncated = true
				}
				return false
			}
		}
		return q.Match(id, rec)
	}
	s := newChunkScanner(r, match)
	for _, sn := range snaps {
		cols, err := r.Resolve(ctx, sn)
		if err != nil {
			return FindResult{}, fmt.Errorf("find in %s: %w", sn.ID, err)
		}
		for _, c := range cols {
			err := s.collection(ctx, c.Name, c.Chunks, func(h recordHit) error {
				k := recordKey{c.Name, h.ID}
				i, ok := index[k]
				if !ok {
					if len(index) >= MaxFound {
						res.Truncated = true
						return nil
					}
					i = len(res.Records)
					index[k] = i
					res.Records = append(res.Records, FoundRecord{Collection: c.Name, ID: h.ID, First: sn.ID})
				}
				f := &res.Records[i]
				if n := len(f.Snapshots); n == 0 || f.Snapshots[n-1] != sn.ID {
					f.Snapshots = append(f.Snapshots, sn.ID)
				}
				f.Last = sn.ID
				return nil
			})
			if err != nil {
				return FindResult{}, fmt.Errorf("find in %s/%s: %w", sn.ID, c.Name, err)
			}
		}
	}
	return res, nil
}
