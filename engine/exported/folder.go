package exported

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFolder writes the collections of a folder database (one <collection>.jsonl
// file each, as cairn generate makes them) to enc in the SDK's field order. Collections
// without a file are left out, and so are the value sets, whose lines a folder holds in
// another form.
func (e *Encoder) WriteFolder(dir string) error {
	for _, name := range Collections {
		if IsValueSet(name) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name+".jsonl"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = e.WriteCollection(name, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
