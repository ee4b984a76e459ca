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
// exist. A local copy that nothing checks when it is read (a pin) is written this way.
func WriteFile(name string, data []byte) error { return write(name, data, true) }

// WriteCopy stores data as the local file name as WriteFile does, without syncing:
// readers see the old file or the new one, but after a crash the file may be torn or
// empty. It is for copies checked against their names when read (this package's
// copies, the repository's list chunks), for which a torn file is a miss: a restore
// with an empty cache wrote about 80 of them, and waited for each to reach the disk.
func WriteCopy(name string, data []byte) error { return write(name, data, false) }

func write(name string, data []byte, sync bool) (err error) {
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
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), name); err != nil || !sync {
		return err
	}
	return local.SyncDir(dir)
}
