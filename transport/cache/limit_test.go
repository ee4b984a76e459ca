package cache

import (
	"context"
	"errors"
	"io"
	"testing"

	"cairn/transport"
	"cairn/transport/mem"
)

// endlessLoads serves every object as a body without end (up to giveUp bytes, then an
// error, so that a reader without a bound fails instead of running out of memory).
type endlessLoads struct {
	transport.Backend
	read int64
}

const giveUp = 64 << 20

var errGaveUp = errors.New("the endless body gave up")

func (e *endlessLoads) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return fn(e)
}

func (e *endlessLoads) Read(p []byte) (int, error) {
	if e.read >= giveUp {
		return 0, errGaveUp
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestLimitHoldsThroughCache: a caller's size limit holds for a download through the
// cache, which neither reads past it nor keeps what it read.
func TestLimitHoldsThroughCache(t *testing.T) {
	under := &endlessLoads{Backend: mem.New()}
	c, err := New(under, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := handle("an index file")
	_, err = transport.LoadMax(context.Background(), c, h, 1<<20)
	if !errors.Is(err, transport.ErrTooLarge) || under.read > 1<<20+64<<10 {
		t.Fatalf("endless index file through the cache: %v after %d bytes; want ErrTooLarge after 1 MiB", err, under.read)
	}
	if _, ok := c.get(h); ok {
		t.Fatal("part of an object was cached")
	}
}
