//go:build linux || freebsd || netbsd || openbsd

package main

import (
	"os"
	"syscall"
)

// peakRSS is an ended process's peak resident memory in bytes (the kernel counts KiB).
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) << 10
	}
	return 0
}
