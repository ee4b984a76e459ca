package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// cairnBinary returns CAIRN_BIN, or builds the cairn command once per test process
// into the cache folder TestMain made (and removes at the end).
func cairnBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CAIRN_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	built.Do(func() {
		dir := os.Getenv("CAIRN_CACHE_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		built.path = filepath.Join(dir, "bin", "cairn"+exeSuffix())
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build cairn: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

var built struct {
	sync.Once
	path string
	err  error
}

// exeSuffix is what the system's executables end with.
func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
