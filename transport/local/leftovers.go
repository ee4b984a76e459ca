package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Temporary files and folders (a save's ".tmp-*" file, a restore's folder) are held
// while in use: a file lock (flock) on them, taken as soon as they are made and kept
// until they are renamed into place or removed. A process that is killed loses its
// locks, so what it leaves behind can be told from what a live process still writes.
// RemoveLeftovers removes what nobody holds.
//
// Ages add a margin: nothing that changed in the last LeftoverAge is removed (a writer
// that does not lock, such as an older cairn, is done with its temporary file within
// that time), and where locks cannot be taken (Windows, file systems without flock)
// only what has not changed for LeftoverAgeUnlocked is.
const (
	LeftoverAge         = 10 * time.Minute
	LeftoverAgeUnlocked = 24 * time.Hour
)

// CreateTemp makes a new file in dir as os.CreateTemp does and holds it until it is
// closed (or moved into place with Rename): RemoveLeftovers never removes it meanwhile.
func CreateTemp(dir, pattern string) (*os.File, error) {
	for range 10 {
		f, err := os.CreateTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		if held(f) {
			return f, nil
		}
		f.Close() // removed by a cleaner before it was held: take another name
	}
	return nil, fmt.Errorf("create a temporary file in %s: removed again and again before it could be locked", dir)
}

// MkdirTemp makes a new folder in dir as os.MkdirTemp does and holds it until release
// is called: RemoveLeftovers never removes it meanwhile. Release after renaming or
// removing the folder.
func MkdirTemp(dir, pattern string) (path string, release func(), err error) {
	for range 10 {
		path, err := os.MkdirTemp(dir, pattern)
		if err != nil {
			return "", nil, err
		}
		d, err := hold(path)
		if err != nil {
			os.Remove(path)
			return "", nil, err
		}
		if held(d) {
			return path, sync.OnceFunc(func() { d.Close() }), nil
		}
		d.Close()
	}
	return "", nil, fmt.Errorf("create a temporary folder in %s: removed again and again before it could be locked", dir)
}

// held locks f and reports whether its name still names it: a cleaner may have
// removed it between its creation and the lock.
func held(f *os.File) bool {
	if _, supported := lock(f, true); !supported {
		return true // nothing to hold; ages protect it
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Lstat(f.Name())
	return err == nil && os.SameFile(fi, now)
}

// Rename moves a file made by CreateTemp into place at path and closes it. Where
// possible the file stays held until it has its new name.
func Rename(f *os.File, path string) error {
	if renameOpen {
		err := os.Rename(f.Name(), path)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// RemoveLeftovers removes the files and folders in dir whose names start with prefix
// and that nobody holds (see CreateTemp and MkdirTemp): left by a process that was
// killed. It returns how many it removed; one it cannot remove is skipped.
func RemoveLeftovers(dir, prefix string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look for leftovers in %s: %w", dir, err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && removeLeftover(filepath.Join(dir, e.Name()), time.Now()) {
			n++
		}
	}
	return n, nil
}

// removeLeftover removes the file or folder at path if nobody holds it and it has not
// changed lately, and reports whether it did. Links and other kinds of file are left
// alone.
func removeLeftover(path string, now time.Time) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() && !fi.IsDir() {
		return false
	}
	age := now.Sub(lastChange(path, fi, now))
	if age < LeftoverAge {
		return false
	}
	f, err := open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	got, supported := lock(f, false)
	switch {
	case !supported && age < LeftoverAgeUnlocked:
		return false
	case supported && !got:
		return false // in use
	}
	// Still the entry that was looked at (a folder renamed into place is not).
	if cur, err := f.Stat(); err != nil || !os.SameFile(fi, cur) {
		return false
	}
	if again, err := os.Lstat(path); err != nil || !os.SameFile(fi, again) {
		return false
	}
	if fi.IsDir() {
		return os.RemoveAll(path) == nil
	}
	err = os.Remove(path)
	if errors.Is(err, fs.ErrPermission) && os.Chmod(path, 0o600) == nil {
		err = os.Remove(path) // Windows refuses to remove a read-only file
	}
	return err == nil
}

// lastChange is when the file, or for a folder anything directly in it, last changed:
// a restore writing one large collection changes its file, not its folder.
// A folder that cannot be read counts as changed now.
func lastChange(path string, fi fs.FileInfo, now time.Time) time.Time {
	last := fi.ModTime()
	if !fi.IsDir() {
		return last
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return now
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.ModTime().After(last) {
			last = info.ModTime()
		}
	}
	return last
}
