//go:build linux

package engine

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages to disk and returns
// without waiting for them: the fsync that makes f durable later finds the work done.
// It is only a hint; errors surface at that fsync.
func startWriteback(f *os.File) { startWritebackRange(f, 0, 0) }

// startWritebackRange is startWriteback for n bytes at off (0: to the end).
func startWritebackRange(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
