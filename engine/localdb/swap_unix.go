//go:build !windows

package localdb

import "os"

// openFile opens a database file for bbolt. A file open here can be renamed over.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

// swapIn renames the new file tmp over the live database at path in one atomic step: a
// crash leaves one file or the other whole. Readers of the old file keep it open under
// its old inode, so nothing is retired by name: retired is always empty here.
func swapIn(tmp, path string) (retired string, err error) {
	return "", os.Rename(tmp, path)
}
