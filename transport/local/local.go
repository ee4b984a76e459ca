// Package local stores a repository in a folder on this machine.
//
// Objects are files:
//
//	<dir>/config
//	<dir>/data/<xx>/<name>   xx being the name's first two hex digits
//	<dir>/index/<name>
//	<dir>/snapshots/<name>
//	<dir>/keys/<name>
//	<dir>/locks/<name>
//
// Folders are made 0o700. A save writes a temporary file (".tmp-" and a random suffix)
// in the object's folder, syncs it, renames it into place and syncs the folder, so a
// crash never leaves a partial object under its final name. The temporary file is
// held (a file lock) until it has its final name; List skips temporary files and
// removes those nobody holds and that have not changed for LeftoverAge, left by a
// killed process (Open does the same for the config's folder). Objects are written read-only for their owner (0o400): they are
// never modified, only removed, and the repository is private to its owner.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"cairn/transport"
)

// Backend is a repository folder.
type Backend struct {
	dir string // absolute
}

var _ transport.Backend = (*Backend)(nil)

const (
	dirMode   = 0o700
	fileMode  = 0o400
	tmpPrefix = ".tmp-" // marks a file a save has not finished
)

// Open opens an existing repository folder.
func Open(dir string) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open %s: not a folder", abs)
	}
	RemoveLeftovers(abs, tmpPrefix) // a config save that was killed; best effort
	return &Backend{dir: abs}, nil
}

// Create makes the folder and one sub-folder per kind (0o700) where missing, and opens
// it. Objects already there are kept.
func Create(dir string) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	for _, k := range transport.Kinds {
		if k == transport.Config {
			continue
		}
		if err := os.MkdirAll(filepath.Join(abs, string(k)), dirMode); err != nil {
			return nil, fmt.Errorf("create %s: %w", abs, err)
		}
	}
	if err := SyncDir(abs); err != nil {
		return nil, fmt.Errorf("create %s: %w", abs, err)
	}
	return Open(abs)
}

// Location implements transport.Backend.
func (b *Backend) Location() string { return "local:" + b.dir }

// path is where the object h lives; h must be valid.
func (b *Backend) path(h transport.Handle) string {
	switch h.Kind {
	case transport.Config:
		return filepath.Join(b.dir, "config")
	case transport.Data:
		return filepath.Join(b.dir, "data", h.Name[:2], h.Name)
	}
	return filepath.Join(b.dir, string(h.Kind), h.Name)
}

// Save implements transport.Backend. Saving an object that exists succeeds without
// comparing: objects are named by their content.
func (b *Backend) Save(ctx context.Context, h transport.Handle, data []byte) error {
	if err := check(ctx, "save", h); err != nil {
		return err
	}
	// Errors are not passed through wrap: a missing folder is no missing object.
	p := b.path(h)
	if _, err := os.Stat(p); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save %s: %w", h, err)
	}
	dir := filepath.Dir(p)
	if h.Kind == transport.Data {
		// Create makes the kinds' folders; a data sub-folder is made on first use.
		if err := mkdir(dir); err != nil {
			return fmt.Errorf("save %s: %w", h, err)
		}
	}
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		discard(tmp)
		return fmt.Errorf("save %s: %w", h, err)
	}
	if err := place(tmp, p); err != nil {
		os.Remove(tmp.Name())
		// Another save of the same content put the object in place meanwhile
		// (Windows does not rename over it): the object is there, which is all
		// the save asks.
		if _, serr := os.Stat(p); serr == nil {
			return nil
		}
		return fmt.Errorf("save %s: %w", h, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("save %s: %w", h, err)
	}
	return nil
}

// writeTemp writes data to a new read-only temporary file in dir, synced to disk, and
// returns it open and held (see CreateTemp). On error it leaves nothing behind.
func writeTemp(dir string, data []byte) (*os.File, error) {
	f, err := CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		discard(f)
		return nil, err
	}
	// Some file systems (exFAT, some network mounts) refuse chmod; the object is
	// then merely writable, which is no reason to fail the save.
	_ = f.Chmod(fileMode)
	return f, nil
}

// discard closes a temporary file and removes it.
func discard(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// mkdir makes the folder dir if it is missing (its parent must exist) and syncs the
// parent so the new entry survives a crash.
func mkdir(dir string) error {
	err := os.Mkdir(dir, dirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dir))
}

// Load implements transport.Backend. fn reads straight from the file.
func (b *Backend) Load(ctx context.Context, h transport.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := check(ctx, "load", h); err != nil {
		return err
	}
	if offset < 0 || length < 0 {
		return fmt.Errorf("load %s: %w", h, permanentError{fmt.Errorf("invalid range %d+%d", offset, length)})
	}
	// Opened to share deletion (Windows): a prune may remove the object meanwhile.
	f, err := open(b.path(h))
	if err != nil {
		return wrap("load", h, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return wrap("load", h, err)
	}
	size := fi.Size()
	if offset > size || int64(length) > size-offset {
		return fmt.Errorf("load %s: %w", h, permanentError{fmt.Errorf("range %d+%d outside %d bytes: %w", offset, length, size, io.ErrUnexpectedEOF)})
	}
	n := size - offset
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

// List implements transport.Backend. Files that are not objects of kind k (temporary
// files, foreign names, data files in the wrong sub-folder) are skipped.
func (b *Backend) List(ctx context.Context, k transport.Kind, fn func(transport.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", k, err)
	}
	if !slices.Contains(transport.Kinds, k) {
		return fmt.Errorf("list %s: %w", k, permanentError{fmt.Errorf("unknown kind %q", k)})
	}
	if k == transport.Config {
		fi, err := os.Stat(b.path(transport.Handle{Kind: k}))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", k, err)
		}
		return fn(transport.FileInfo{Size: fi.Size()})
	}
	root := filepath.Join(b.dir, string(k))
	if k != transport.Data {
		return listDir(ctx, k, root, "", fn)
	}
	subs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", k, err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		if err := listDir(ctx, k, filepath.Join(root, sub.Name()), sub.Name(), fn); err != nil {
			return err
		}
	}
	return nil
}

// listDir calls fn for the objects of kind k in dir whose names start with prefix. An
// error from fn is returned as it is.
func listDir(ctx context.Context, k transport.Kind, dir, prefix string, fn func(transport.FileInfo) error) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not made yet, or removed while listing
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", k, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", k, err)
		}
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			removeLeftover(filepath.Join(dir, name), time.Now()) // unless a save holds it
			continue
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(name, prefix) ||
			(transport.Handle{Kind: k, Name: name}).Valid() != nil {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while listing
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", k, err)
		}
		if err := fn(transport.FileInfo{Name: name, Size: info.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements transport.Backend.
func (b *Backend) Remove(ctx context.Context, h transport.Handle) error {
	if err := check(ctx, "remove", h); err != nil {
		return err
	}
	p := b.path(h)
	err := os.Remove(p)
	if errors.Is(err, fs.ErrPermission) {
		// Windows refuses to remove a read-only file.
		if os.Chmod(p, 0o600) == nil {
			err = os.Remove(p)
		}
	}
	if err != nil {
		return wrap("remove", h, err)
	}
	return nil
}

// IsNotExist implements transport.Backend.
func (b *Backend) IsNotExist(err error) bool { return errors.Is(err, transport.ErrNotExist) }

// IsPermanent implements transport.Backend: a missing object, a permission error, an
// invalid handle or range, and the caller's context being done are permanent; other
// errors (an I/O error, a full disk) may go away.
func (b *Backend) IsPermanent(err error) bool {
	_, marked := errors.AsType[permanentError](err)
	return marked || errors.Is(err, transport.ErrNotExist) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// Close implements transport.Backend; there is nothing to release.
func (b *Backend) Close() error { return nil }

// check rejects a done context and an invalid handle, naming the operation op.
func check(ctx context.Context, op string, h transport.Handle) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, h, err)
	}
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s: %w", op, permanentError{err})
	}
	return nil
}

// wrap names the operation and turns a missing file into transport.ErrNotExist,
// keeping the file system's error in the chain too.
func wrap(op string, h transport.Handle, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w (%w)", op, h, transport.ErrNotExist, err)
	}
	return fmt.Errorf("%s %s: %w", op, h, err)
}

// permanentError marks an error that retrying will not cure.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }
