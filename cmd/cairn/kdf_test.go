package main

import (
	"path/filepath"
	"testing"
)

// TestKDFFlagBounds: --kdf-memory and --kdf-time take exactly what a repository
// accepts of a key slot, so no command makes a slot that opening would skip.
func TestKDFFlagBounds(t *testing.T) {
	for _, tc := range []struct{ memory, passes string }{
		{"2GiB", "1"},    // more memory than a slot may ask for
		{"1GiB", "16"},   // each within bounds, together more work than a slot may ask for
		{"64KiB", "17"},  // more passes
		{"32KiB", "1"},   // too little memory
		{"64MiB", "0"},   // no pass
		{"64MiB", "-1"},  // not a number of passes
		{"8TiB", "1"},    // more than 32 bits of KiB
		{"256MiB", "17"}, // more passes
	} {
		c := runner{tb: t, repo: filepath.Join(t.TempDir(), "repo")}
		c.fails(exitUsage, "--kdf-", "init", "--kdf-memory", tc.memory, "--kdf-time", tc.passes)
	}
	// The most passes a slot may take, on little memory.
	c := runner{tb: t, repo: filepath.Join(t.TempDir(), "repo")}
	c.ok("init", "--kdf-memory", "64KiB", "--kdf-time", "16")
}
