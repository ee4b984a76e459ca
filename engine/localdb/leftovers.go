package localdb

import "os"

// replacementSuffix names the file an import or a restore builds beside the database
// (<path>.new, see beginFile) before swapping it in.
const replacementSuffix = ".new"

// removeLeftovers removes the replacement file that an import or restore killed
// before its swap left beside the database at path. Open calls it once it holds the
// database's file lock: no other process has the database open then, so none is
// building a replacement. It is best effort (a link or a folder of that name is left
// alone): the next import or restore starts by removing the file too.
func removeLeftovers(path string) {
	tmp := path + replacementSuffix
	if fi, err := os.Lstat(tmp); err == nil && fi.Mode().IsRegular() {
		os.Remove(tmp)
	}
}
