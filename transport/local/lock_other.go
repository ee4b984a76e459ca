//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package local

import "os"

// renameOpen: assume an open file cannot be renamed.
const renameOpen = false

// lock cannot lock here: leftovers are told by their age alone.
func lock(*os.File, bool) (got, supported bool) { return false, false }

// open opens a file or folder to hold it.
func open(path string) (*os.File, error) { return os.Open(path) }

// hold opens a folder MkdirTemp made, to hold it with lock.
func hold(path string) (*os.File, error) { return os.Open(path) }
