package main

import (
	"os"
	"syscall"
)

// peakRSS is an ended process's peak resident memory in bytes (macOS counts bytes).
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss)
	}
	return 0
}
