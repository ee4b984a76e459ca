package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"cairn/engine/localdb"
	"cairn/repo"
)

// RecordRef names a record: its collection and id.
type RecordRef struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// String is collection/id.
func (r RecordRef) String() string { return r.Collection + "/" + r.ID }

// MergeFunc writes into the local database in one transaction (localdb.DB.Merge or
// TryMerge).
type MergeFunc func(ctx context.Context, fn func(w *localdb.Writer) error) error

// RestoreRecords merges the records refs names, as snapshot sn holds them, into the
// local database with merge: those records are upserted by id, every other record
// stays as it is. It first reads them all (only the collections they are in, keeping
// only those records); if sn lacks any of them nothing is written and the error
// (repo.ErrNotFound) names them. Refs named twice are restored once. It returns the
// records restored, in the order given.
func RestoreRecords(ctx context.Context, r *repo.Repository, sn *repo.Snapshot, refs []RecordRef, merge MergeFunc) ([]RecordRef, error) {
	want := map[string]map[string][]byte{} // collection -> id -> record (nil until found)
	var order []string
	var uniq []RecordRef
	for _, ref := range refs {
		ids := want[ref.Collection]
		if ids == nil {
			ids = map[string][]byte{}
			want[ref.Collection] = ids
			order = append(order, ref.Collection)
		}
		if _, dup := ids[ref.ID]; !dup {
			ids[ref.ID] = nil
			uniq = append(uniq, ref)
		}
	}
	for _, name := range order {
		if _, err := Collection(sn, name); err != nil {
			return nil, err
		}
	}
	for _, name := range order {
		c, _ := Collection(sn, name)
		ids := want[name]
		left := len(ids)
		err := Records(ctx, r, c, func(line []byte) error {
			rec := bytes.TrimSuffix(line, []byte{'\n'})
			id := RecordID(rec)
			if v, ok := ids[id]; ok && v == nil {
				ids[id] = bytes.Clone(rec)
				if left--; left == 0 {
					return errFound
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return nil, fmt.Errorf("restore records: read %s/%s: %w", sn.ID, name, err)
		}
	}
	var missing []string
	for _, ref := range uniq {
		if want[ref.Collection][ref.ID] == nil {
			missing = append(missing, fmt.Sprintf("%q", ref.String()))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("snapshot %s has no record %s: %w", sn.ID, strings.Join(missing, ", "), repo.ErrNotFound)
	}
	err := merge(ctx, func(w *localdb.Writer) error {
		for _, name := range order {
			var lines bytes.Buffer
			for _, ref := range uniq {
				if ref.Collection == name {
					lines.Write(want[name][ref.ID])
					lines.WriteByte('\n')
				}
			}
			if err := w.Collection(name, &lines); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore records into the database: %w", err)
	}
	return uniq, nil
}
