package main

import (
	"os"
	"testing"
)

// TestMain keeps the tests' repository caches out of the user's cache folder, and gives
// every repository the tests create a password with cheap key derivation.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cairn-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("CAIRN_CACHE_DIR", dir)
	os.Setenv("CAIRN_PASSWORD", "test password")
	os.Setenv("CAIRN_KDF_MEMORY", "64KiB")
	os.Setenv("CAIRN_KDF_TIME", "1")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
