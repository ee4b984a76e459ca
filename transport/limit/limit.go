// Package limit caps the bandwidth a transport.Backend uses, upload and download
// separately, shared by every goroutine using it (so parallel connections together stay
// under the limit).
package limit

import (
	"context"
	"io"
	"sync"
	"time"

	"cairn/transport"
)

// bucket hands out bytes at a steady rate, allowing a burst of one second's worth.
type bucket struct {
	mu    sync.Mutex
	rate  float64 // bytes per second
	next  time.Time
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newBucket(rate int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *bucket {
	return &bucket{rate: float64(rate), now: now, sleep: sleep}
}

// take waits until n bytes may pass.
func (b *bucket) take(ctx context.Context, n int) error {
	if b == nil || n <= 0 {
		return nil
	}
	b.mu.Lock()
	now := b.now()
	if earliest := now.Add(-time.Second); b.next.Before(earliest) {
		b.next = earliest // unused time is kept for one second at most
	}
	b.next = b.next.Add(time.Duration(float64(n) / b.rate * float64(time.Second)))
	wait := b.next.Sub(now)
	b.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return b.sleep(ctx, wait)
}

// Backend is the limiting wrapper.
type Backend struct {
	transport.Backend
	up, down *bucket
}

var _ transport.Backend = (*Backend)(nil)

// Unwrap returns the wrapped backend.
func (b *Backend) Unwrap() transport.Backend { return b.Backend }

// New wraps b; a limit of 0 means none. Limits are in bytes per second.
func New(b transport.Backend, upload, download int64) *Backend {
	return newWithClock(b, upload, download, time.Now, transport.Sleep)
}

func newWithClock(b transport.Backend, upload, download int64, now func() time.Time, sleep func(context.Context, time.Duration) error) *Backend {
	l := &Backend{Backend: b}
	if upload > 0 {
		l.up = newBucket(upload, now, sleep)
	}
	if download > 0 {
		l.down = newBucket(download, now, sleep)
	}
	return l
}

// Save implements transport.Backend: it waits until the object's bytes may be sent.
func (l *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := l.up.take(ctx, len(data)); err != nil {
		return err
	}
	return l.Backend.Save(ctx, h, data)
}

// Load implements transport.Backend: reads are paced.
func (l *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if l.down == nil {
		return l.Backend.Load(ctx, h, length, offset, fn)
	}
	return l.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		return fn(&pacedReader{ctx: ctx, r: rd, b: l.down})
	})
}

type pacedReader struct {
	ctx context.Context
	r   io.Reader
	b   *bucket
}

func (p *pacedReader) Read(buf []byte) (int, error) {
	if len(buf) > 64<<10 {
		buf = buf[:64<<10]
	}
	n, err := p.r.Read(buf)
	if werr := p.b.take(p.ctx, n); werr != nil && err == nil {
		err = werr
	}
	return n, err
}
