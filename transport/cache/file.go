package cache

import (
	"fmt"
	"os"
	"path/filepath"

	"cairn/transport/local"
)

// WriteFile stores data as the local file name, whole or not at all: it is written to
// a temporary file beside name, synced, renamed over name, and the folder is synced,
// so a crash leaves the old file or the new one, never a torn one. The folder must
// exist. Every local copy of what a repository holds is written this way (this
// package's copies, and the repository's list chunks and pins).
func WriteFile(name string, data []byte) (err error) {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", name, err)
		}
	}()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	return local.SyncDir(dir)
}
