package repo

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"

	"cairn/transport"
)

// hostile is storage as whoever holds it may serve it: a real repository (in memory)
// behind it, and for chosen objects a body of the test's making instead of theirs. It
// counts the loads of each kind.
type hostile struct {
	transport.Backend
	mu     sync.Mutex
	bodies map[transport.Handle]func() io.Reader
	loads  map[transport.Kind]int
}

func newHostile(be transport.Backend) *hostile {
	return &hostile{Backend: be, bodies: map[transport.Handle]func() io.Reader{}, loads: map[transport.Kind]int{}}
}

// serve makes loads of h read body() instead of the stored object.
func (s *hostile) serve(h transport.Handle, body func() io.Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies[h] = body
}

func (s *hostile) loaded(k transport.Kind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[k]
}

// Load implements transport.Backend.
func (s *hostile) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	s.mu.Lock()
	s.loads[h.Kind]++
	body := s.bodies[h]
	s.mu.Unlock()
	if body == nil {
		return s.Backend.Load(ctx, h, length, offset, fn)
	}
	return fn(body())
}

// giveUp is where an endless body stops, with errGaveUp: a reader without a bound
// then fails its test instead of exhausting the machine's memory.
const giveUp = 64 << 20

var errGaveUp = errors.New("the endless body gave up")

// endless is a body without end; read counts what was taken of it.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.read >= giveUp {
		return 0, errGaveUp
	}
	for i := range p {
		p[i] = '{'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// announced is a body that says it holds size bytes (as a Content-Length does).
type announced struct {
	io.Reader
	size int64
}

func (a announced) Size() int64 { return a.size }

// objectNames lists the stored objects of kind k, sorted.
func objectNames(t *testing.T, be transport.Backend, k transport.Kind) []string {
	t.Helper()
	var names []string
	if err := be.List(context.Background(), k, func(fi transport.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
