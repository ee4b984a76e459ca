//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd

package engine

import (
	"fmt"
	"os"
)

// fileTag is a file's change tag where the system offers no inode and change time
// through os.FileInfo (Windows): size and modification time. A file rewritten with the
// same size within the clock's resolution is then taken for unchanged; backup
// --read-all reads every collection whatever its tag.
func fileTag(fi os.FileInfo) (string, bool) {
	return fmt.Sprintf("file:%d:%d", fi.Size(), fi.ModTime().UnixNano()), true
}
