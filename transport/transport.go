// Package transport is the small storage interface a cairn repository sits on.
//
// A Backend stores opaque, immutable objects grouped by Kind. Implementations live in
// sub-packages (local, mem, and later rest and s3); behaviour that cuts across them
// (fault injection, retries, limits, byte counting) wraps a Backend rather than living
// inside each one.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Kind groups the objects of a repository.
type Kind string

// The kinds of object a repository holds.
const (
	Config    Kind = "config"    // the single repository config object, Name is empty
	Data      Kind = "data"      // pack files
	Index     Kind = "index"     // index files
	Snapshots Kind = "snapshots" // snapshot manifests
	Keys      Kind = "keys"      // key slots (reserved for encryption)
	Locks     Kind = "locks"     // lock objects
)

// Kinds lists every kind that List accepts, in a stable order.
var Kinds = []Kind{Config, Data, Index, Snapshots, Keys, Locks}

// Handle names one object.
type Handle struct {
	Kind Kind
	Name string
}

func (h Handle) String() string {
	if h.Kind == Config {
		return string(h.Kind)
	}
	return string(h.Kind) + "/" + h.Name
}

// Valid reports whether the handle names an object a backend may store. Names are
// lowercase hexadecimal strings of at least 8 characters, which keeps every backend
// free of path tricks ("../", separators, empty names).
func (h Handle) Valid() error {
	switch h.Kind {
	case Config:
		if h.Name != "" {
			return fmt.Errorf("invalid handle %q: config takes no name", h.String())
		}
		return nil
	case Data, Index, Snapshots, Keys, Locks:
	default:
		return fmt.Errorf("invalid handle: unknown kind %q", h.Kind)
	}
	if len(h.Name) < 8 || len(h.Name) > 128 {
		return fmt.Errorf("invalid handle %q: name must be 8 to 128 hex digits", h.String())
	}
	for _, c := range h.Name {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("invalid handle %q: name must be lowercase hex", h.String())
		}
	}
	return nil
}

// FileInfo describes a stored object.
type FileInfo struct {
	Name string
	Size int64
}

// Backend stores and loads whole objects. All methods are safe for concurrent use.
type Backend interface {
	// Location is a printable description of where the objects live, never with credentials.
	Location() string
	// Save stores data under h. Saving an object that already exists with the same
	// content succeeds; objects are never modified in place.
	Save(ctx context.Context, h Handle, data []byte) error
	// Load calls fn with a reader over length bytes of the object starting at offset.
	// length 0 means up to the end. fn is called once at most, and must not keep the
	// reader after it returns; its error is returned as it is.
	// A missing object gives an error for which IsNotExist is true.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(rd io.Reader) error) error
	// Stat returns the size of an object.
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	// List calls fn for every object of kind k, in no particular order, in the caller's goroutine.
	// An error from fn stops the listing and is returned.
	List(ctx context.Context, k Kind, fn func(FileInfo) error) error
	// Remove deletes an object. Removing a missing object gives an IsNotExist error.
	Remove(ctx context.Context, h Handle) error
	// IsNotExist reports whether err means the object does not exist.
	IsNotExist(err error) bool
	// IsPermanent reports whether err will not go away by retrying.
	IsPermanent(err error) bool
	// Close releases the backend's resources.
	Close() error
}

// ErrNotExist is the sentinel every backend wraps for a missing object.
var ErrNotExist = errors.New("object does not exist")

// NotExist wraps ErrNotExist with the handle that was asked for.
func NotExist(h Handle) error {
	return fmt.Errorf("%s: %w", h, ErrNotExist)
}

// LoadAll reads a whole object into memory, whatever its size. Objects read from a
// repository, which whoever holds the storage can make as large as they like, are
// read with LoadMax instead.
func LoadAll(ctx context.Context, b Backend, h Handle) ([]byte, error) {
	var data []byte
	err := b.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		data, err = ReadAll(rd)
		return err
	})
	return data, err
}

// ErrTooLarge means an object holds more bytes than its reader takes of its kind.
var ErrTooLarge = errors.New("too large for cairn to read")

// MaxList is the most objects of one kind a listing of a remote backend reports: about
// 8 TiB of packs of the default size. A server that lists more fails the listing, so
// it cannot make a client collect names without end.
const MaxList = 1 << 21

// LoadMax reads a whole object into memory, up to limit bytes. An object whose reader
// announces more (a response's Content-Length, a file's size) fails before any byte is
// read; one that sends more fails as soon as limit is passed, without reading the rest.
// Either way the error wraps ErrTooLarge.
func LoadMax(ctx context.Context, b Backend, h Handle, limit int64) ([]byte, error) {
	var data []byte
	err := b.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		data, err = ReadAllMax(rd, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// ReadAllMax is ReadAll for at most limit bytes: a reader that announces or holds more
// fails with an error wrapping ErrTooLarge, having read at most limit+1 bytes.
func ReadAllMax(rd io.Reader, limit int64) ([]byte, error) {
	if s, ok := rd.(Sizer); ok {
		switch size := s.Size(); {
		case size > limit:
			return nil, TooLarge(size, limit)
		case size >= 0 && size <= maxSized:
			return ReadAll(rd) // exactly size bytes, and fails if more follow
		}
	}
	lr := &io.LimitedReader{R: rd, N: limit + 1}
	data, err := io.ReadAll(lr)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, TooLarge(-1, limit)
	}
	return data, nil
}

// TooLarge is the error of an object of size bytes (negative: unknown, it went on past
// limit) read by a reader that takes limit bytes at most.
func TooLarge(size, limit int64) error {
	if size < 0 {
		return fmt.Errorf("%w: it holds more than %s, the most read of its kind", ErrTooLarge, sizeString(limit))
	}
	return fmt.Errorf("%w: it holds %s, more than the %s read of its kind", ErrTooLarge, sizeString(size), sizeString(limit))
}

// sizeString prints a byte count for a message: whole KiB, MiB or GiB when it is one.
func sizeString(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// Connected is a backend whose requests share a fixed number of connections to a
// server: a Load holds one until its callback returns.
type Connected interface {
	Connections() int
}

// ConnectionsOf returns how many connections be's requests share, looking through the
// wrappers that Unwrap to the backend they wrap; 0 when nothing bounds them (a local
// folder).
func ConnectionsOf(be Backend) int {
	for be != nil {
		if c, ok := be.(Connected); ok {
			return c.Connections()
		}
		w, ok := be.(interface{ Unwrap() Backend })
		if !ok {
			return 0
		}
		be = w.Unwrap()
	}
	return 0
}

// Sizer is a reader that knows how many bytes it holds from the start: io.SectionReader,
// bytes.Reader, or a backend's response body of a known length. A negative size means
// unknown.
type Sizer interface {
	Size() int64
}

// maxSized is the largest size ReadAll allocates up front on a reader's word (a remote
// server's Content-Length, say); a larger object grows its buffer as its bytes arrive,
// which bounds what a wrong length can make it allocate before they do.
const maxSized = 1 << 30

// ReadAll reads rd to its end, like io.ReadAll. When rd is a Sizer, it reads exactly
// that many bytes into one buffer of that size, without io.ReadAll's copies as its
// buffer grows; a reader that ends sooner fails with io.ErrUnexpectedEOF (or its own
// error), and one that holds more fails too.
func ReadAll(rd io.Reader) ([]byte, error) {
	s, ok := rd.(Sizer)
	if !ok {
		return io.ReadAll(rd)
	}
	size := s.Size()
	if size < 0 || size > maxSized {
		return io.ReadAll(rd)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(rd, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // nothing came: still short, not a clean end
		}
		return nil, err
	}
	var one [1]byte
	switch n, err := io.ReadFull(rd, one[:]); {
	case n > 0:
		return nil, fmt.Errorf("read: more than the %d bytes the reader announced", size)
	case err != io.EOF:
		return nil, err
	}
	return buf, nil
}

// LoadRange reads length bytes at offset into memory and fails if fewer arrive.
func LoadRange(ctx context.Context, b Backend, h Handle, length int, offset int64) ([]byte, error) {
	buf := make([]byte, length)
	err := b.Load(ctx, h, length, offset, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// ListConfig lists the config object, if there is one: List of kind Config for backends
// that keep it as a single named object.
func ListConfig(ctx context.Context, b Backend, fn func(FileInfo) error) error {
	fi, err := b.Stat(ctx, Handle{Kind: Config})
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(fi)
}

// Sleep waits for d or until ctx is done, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ShortBody marks a response body that ended before its length, or whose reading
// failed midway: the remote transports call it transient, and package retry asks for
// the rest of the object from where it stopped.
type ShortBody struct{ Err error }

func (s *ShortBody) Error() string { return "response body cut short: " + s.Err.Error() }
func (s *ShortBody) Unwrap() error { return s.Err }

// ExactReader reads a response body of a known length (negative: unknown). It fails
// with io.ErrUnexpectedEOF when the body ends early and marks read errors as a
// ShortBody, except cancellation and those Final says are not (a transport's own
// deadline, say). Its Size lets ReadAll read the body into one buffer of that size.
type ExactReader struct {
	R     io.Reader
	Final func(error) bool // read errors that are not a cut body; nil: none but cancellation
	size  int64
	left  int64
}

// NewExactReader returns an ExactReader for a body of length bytes (negative: unknown).
func NewExactReader(r io.Reader, length int64) *ExactReader {
	if length < 0 {
		length = -1
	}
	return &ExactReader{R: r, size: length, left: length}
}

// Size is the body's length, -1 when unknown.
func (e *ExactReader) Size() int64 { return e.size }

func (e *ExactReader) Read(p []byte) (int, error) {
	n, err := e.R.Read(p)
	if e.left >= 0 {
		e.left -= int64(n)
		if err == io.EOF && e.left > 0 {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil && err != io.EOF && !errors.Is(err, context.Canceled) && (e.Final == nil || !e.Final(err)) {
		err = &ShortBody{Err: err}
	}
	return n, err
}
