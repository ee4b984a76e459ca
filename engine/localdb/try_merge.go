package localdb

import (
	"context"
	"errors"

	berrors "go.etcd.io/bbolt/errors"
)

// ErrBusy means another writer (an import, a restore) holds the database.
var ErrBusy = errors.New("the local database is being written by an import or a restore")

// TryMerge is Merge when no other writer holds the database, and ErrBusy without
// waiting when one does: a small merge asked for while an import or a restore is in
// flight is refused rather than queued behind it.
func (d *DB) TryMerge(ctx context.Context, fn func(w *Writer) error) error {
	select {
	case <-d.closed:
		return ErrClosed
	default:
	}
	select {
	case d.writer <- struct{}{}:
	default:
		return ErrBusy
	}
	return d.mergeLocked(ctx, fn)
}

// IsLocked reports whether Open failed because another process has the database file
// open (its file lock, held for as long as a cairn serve runs on it).
func IsLocked(err error) bool { return errors.Is(err, berrors.ErrTimeout) }
