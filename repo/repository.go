// Package repo is cairn's repository format: the config, packs of compressed chunks,
// index files and snapshot manifests, stored through a transport.Backend. The format
// is written down in FORMAT.md beside this file.
package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"

	"cairn/chunk"
	"cairn/transport"
	"cairn/transport/count"
)

// Repository is an open repository. Saving chunks is safe for concurrent use; Flush
// makes everything saved so far durable (packs, then the index that names them).
type Repository struct {
	be      *count.Backend // the backend, counting the bytes moved
	cfg     Config
	idx     *Index
	box     *box       // nil in an unencrypted repository
	master  *masterKey // nil in an unencrypted repository
	keyName string     // the key slot the repository was opened with
	limits  readLimits // bounds on the objects it reads

	lock   *heldLock   // this handle's lock in locks/, if any
	timing LockTiming  // how locks are refreshed and judged
	proc   processInfo // this process, as locks name it

	loadedIndex []string            // the index files the in-memory index was loaded from
	copied      indexLog            // while a prune repacks: the packs of the index files written (under mu)
	indexMu     sync.Mutex          // one index file written at a time
	icache      indexCache          // the local copy of the loaded index, if kept
	prefetch    *indexPrefetch      // index files read while Open derived the key, for its index load
	streamSlots *semaphore.Weighted // streams of several runs open at once (streams.go); nil: no bound

	mu       sync.Mutex
	frame    *frameWriter          // the open frame
	pack     *packWriter           // the open pack
	inflight map[chunk.ID]struct{} // chunks in packs not yet uploaded
	unindex  indexFile             // packs uploaded since the last index file
	unindexN int                   // their chunks
	failed   error                 // set when a write failed; the handle must then be reopened

	uploads     sync.WaitGroup     // packs being uploaded
	uploadSlots chan struct{}      // bounds them
	uploadCtx   context.Context    // theirs: they outlive the call that started them
	stopUploads context.CancelFunc // cancels them when a Flush is cancelled

	comp *compressor // the zstd encoders of the frames it writes, and their level

	lists     listCache
	listStore ListStore       // optional local copies of list chunks
	listed    listedSnapshots // the manifests Snapshots loaded last
	// Buffers kept for reuse. Not sync.Pools: those are emptied by every collection,
	// and a backup collects several times a second, so its megabyte pack buffers were
	// allocated (and their pages faulted in) again and again.
	bufs freeList[*[]byte]
	// splitValues are the scratch of split frames' values (frame_split.go).
	splitValues freeList[*[]byte]
	packs       freeList[*packWriter]
	frames      freeList[*frameWriter]
}

func newRepository(be transport.Backend, cfg Config) *Repository {
	return newRepositoryOn(count.New(be), cfg)
}

// newRepositoryOn is newRepository on a backend that already counts its bytes.
func newRepositoryOn(be *count.Backend, cfg Config) *Repository {
	uploadCtx, stopUploads := context.WithCancel(context.Background())
	r := &Repository{be: be, cfg: cfg, idx: newIndex(cfg.Format >= formatNarrow), inflight: map[chunk.ID]struct{}{}, unindex: indexFile{},
		uploadCtx: uploadCtx, stopUploads: stopUploads,
		timing: LockTiming{}.withDefaults(), proc: currentProcess(),
		uploadSlots: make(chan struct{}, packUploads),
		bufs:        newFreeList[*[]byte](4),
		splitValues: newFreeList[*[]byte](encoderConcurrency() + 2),
		packs:       newFreeList[*packWriter](packUploads),
		frames:      newFreeList[*frameWriter](16)}
	r.comp = newCompressor(r.frameSize())
	if c := transport.ConnectionsOf(be); c > 0 {
		r.streamSlots = semaphore.NewWeighted(int64(c - 1))
	}
	return r
}

// Config returns the repository config.
func (r *Repository) Config() Config { return r.cfg }

// Location describes where the repository is.
func (r *Repository) Location() string { return r.be.Location() }

// Index returns the in-memory index.
func (r *Repository) Index() *Index { return r.idx }

// BytesWritten counts the bytes of packs, index files, manifests and locks saved
// through this handle so far (keys and the config are not counted).
func (r *Repository) BytesWritten() int64 {
	return r.be.Saved(transport.Data, transport.Index, transport.Snapshots, transport.Locks)
}

// BytesRead counts the bytes of packs, index files and manifests loaded through this
// handle so far, whole objects and ranges.
func (r *Repository) BytesRead() int64 {
	return r.be.Loaded(transport.Data, transport.Index, transport.Snapshots)
}

func (r *Repository) save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := r.be.Save(ctx, h, data); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	return nil
}

// loadAll reads a whole object of at most limit bytes.
func (r *Repository) loadAll(ctx context.Context, h transport.Handle, limit int64) ([]byte, error) {
	return loadAllFrom(ctx, r.be, h, limit)
}

// loadAllFrom is loadAll on be.
func loadAllFrom(ctx context.Context, be transport.Backend, h transport.Handle, limit int64) ([]byte, error) {
	data, err := transport.LoadMax(ctx, be, h, limit)
	if err != nil {
		if be.IsNotExist(err) {
			return nil, fmt.Errorf("load %s: %w", h, errors.Join(ErrNotFound, err))
		}
		return nil, fmt.Errorf("load %s: %w", h, tooLarge(err))
	}
	return data, nil
}
