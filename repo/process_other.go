//go:build !linux && !windows

package repo

import "os"

// currentProcess describes this process. Without /proc there is no telling which
// processes share this one's pids (PID namespaces, a reused host name), so the host id
// stays empty and locks are judged by their refresh time alone.
func currentProcess() processInfo {
	host, _ := os.Hostname()
	return processInfo{host: host, pid: os.Getpid()}
}

// processStart cannot say anything here.
func processStart(int) (start uint64, exists, known bool) { return 0, false, false }
