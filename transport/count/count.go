// Package count wraps a transport.Backend and counts the bytes that pass through it:
// the bytes of the objects saved, and the bytes the callbacks of Load read, by kind of
// object. The counters are atomic: one Backend serves any number of goroutines, and
// the getters may be called while calls are under way.
//
// A repository wraps the backend it was given and reads its totals from here (bytes
// stored by a backup, bytes received by a restore or a check):
//
//	cb := count.New(be)
//	... cb.Saved(transport.Data, transport.Index) ...
package count

import (
	"context"
	"io"
	"slices"
	"sync/atomic"

	"cairn/transport"
)

// Backend is the counting wrapper.
type Backend struct {
	transport.Backend
	saved, loaded [len(kinds)]atomic.Int64
}

var _ transport.Backend = (*Backend)(nil)

// kinds are the kinds counted apart; bytes of any other kind (which a valid handle
// never has) count under the last slot, "other".
var kinds = [...]transport.Kind{transport.Config, transport.Data, transport.Index, transport.Snapshots, transport.Keys, transport.Locks, ""}

// slot is the counter index of kind k.
func slot(k transport.Kind) int {
	if i := slices.Index(kinds[:len(kinds)-1], k); i >= 0 {
		return i
	}
	return len(kinds) - 1
}

// New wraps be.
func New(be transport.Backend) *Backend { return &Backend{Backend: be} }

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() transport.Backend { return b.Backend }

// Saved is the number of bytes of the objects of the given kinds (of every kind when
// none is given) saved so far. A save that failed counts nothing, though some of its
// bytes may have gone out.
func (b *Backend) Saved(k ...transport.Kind) int64 { return sum(&b.saved, k) }

// Loaded is the number of bytes of objects of the given kinds (of every kind when
// none is given) that the callbacks of Load have read so far, whether or not the load
// then succeeded.
func (b *Backend) Loaded(k ...transport.Kind) int64 { return sum(&b.loaded, k) }

func sum(c *[len(kinds)]atomic.Int64, ks []transport.Kind) int64 {
	var n int64
	if len(ks) == 0 {
		for i := range c {
			n += c[i].Load()
		}
		return n
	}
	for _, k := range ks {
		n += c[slot(k)].Load()
	}
	return n
}

// Save implements transport.Backend.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := b.Backend.Save(ctx, h, data); err != nil {
		return err
	}
	b.saved[slot(h.Kind)].Add(int64(len(data)))
	return nil
}

// Load implements transport.Backend: fn reads through a reader that counts, and that
// announces the same size as the one it reads from (transport.Sizer).
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	n := &b.loaded[slot(h.Kind)]
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&reader{r: rd, n: n})
	})
}

// reader counts the bytes read from r into n.
type reader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *reader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Size implements transport.Sizer: r's size, -1 when r does not say.
func (c *reader) Size() int64 {
	if s, ok := c.r.(transport.Sizer); ok {
		return s.Size()
	}
	return -1
}
