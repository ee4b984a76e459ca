package repo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

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

// LoadIndex reads every index file into memory. A file that vanishes meanwhile (a
// prune replaced it) makes it start over, once.
func (r *Repository) LoadIndex(ctx context.Context) error { return r.loadIndexFrom(ctx, nil) }

// loadIndexFrom is LoadIndex taking what was read of the files in read (by name)
// instead of reading them again.
func (r *Repository) loadIndexFrom(ctx context.Context, read map[string]prefetched) error {
	err := r.loadIndex(ctx, read)
	if errors.Is(err, ErrNotFound) {
		err = r.loadIndex(ctx, nil)
	}
	return err
}

func (r *Repository) loadIndex(ctx context.Context, read map[string]prefetched) error {
	names, err := r.IndexFiles(ctx)
	if err != nil {
		return err
	}
	// Index files are named by the hash of their bytes: one listed now and read
	// before has the bytes read then. Each is still opened (authenticated) below.
	have := make([]prefetched, len(names))
	for i, name := range names {
		have[i] = read[name]
	}
	clear(read)
	idx := newIndex(r.narrowIDs())
	load := &bulk{x: idx}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, name := range names {
		g.Go(func() error {
			h := transport.Handle{Kind: transport.Index, Name: name}
			data, err := have[i].data, have[i].err
			have[i] = prefetched{}
			switch {
			case err != nil:
				return fmt.Errorf("load %s: %w", h, tooLarge(err))
			case data == nil:
				if data, err = r.loadAll(gctx, h, r.limits.of(TypeIndex)); err != nil {
					return err
				}
			}
			// Decrypted in place and parsed straight into table entries: no copy of
			// the file is made but the decompressed payload.
			b, err := openObjectInPlace(r.box, data, TypeIndex)
			switch {
			case err != nil:
			case r.cfg.Format >= formatNarrow:
				err = walkCompactIndex(b, load.addRefs)
			default:
				err = walkIndex(b, load.addStored)
			}
			if err != nil {
				return fmt.Errorf("index %s: %w", name[:8], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	load.finish()
	r.idx = idx
	r.loadedIndex = names
	return nil
}

// indexPrefetch reads index files from storage in the background while Open reads
// the config, derives the key and takes its lock: none of that depends on them, and
// on a distant repository their round trips then overlap the key derivation. What it
// read is a hint: loadIndex lists the files again once the lock is held, takes the
// bytes read here for the names still listed, and opens every file as always.
type indexPrefetch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	files  map[string]prefetched // by name; complete once done is closed
}

// prefetched is what an indexPrefetch read of one file: its bytes, or the error
// saying it is larger than an index file may be (which its name, the hash of its
// bytes, keeps true), so that it is not read twice.
type prefetched struct {
	data []byte
	err  error // wraps transport.ErrTooLarge
}

// indexPrefetchBytes bounds the bytes an indexPrefetch holds: the files past it are
// read by loadIndex, four at a time, as they would be without it.
const indexPrefetchBytes = 16 << 20

// prefetchIndex starts reading the index files of be, in name order, up to
// indexPrefetchBytes (as listed) and at most limit bytes each. Errors but a file too
// large stop it quietly: loadIndex meets and reports them.
func prefetchIndex(ctx context.Context, be transport.Backend, limit int64) *indexPrefetch {
	ctx, cancel := context.WithCancel(ctx)
	p := &indexPrefetch{cancel: cancel, done: make(chan struct{}), files: map[string]prefetched{}}
	go func() {
		defer close(p.done)
		var files []transport.FileInfo
		if be.List(ctx, transport.Index, func(fi transport.FileInfo) error {
			files = append(files, fi)
			return nil
		}) != nil {
			return
		}
		slices.SortFunc(files, func(a, b transport.FileInfo) int { return cmp.Compare(a.Name, b.Name) })
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		budget := int64(indexPrefetchBytes)
		for _, fi := range files {
			if fi.Size > budget {
				continue
			}
			budget -= fi.Size
			g.Go(func() error {
				data, err := transport.LoadMax(gctx, be, transport.Handle{Kind: transport.Index, Name: fi.Name}, limit)
				if err != nil && !errors.Is(err, transport.ErrTooLarge) {
					return err
				}
				if int64(len(data)) > fi.Size {
					return nil // more than listed: not held here, past the budget
				}
				p.mu.Lock()
				p.files[fi.Name] = prefetched{data, err}
				p.mu.Unlock()
				return nil
			})
		}
		g.Wait()
	}()
	return p
}

// wait waits for the reads and returns what was read, by name.
func (p *indexPrefetch) wait() map[string]prefetched {
	<-p.done
	return p.files
}

// stop ends the reads and waits for them; the bytes read are let go.
func (p *indexPrefetch) stop() {
	p.cancel()
	<-p.done
	p.files = nil
}
