//go:build !windows

package main

import (
	"fmt"
	"os"
)

// userOnly fails unless the file's mode lets its owner alone in.
func userOnly(name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %v, open to others", name, fi.Mode().Perm())
	}
	return nil
}
