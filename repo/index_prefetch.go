package repo

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sync/errgroup"

	"cairn/transport"
)

// Opening an encrypted repository derives the password's key (argon2id: about 0.1 s
// of two cores) before anything it reads can be opened. When the local index cache
// cannot hold the repository's index (there is none, or no copy for the repository
// pinned at the location), every index file will be read: Open downloads them while
// the key is derived, and the index load takes them from memory. They are checked as
// any index file is when they are opened, and a file the prefetch failed to read fails
// the load as it would have. At most maxPrefetch bytes are held this way.
const maxPrefetch = 32 << 20

// indexPrefetch is the index files downloaded ahead of the index load.
type indexPrefetch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	listed chan struct{} // closed once files holds every file the prefetch reads

	mu    sync.Mutex
	files map[string]*prefetched
}

// prefetched is one index file on its way: data, or err, is set when done is closed.
type prefetched struct {
	done chan struct{}
	data []byte
	err  error
}

// prefetchIndex starts downloading the index files when the index cache cannot hold
// the repository's index: there is no cache, or the repository pinned at the location
// has no copy in it. Without pins, which repository the location holds is not known
// before its config is opened, and nothing is prefetched.
func (o options) prefetchIndex(ctx context.Context, be transport.Backend) *indexPrefetch {
	if o.icache != "" {
		if o.pins == nil {
			return nil
		}
		pn, ok, err := o.pins.load(be.Location())
		if err != nil {
			return nil
		}
		if ok && validHex(pn.ID, idLen) && littleEndian() {
			if _, err := os.Stat(filepath.Join(o.icache, pn.ID)); err == nil {
				return nil
			}
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &indexPrefetch{cancel: cancel, listed: make(chan struct{}), files: map[string]*prefetched{}}
	limit := o.limits.of(TypeIndex)
	p.wg.Go(func() {
		var names []string
		var total int64
		err := be.List(ctx, transport.Index, func(fi transport.FileInfo) error {
			if total += fi.Size; total <= maxPrefetch {
				names = append(names, fi.Name)
			}
			return nil
		})
		if err != nil {
			names = nil
		}
		fs := make([]*prefetched, len(names))
		for i, name := range names {
			fs[i] = &prefetched{done: make(chan struct{})}
			p.files[name] = fs[i]
		}
		close(p.listed)
		g := new(errgroup.Group)
		g.SetLimit(4)
		for i, name := range names {
			f := fs[i]
			g.Go(func() error {
				defer close(f.done)
				f.data, f.err = loadAllFrom(ctx, be, transport.Handle{Kind: transport.Index, Name: name}, limit)
				return nil
			})
		}
		g.Wait()
	})
	return p
}

// take returns the bytes of index file name once downloaded, or why they could not be,
// and forgets them; false when the prefetch did not read it.
func (p *indexPrefetch) take(name string) ([]byte, error, bool) {
	if p == nil {
		return nil, nil, false
	}
	<-p.listed
	p.mu.Lock()
	f := p.files[name]
	delete(p.files, name)
	p.mu.Unlock()
	if f == nil {
		return nil, nil, false
	}
	<-f.done
	return f.data, f.err, true
}

// stop ends the prefetch and lets go of what the load did not take.
func (p *indexPrefetch) stop() {
	if p == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	p.files = nil
	p.mu.Unlock()
}
