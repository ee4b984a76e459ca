package main

import (
	"os"
	"testing"
)

// TestMain keeps the tests' repository caches out of the user's cache folder.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("CAIRN_CACHE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
