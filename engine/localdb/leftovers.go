package localdb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// replacementSuffix names the file an import or a restore builds beside the database
// (<path>.new, see beginFile) before swapping it in; retiredInfix names a live file a
// swap moved aside (<path>.old-<random>, Windows only, see swap_windows.go).
const (
	replacementSuffix = ".new"
	retiredInfix      = ".old-"
)

// finishSwap completes a swap that a crash cut between its two renames (Windows):
// no database at path, a retired one beside it and the replacement under <path>.new,
// synced before the first rename, so the swap had been decided. With no replacement,
// the newest retired file is put back. Anything else is left as it is.
func finishSwap(path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	retired := retiredFiles(path)
	if len(retired) == 0 {
		return nil
	}
	tmp := path + replacementSuffix
	if fi, err := os.Lstat(tmp); err == nil && fi.Mode().IsRegular() {
		return os.Rename(tmp, path)
	}
	var newest string
	var newestTime int64
	for _, r := range retired {
		if fi, err := os.Lstat(r); err == nil && (newest == "" || fi.ModTime().UnixNano() > newestTime) {
			newest, newestTime = r, fi.ModTime().UnixNano()
		}
	}
	return os.Rename(newest, path)
}

// retiredFiles lists the regular files a swap moved aside from path.
func retiredFiles(path string) []string {
	entries, _ := os.ReadDir(filepath.Dir(path))
	prefix := filepath.Base(path) + retiredInfix
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			files = append(files, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	return files
}

// removeLeftovers removes the replacement file that an import or restore killed
// before its swap left beside the database at path, and the retired files of
// generations whose process ended before their readers did. Open calls it once it
// holds the database's file lock: no other process has the database open then, so
// none is building a replacement or reading a retired file it still needs (where it
// is, Windows keeps the file until that reader closes it). It is best effort (a link
// or a folder of those names is left alone): the next import or restore starts by
// removing the replacement too.
func removeLeftovers(path string) {
	tmp := path + replacementSuffix
	if fi, err := os.Lstat(tmp); err == nil && fi.Mode().IsRegular() {
		os.Remove(tmp)
	}
	for _, r := range retiredFiles(path) {
		os.Remove(r)
	}
}
