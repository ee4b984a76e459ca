//go:build darwin || freebsd || netbsd || openbsd

package engine

import (
	"os"
	"syscall"
)

// fileTag is a file's change tag (inodeTag); macOS and the BSDs name the change time
// Ctimespec.
func fileTag(_ string, fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return inodeTag(fi, st.Ctimespec, st.Ino), true
}
