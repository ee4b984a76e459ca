//go:build darwin || freebsd || netbsd || openbsd

package engine

import (
	"fmt"
	"os"
	"syscall"
)

// fileTag is a file's change tag: size, modification time, status change time and
// inode, as on Linux (the BSDs name the change time Ctimespec).
func fileTag(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("file:%d:%d:%d.%d:%d", fi.Size(), fi.ModTime().UnixNano(), st.Ctimespec.Sec, st.Ctimespec.Nsec, st.Ino), true
}
