//go:build !windows

package main

import "os"

// restrictToUser makes the file at name readable and writable by its owner alone
// (0600, whatever the umask).
func restrictToUser(name string) error { return os.Chmod(name, 0o600) }
