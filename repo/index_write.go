package repo

import (
	"context"
	"fmt"

	"cairn/transport"
)

// indexFileChunks is how many chunks of uploaded packs make an index file before
// Flush: about 0.8 MiB of entries.
var indexFileChunks = 1 << 14 // a variable for tests

// writeIndex writes an index file for packs taken from r.unindex, and puts them back
// there if it fails (the next Flush tries again).
func (r *Repository) writeIndex(ctx context.Context, f indexFile) error {
	r.indexMu.Lock()
	defer r.indexMu.Unlock()
	names, err := r.saveIndex(ctx, f)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		for p, refs := range f {
			r.unindex[p] = refs
			r.unindexN += len(refs)
		}
		return err
	}
	r.copied.note(f)
	r.icache.note(names) // the packs' chunks went into the index when uploaded
	return nil
}

// SaveIndex writes an index file (more than one for more than maxIndexEntries chunks)
// and returns the name of the last.
func (r *Repository) SaveIndex(ctx context.Context, f indexFile) (ObjectID, error) {
	names, err := r.saveIndex(ctx, f)
	if len(names) == 0 {
		return ObjectID{}, err
	}
	return names[len(names)-1], err
}

// saveIndex is SaveIndex returning the names of all the files it saved.
func (r *Repository) saveIndex(ctx context.Context, f indexFile) ([]ObjectID, error) {
	var names []ObjectID
	for _, part := range splitIndex(f, maxIndexEntries) {
		data, err := encodeIndex(r.box, r.cfg.Format, part)
		if err != nil {
			return names, fmt.Errorf("write index: %w", err)
		}
		name := objectID(data)
		if err := r.save(ctx, transport.Handle{Kind: transport.Index, Name: name.String()}, data); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}
