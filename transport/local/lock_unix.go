//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"os"
	"syscall"
)

// renameOpen: a file can be renamed while it is open (and held).
const renameOpen = true

// lock takes an exclusive flock on f, waiting for it or not. supported is false when
// the file system cannot lock.
func lock(f *os.File, wait bool) (got, supported bool) {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		switch {
		case err == nil:
			return true, true
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, true
		default: // ENOLCK, EOPNOTSUPP: a file system without locks
			return false, false
		}
	}
}

// open opens a file or folder to hold it.
func open(path string) (*os.File, error) { return os.Open(path) }

// hold opens a folder MkdirTemp made, to hold it with lock.
func hold(path string) (*os.File, error) { return os.Open(path) }
