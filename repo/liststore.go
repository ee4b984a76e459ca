package repo

import (
	"os"
	"path/filepath"

	"cairn/chunk"
)

// ListStore keeps copies of list chunks outside the repository (a local cache of a
// remote one), so resolving a parent snapshot's lists costs no download.
type ListStore interface {
	Get(id chunk.ID) ([]byte, bool)
	Put(id chunk.ID, data []byte)
}

// SetListStore makes the repository read and keep list chunks in s.
func (r *Repository) SetListStore(s ListStore) { r.listStore = s }

// DirListStore is a ListStore in a folder: one file per list chunk, named by its id.
// The repository checks what Get returns against the id before using it.
type DirListStore struct{ Dir string }

// Get implements ListStore.
func (d DirListStore) Get(id chunk.ID) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(d.Dir, id.String()))
	if err != nil {
		return nil, false
	}
	return b, true
}

// Put implements ListStore; a failure only costs a later download.
func (d DirListStore) Put(id chunk.ID, data []byte) {
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(d.Dir, ".tmp-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(d.Dir, id.String()))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}
