//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package local

import "os"

// renameOpen: Windows does not rename an open file.
const renameOpen = false

// lock cannot lock here: leftovers are told by their age alone.
func lock(*os.File, bool) (got, supported bool) { return false, false }
