package engine

import (
	"fmt"
	"os"
	"syscall"
)

// fileTag is a file's change tag: size, modification time, status change time and
// inode, so that a file replaced by another of the same size and time still differs.
func fileTag(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("file:%d:%d:%d.%d:%d", fi.Size(), fi.ModTime().UnixNano(), st.Ctim.Sec, st.Ctim.Nsec, st.Ino), true
}
