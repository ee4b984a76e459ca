package local_test

import "io/fs"

// What Stat reports for an object and a folder the backend made: Windows has no owner
// bits, only the read-only attribute, and Go reports every folder as 0o777.
const (
	fileMode fs.FileMode = 0o444
	dirMode  fs.FileMode = 0o777
)

// caseInsensitive: NTFS compares names without case.
const caseInsensitive = true
