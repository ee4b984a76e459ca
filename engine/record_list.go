package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"cairn/repo"
)

// RecordSummary is one record of a listing.
type RecordSummary struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Bytes      int64  `json:"bytes"`
	Preview    string `json:"preview"`
}

// ListOptions choose the records ListRecords gives.
type ListOptions struct {
	Collection string // only this collection; all when empty
	Query      string // only records that match it (Query); all when empty
	Offset     int    // skip this many matches
	Limit      int    // give at most this many
}

// RecordPage is a page of matching records.
type RecordPage struct {
	Total   int             // every matching record of the snapshot
	Records []RecordSummary // those from Offset, at most Limit
}

// ListRecords reads a snapshot's records, collection by collection in the manifest's
// order, and returns the page of those that match. It keeps only the page: memory
// grows with Limit, not with the snapshot. With a query it reads every record to
// count the matches; without one the manifest's record counts give the total, and it
// reads no further than the end of the page.
func ListRecords(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, opt ListOptions) (RecordPage, error) {
	cols := sn.Collections
	if opt.Collection != "" {
		c, err := Collection(sn, opt.Collection)
		if err != nil {
			return RecordPage{}, err
		}
		cols = []repo.Collection{c}
	}
	q := NewQuery(opt.Query)
	page := RecordPage{Records: []RecordSummary{}}
	var counted int64 // the manifest's count, for a listing without a query
	for _, c := range cols {
		counted += max(c.Records, 0)
	}
	for _, c := range cols {
		err := Records(ctx, r, c, func(line []byte) error {
			rec := bytes.TrimSuffix(line, []byte{'\n'})
			id := RecordID(rec)
			if !q.Match(id, rec) {
				return nil
			}
			if page.Total >= opt.Offset && len(page.Records) < opt.Limit {
				page.Records = append(page.Records, RecordSummary{Collection: c.Name, ID: id, Bytes: int64(len(rec)), Preview: Preview(rec)})
			}
			page.Total++
			if opt.Query == "" && len(page.Records) == opt.Limit {
				return errFound // the page is full; the manifest gives the total
			}
			return nil
		})
		if errors.Is(err, errFound) {
			page.Total = max(page.Total, int(min(counted, 1<<40)))
			return page, nil
		}
		if err != nil {
			return RecordPage{}, fmt.Errorf("list records of %s/%s: %w", sn.ID, c.Name, err)
		}
	}
	return page, nil
}

// errFound stops a read once the record sought is found.
var errFound = errors.New("found")

// Record returns the bytes (without the newline) of the record called id in a
// collection of a snapshot, reading no further than it. A snapshot without that
// collection or record is repo.ErrNotFound.
func Record(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, collection, id string) ([]byte, error) {
	c, err := Collection(sn, collection)
	if err != nil {
		return nil, err
	}
	var found []byte
	err = Records(ctx, r, c, func(line []byte) error {
		rec := bytes.TrimSuffix(line, []byte{'\n'})
		if RecordID(rec) != id {
			return nil
		}
		found = bytes.Clone(rec)
		return errFound
	})
	switch {
	case errors.Is(err, errFound):
		return found, nil
	case err != nil:
		return nil, fmt.Errorf("read record %s/%s of %s: %w", collection, id, sn.ID, err)
	}
	return nil, fmt.Errorf("snapshot %s has no record %q in %s: %w", sn.ID, id, collection, repo.ErrNotFound)
}
