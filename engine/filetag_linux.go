package engine

import (
	"os"
	"syscall"
)

// fileTag is a file's change tag (inodeTag) from what Linux calls the change time.
func fileTag(_ string, fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return inodeTag(fi, st.Ctim, st.Ino), true
}
