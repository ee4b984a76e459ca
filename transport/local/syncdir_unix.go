//go:build !windows

package local

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir flushes a folder's entries to disk. File systems and platforms that cannot
// sync a folder are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
