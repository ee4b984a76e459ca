//go:build !linux

package engine

import "os"

// startWriteback does nothing where there is no way to start a file's writeback
// without waiting for it: the fsync on Commit does all the work.
func startWriteback(*os.File) {}

// startWritebackRange does nothing either.
func startWritebackRange(*os.File, int64, int64) {}
