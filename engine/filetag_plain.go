//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !windows

package engine

import (
	"fmt"
	"os"
)

// fileTag is a file's change tag where cairn knows no inode and change time (Plan 9,
// WebAssembly): size and modification time. A file rewritten with the
// same size within the clock's resolution is then taken for unchanged; backup
// --read-all reads every collection whatever its tag.
func fileTag(_ string, fi os.FileInfo) (string, bool) {
	return fmt.Sprintf("file:%d:%d", fi.Size(), fi.ModTime().UnixNano()), true
}
