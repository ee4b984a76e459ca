package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"cairn/transport"
)

// IndexFiles lists the names of the index files.
func (r *Repository) IndexFiles(ctx context.Context) ([]string, error) {
	var names []string
	err := r.be.List(ctx, transport.Index, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list index files: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// LoadIndex reads every index file into memory (with WithIndexCache, those the local
// cache lacks). A file that vanishes meanwhile (a prune replaced it) makes it start
// over, once.
func (r *Repository) LoadIndex(ctx context.Context) error {
	err := r.loadIndex(ctx, true)
	if errors.Is(err, ErrNotFound) {
		err = r.loadIndex(ctx, true)
	}
	return err
}

func (r *Repository) loadIndex(ctx context.Context, cached bool) error {
	names, err := r.IndexFiles(ctx)
	if err != nil {
		return err
	}
	if cached {
		if hit, err := r.loadCachedIndex(ctx, names); hit || err != nil {
			return err
		}
	}
	idx := newIndex(r.narrowIDs())
	load := &bulk{x: idx}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, name := range names {
		g.Go(func() error { return r.readIndexFile(gctx, name, load.addRefs, load.addStored) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	load.finish()
	r.installIndex(idx, names)
	r.saveIndexCache(names)
	return nil
}

// installIndex makes idx, loaded from the index files names, the handle's index.
func (r *Repository) installIndex(idx *Index, names []string) {
	r.idx = idx
	r.loadedIndex = names
	r.icache.takeWritten() // those are in names now, or were loaded no more
}

// readIndexFile reads one index file and hands its packs' entries to addRefs (format 2)
// or addStored (format 1).
func (r *Repository) readIndexFile(ctx context.Context, name string, addRefs func(ObjectID, []BlobRef), addStored func(ObjectID, []byte)) error {
	data, err, ok := r.prefetch.take(name)
	if !ok {
		data, err = r.loadAll(ctx, transport.Handle{Kind: transport.Index, Name: name}, r.limits.of(TypeIndex))
	}
	if err != nil {
		return err
	}
	// Decrypted in place and parsed straight into table entries: no copy of the file
	// is made but the decompressed payload.
	b, err := openObjectInPlace(r.box, data, TypeIndex)
	switch {
	case err != nil:
	case r.cfg.Format >= formatNarrow:
		err = walkCompactIndex(b, addRefs)
	default:
		err = walkIndex(b, addStored)
	}
	if err != nil {
		return fmt.Errorf("index %s: %w", name[:8], err)
	}
	return nil
}
