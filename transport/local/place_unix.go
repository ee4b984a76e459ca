//go:build !windows

package local

import "os"

// place moves a saved object's temporary file (made by CreateTemp) to its final name
// and closes it. Renaming over an object that another save of the same content put
// there first is atomic and changes nothing a reader can see.
func place(f *os.File, path string) error { return Rename(f, path) }
