package repo

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// currentProcess describes this process. The host id joins the kernel's boot id and
// the PID namespace: two processes with the same host id see the same pids, so one can
// judge the other's lock by its pid. It is empty (no pid is then judged) when /proc
// is missing or belongs to another PID namespace than this process.
func currentProcess() processInfo {
	host, _ := os.Hostname()
	p := processInfo{host: host, pid: os.Getpid()}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return p
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return p
	}
	pid, start, ok := readStat("/proc/self/stat")
	if !ok || pid != p.pid {
		return p // /proc shows another namespace's pids
	}
	p.hostID = strings.TrimSpace(string(boot)) + "/" + ns
	p.start = start
	return p
}

// processStart returns the start time of process pid, as /proc shows it: exists is
// false when no such process runs; known is false when /proc cannot say.
func processStart(pid int) (start uint64, exists, known bool) {
	_, start, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	if ok {
		return start, true, true
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, fs.ErrNotExist) {
		return 0, false, true
	}
	return 0, false, false
}

// readStat parses the pid (field 1) and the start time (field 22, clock ticks since
// boot) of a /proc/<pid>/stat file. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func readStat(path string) (pid int, start uint64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return 0, 0, false
	}
	pid, err = strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return 0, 0, false
	}
	fields := strings.Fields(string(b[end+1:])) // from field 3 (state) on
	if len(fields) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return pid, start, true
}
