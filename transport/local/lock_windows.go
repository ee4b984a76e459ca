package local

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// renameOpen: Windows does not rename a file that os.CreateTemp opened (without
// FILE_SHARE_DELETE); Rename closes it first.
const renameOpen = false

// lock takes an exclusive LockFileEx lock on f, waiting for it or not. Windows locks
// are mandatory for the bytes they cover, so the lock covers the last byte of the
// largest offset, far past any data, as bbolt does: reads and writes are untouched.
// supported is false where the handle cannot be locked (some network shares): ages
// alone protect those. Folders are held another way (lockDir).
func lock(f *os.File, wait bool) (got, supported bool) {
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return lockDir(f, wait)
	}
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	const all = 1<<32 - 1
	ov := windows.Overlapped{Offset: all, OffsetHigh: all}
	err := windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ov)
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, true
	default:
		return false, false
	}
}

// open opens a file or folder to hold it. Unlike os.Open it shares the handle for
// deletion and renaming: a held folder can be renamed into place, and a leftover can
// be removed while the cleaner holds it (Windows removes it when the handle closes).
func open(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// A folder cannot be locked with LockFileEx. Its holder (MkdirTemp) keeps it open
// with write access instead (hold), which Windows' sharing rules let a cleaner see:
// opening the folder without sharing write access fails with a sharing violation
// while such a handle is open, and succeeds once its process is gone.

// hold opens a folder MkdirTemp made, with write access (adding entries) so that
// lockDir can tell it is held, sharing everything so it can still be renamed.
func hold(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := windows.CreateFile(p, windows.FILE_LIST_DIRECTORY|windows.FILE_WRITE_DATA, // FILE_WRITE_DATA is FILE_ADD_FILE for a folder
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// lockDir: for the holder (wait), holding is having opened the folder with hold; a
// cleaner (not wait) gets the folder when no one else holds it.
func lockDir(f *os.File, wait bool) (got, supported bool) {
	if wait {
		return true, true
	}
	p, err := windows.UTF16PtrFromString(f.Name())
	if err != nil {
		return false, false
	}
	h, err := windows.CreateFile(p, windows.FILE_LIST_DIRECTORY,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	switch {
	case err == nil:
		windows.CloseHandle(h)
		return true, true
	case errors.Is(err, windows.ERROR_SHARING_VIOLATION):
		return false, true
	default:
		return false, false
	}
}
