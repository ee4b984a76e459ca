package repo

import (
	"fmt"
	"os"
	"path/filepath"

	"cairn/chunk"
	"cairn/transport/cache"
)

// ListStore keeps copies of list chunks outside the repository (a local cache of a
// remote one), so resolving a parent snapshot's lists costs no download. The
// repository checks every copy Get returns against its id before using it, on every
// path, so a truncated or foreign copy costs a download and nothing else.
type ListStore interface {
	Get(id chunk.ID) ([]byte, bool)
	Put(id chunk.ID, data []byte)
}

// SetListStore makes the repository read and keep list chunks in s.
func (r *Repository) SetListStore(s ListStore) { r.listStore = s }

// cachedList returns the stored copy of a list chunk when there is one and it is the
// chunk id names.
func (r *Repository) cachedList(id chunk.ID) ([]byte, bool) {
	if r.listStore == nil {
		return nil, false
	}
	data, ok := r.listStore.Get(id)
	if !ok || r.ChunkID(data) != id {
		return nil, false
	}
	return data, true
}

// DirListStore is a ListStore in a folder: one file per list chunk, named by its id.
type DirListStore struct{ Dir string }

// NewDirListStore returns the store of the repository's list chunks under root, in
// root/<repository id>. The id comes from storage: anything but 32 lowercase hex
// digits is refused, so it can never lead outside root.
func NewDirListStore(root string, cfg Config) (DirListStore, error) {
	if !validHex(cfg.ID, idLen) {
		return DirListStore{}, fmt.Errorf("list cache: repository id %q is not %d lowercase hex digits: %w", clip(cfg.ID), idLen, ErrDamaged)
	}
	return DirListStore{Dir: filepath.Join(root, cfg.ID)}, nil
}

// Get implements ListStore.
func (d DirListStore) Get(id chunk.ID) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(d.Dir, id.String()))
	if err != nil {
		return nil, false
	}
	return b, true
}

// Put implements ListStore: the copy is written whole or not at all (Get's caller
// checks it against its id, so it is not synced); a failure only costs a later
// download.
func (d DirListStore) Put(id chunk.ID, data []byte) {
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return
	}
	cache.WriteCopy(filepath.Join(d.Dir, id.String()), data)
}
