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
// supported is false where the handle cannot be locked (a folder, some network
// shares): ages alone protect those.
func lock(f *os.File, wait bool) (got, supported bool) {
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
