//go:build linux || darwin || freebsd || netbsd || openbsd

package engine

import (
	"fmt"
	"os"
	"syscall"
)

// inodeTag is the change tag of a file on a system with inodes: size, modification
// time, status change time and inode, so that a file replaced by another of the same
// size and time still differs.
func inodeTag(fi os.FileInfo, ctime syscall.Timespec, ino uint64) string {
	return fmt.Sprintf("file:%d:%d:%d.%d:%d", fi.Size(), fi.ModTime().UnixNano(), ctime.Sec, ctime.Nsec, ino)
}
