package local

import (
	"os"

	"golang.org/x/sys/windows"
)

// place moves a saved object's temporary file (made by CreateTemp) to its final name
// and closes it. It never replaces a file: an object that another save of the same
// content put there first stays as it is. Replacing it would make Windows open it for
// deletion, and a load opening it at that moment would fail with a sharing violation.
func place(f *os.File, path string) error {
	if err := f.Close(); err != nil {
		return err
	}
	from, err := windows.UTF16PtrFromString(f.Name())
	if err != nil {
		return err
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: f.Name(), New: path, Err: err}
	}
	return nil
}
