package localdb

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// On Windows a file that is open cannot be replaced: renaming the new database over
// the live one fails with "Access denied" while bbolt (the daemon, a reader of an older
// generation) holds it. A file that is open can be renamed, though, when every handle
// to it was opened with FILE_SHARE_DELETE, which os.OpenFile does not ask for. So
// database files are opened here with it, and a swap takes two renames: the live file
// steps aside to <path>.old-<random> (its readers go on reading it there), then the
// new one takes its name. The retired file is removed when its generation's last
// reader ends (release), or by the next Open if the process died first.
//
// A crash between the two renames leaves no file at path, the retired one beside it,
// and the new one, complete and synced, under <path>.new: Open finishes the swap
// (finishSwap), as the commit had been decided.

// openFile opens a database file for bbolt, sharing it for reading, writing and
// renaming, so the swap can move it aside while it is open and mapped.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	access := uint32(windows.GENERIC_READ)
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		access |= windows.GENERIC_WRITE
	}
	var disposition uint32
	switch {
	case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		disposition = windows.CREATE_NEW
	case flag&os.O_CREATE != 0 && flag&os.O_TRUNC != 0:
		disposition = windows.CREATE_ALWAYS
	case flag&os.O_CREATE != 0:
		disposition = windows.OPEN_ALWAYS
	case flag&os.O_TRUNC != 0:
		disposition = windows.TRUNCATE_EXISTING
	default:
		disposition = windows.OPEN_EXISTING
	}
	attrs := uint32(windows.FILE_ATTRIBUTE_NORMAL)
	if perm&0o200 == 0 && flag&os.O_CREATE != 0 {
		attrs = windows.FILE_ATTRIBUTE_READONLY
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	h, err := windows.CreateFile(p, access, share, nil, disposition, attrs, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}

// swapIn moves the live database at path aside and the new file tmp into its place,
// and returns where the old file now is. If tmp cannot take the name, the live file is
// put back.
func swapIn(tmp, path string) (retired string, err error) {
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return "", err
	}
	retired = path + retiredInfix + hex.EncodeToString(suffix[:])
	if err := os.Rename(path, retired); err != nil {
		return "", fmt.Errorf("move the live database aside: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		if berr := os.Rename(retired, path); berr != nil {
			return "", fmt.Errorf("%w (and the live database stays at %s: %v)", err, retired, berr)
		}
		return "", err
	}
	return retired, nil
}
