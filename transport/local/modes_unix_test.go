//go:build !windows

package local_test

import (
	"io/fs"
	"runtime"
)

// What Stat reports for an object and a folder the backend made: read-only for the
// owner, a folder private to the owner.
const (
	fileMode fs.FileMode = 0o400
	dirMode  fs.FileMode = 0o700
)

// caseInsensitive: macOS's file systems are, by default.
var caseInsensitive = runtime.GOOS == "darwin"
