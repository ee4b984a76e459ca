//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd

package main

import "os"

// peakRSS is 0 where the system reports no peak resident memory of an ended process.
func peakRSS(*os.ProcessState) int64 { return 0 }
