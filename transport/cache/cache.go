// Package cache keeps a local copy of a repository's index files and snapshot
// manifests, so that a backup over a thin link does not download them again each run.
// Both kinds are immutable and named by the SHA-256 of their bytes: a cached copy is
// checked against its name when read and fetched again if it does not match.
package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"cairn/transport"
)

// Backend is the caching wrapper.
type Backend struct {
	transport.Backend
	dir string
}

var _ transport.Backend = (*Backend)(nil)

// Unwrap returns the wrapped backend.
func (c *Backend) Unwrap() transport.Backend { return c.Backend }

// New caches b's index files and manifests under dir/<hash of b's location>.
func New(b transport.Backend, dir string) (*Backend, error) {
	sum := sha256.Sum256([]byte(b.Location()))
	d := filepath.Join(dir, hex.EncodeToString(sum[:8]))
	for _, k := range []transport.Kind{transport.Index, transport.Snapshots} {
		if err := os.MkdirAll(filepath.Join(d, string(k)), 0o700); err != nil {
			return nil, err
		}
	}
	return &Backend{Backend: b, dir: d}, nil
}

// cached reports whether h is kept here: an index file or a manifest whose name is a
// SHA-256 (64 lowercase hex digits). Names come from the repository, so nothing else
// ever becomes a local path.
func cached(h transport.Handle) bool {
	return (h.Kind == transport.Index || h.Kind == transport.Snapshots) && len(h.Name) == 2*sha256.Size && h.Valid() == nil
}

// matches reports whether data is the object h names.
func matches(h transport.Handle, data []byte) bool {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]) == h.Name
}

func (c *Backend) path(h transport.Handle) string {
	return filepath.Join(c.dir, string(h.Kind), h.Name)
}

// get returns a cached copy that matches its name.
func (c *Backend) get(h transport.Handle) ([]byte, bool) {
	b, err := os.ReadFile(c.path(h))
	if err != nil {
		return nil, false
	}
	if !matches(h, b) { // truncated, damaged, or another object's bytes
		os.Remove(c.path(h))
		return nil, false
	}
	return b, true
}

// put stores a copy of an object that matches its name; a failure only costs a later
// download.
func (c *Backend) put(h transport.Handle, data []byte) {
	if matches(h, data) {
		WriteCopy(c.path(h), data)
	}
}

// Save implements transport.Backend: written through, and kept.
func (c *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := c.Backend.Save(ctx, h, data); err != nil {
		return err
	}
	if cached(h) {
		c.put(h, data)
	}
	return nil
}

// Load implements transport.Backend: whole index files and manifests come from the
// cache when it has them.
func (c *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if !cached(h) || length != 0 || offset != 0 {
		return c.Backend.Load(ctx, h, length, offset, fn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b, ok := c.get(h); ok {
		return fn(bytes.NewReader(b))
	}
	// fn reads the download itself, so it stops where it would without the cache (at
	// its size limit, say); what it read is kept when that is the whole object.
	var data []byte
	err := c.Backend.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		t := &tee{r: rd}
		err := fn(t)
		data = t.buf
		return err
	})
	if err != nil {
		return err
	}
	c.put(h, data) // kept only when it is the whole object its name says
	return nil
}

// tee keeps a copy of what is read through it. It passes on the size its reader
// announces, so that transport.ReadAll and LoadMax see it as they would without it.
type tee struct {
	r   io.Reader
	buf []byte
}

func (t *tee) Read(p []byte) (int, error) {
	if t.buf == nil {
		// Read only once fn took the announced size: room for all of it at once.
		if size := t.Size(); size > 0 && size <= 1<<30 {
			t.buf = make([]byte, 0, size)
		}
	}
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// Size implements transport.Sizer.
func (t *tee) Size() int64 {
	if s, ok := t.r.(transport.Sizer); ok {
		return s.Size()
	}
	return -1
}

// Remove implements transport.Backend.
func (c *Backend) Remove(ctx context.Context, h transport.Handle) error {
	err := c.Backend.Remove(ctx, h)
	if cached(h) && (err == nil || c.IsNotExist(err)) {
		os.Remove(c.path(h))
	}
	return err
}

// List implements transport.Backend. A complete listing of a cached kind also drops
// the copies of objects the repository no longer has (removed by another machine).
func (c *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if k != transport.Index && k != transport.Snapshots {
		return c.Backend.List(ctx, k, fn)
	}
	seen := map[string]bool{}
	err := c.Backend.List(ctx, k, func(fi transport.FileInfo) error {
		seen[fi.Name] = true
		return fn(fi)
	})
	if err != nil {
		return err
	}
	entries, rerr := os.ReadDir(filepath.Join(c.dir, string(k)))
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if !seen[e.Name()] {
			os.Remove(filepath.Join(c.dir, string(k), e.Name()))
		}
	}
	return nil
}
