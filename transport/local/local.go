// Package local stores a repository in a folder on this machine.
//
// Objects are files: config, data/<xx>/<name> (xx being the name's first two hex
// digits), index/<name>, snapshots/<name>, keys/<name>, locks/<name>. A save writes a
// temporary file in the target folder, syncs it, renames it into place and syncs the
// folder, so a crash never leaves a partial object under its final name. Objects are
// written read-only (0o400): they are never modified, only removed.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"cairn/transport"
)

// Backend is a repository folder.
type Backend struct {
	dir string
}

var _ transport.Backend = (*Backend)(nil)

// tmpPrefix marks files a save has not finished; List skips them.
const tmpPrefix = ".tmp-"

// Open opens an existing repository folder.
func Open(dir string) (*Backend, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open %s: not a folder", dir)
	}
	return &Backend{dir: dir}, nil
}

// Create makes the folder tree (0o700) if needed and opens it.
func Create(dir string) (*Backend, error) {
	for _, k := range transport.Kinds {
		if k == transport.Config {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, string(k)), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return Open(dir)
}

// Location implements transport.Backend.
func (b *Backend) Location() string { return "local:" + b.dir }

func (b *Backend) path(h transport.Handle) string {
	switch h.Kind {
	case transport.Config:
		return filepath.Join(b.dir, "config")
	case transport.Data:
		return filepath.Join(b.dir, "data", h.Name[:2], h.Name)
	}
	return filepath.Join(b.dir, string(h.Kind), h.Name)
}

func check(ctx context.Context, op string, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, h, err)
	}
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func wrap(op string, h transport.Handle, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, h, transport.ErrNotExist)
	}
	return fmt.Errorf("%s %s: %w", op, h, err)
}

// Save implements transport.Backend.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, "save", h); err != nil {
		return err
	}
	p := b.path(h)
	if _, err := os.Stat(p); err == nil {
		return nil // named by content: already there
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return wrap("save", h, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return wrap("save", h, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o400)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return wrap("save", h, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Load implements transport.Backend.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, "load", h); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("load %s: negative range %d+%d", h, offset, length)
	}
	f, err := os.Open(b.path(h))
	if err != nil {
		return wrap("load", h, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return wrap("load", h, err)
	}
	if offset > fi.Size() || length > 0 && offset+int64(length) > fi.Size() {
		return fmt.Errorf("load %s: range %d+%d outside %d bytes: %w", h, offset, length, fi.Size(), io.ErrUnexpectedEOF)
	}
	n := fi.Size() - offset
	if length > 0 {
		n = int64(length)
	}
	return fn(io.NewSectionReader(f, offset, n))
}

// Stat implements transport.Backend.
func (b *Backend) Stat(ctx context.Context, h transport.Handle) (transport.FileInfo, error) {
	if err := check(ctx, "stat", h); err != nil {
		return transport.FileInfo{}, err
	}
	fi, err := os.Stat(b.path(h))
	if err != nil {
		return transport.FileInfo{}, wrap("stat", h, err)
	}
	return transport.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List implements transport.Backend.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if k == transport.Config {
		fi, err := os.Stat(filepath.Join(b.dir, "config"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list config: %w", err)
		}
		return fn(transport.FileInfo{Size: fi.Size()})
	}
	root := filepath.Join(b.dir, string(k))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		if (transport.Handle{Kind: k, Name: d.Name()}).Valid() != nil {
			return nil // not ours
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		return fn(transport.FileInfo{Name: d.Name(), Size: info.Size()})
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", k, err)
	}
	return nil
}

// Remove implements transport.Backend.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, "remove", h); err != nil {
		return err
	}
	if err := os.Remove(b.path(h)); err != nil {
		return wrap("remove", h, err)
	}
	return nil
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend: on a local disk no error goes away by retrying.
func (b *Backend) IsPermanent(err error) bool { return err != nil }

// Close implements transport.Backend.
func (b *Backend) Close() error { return nil }
