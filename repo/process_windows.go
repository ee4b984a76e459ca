package repo

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// currentProcess describes this process. Windows has one pid space per boot of a
// machine, so the host id joins the machine's GUID (set at installation) and the boot:
// two processes with the same host id see the same pids. The boot is the kernel's
// BootId where Windows keeps one, else the boot time to the minute (from the tick
// count; two processes that round it differently merely do not judge each other's
// pids). The host id is empty (no pid is then judged) when the machine has no GUID.
// The start is the process's creation time, in 100 ns units since 1601.
func currentProcess() processInfo {
	host, _ := os.Hostname()
	p := processInfo{host: host, pid: os.Getpid()}
	guid, ok := machineGUID()
	if !ok {
		return p
	}
	start, exists, known := processStart(p.pid)
	if !exists || !known {
		return p
	}
	p.hostID = "windows:" + guid + "/" + bootID()
	p.start = start
	return p
}

// machineGUID is HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid.
func machineGUID() (string, bool) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", false
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	v = strings.TrimSpace(v)
	return v, err == nil && v != ""
}

// bootID names this boot of the machine.
func bootID() string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE,
		`SYSTEM\CurrentControlSet\Control\Session Manager\Memory Management\PrefetchParameters`, registry.QUERY_VALUE)
	if err == nil {
		defer k.Close()
		if n, _, err := k.GetIntegerValue("BootId"); err == nil {
			return "boot-" + strconv.FormatUint(n, 10)
		}
	}
	up := time.Duration(windows.DurationSinceBoot())
	return "booted-" + time.Now().Add(-up).UTC().Truncate(time.Minute).Format("20060102T1504")
}

// stillActive is the exit code GetExitCodeProcess reports for a running process.
const stillActive = 259

// processStart returns the creation time of process pid: exists is false when no such
// process runs; known is false when Windows does not say (a process this user may not
// query).
func processStart(pid int) (start uint64, exists, known bool) {
	if pid <= 0 || pid > 1<<32-1 {
		return 0, false, false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
		return 0, false, true // no process has this pid
	}
	if err != nil {
		return 0, false, false
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return 0, false, false
	}
	if code != stillActive {
		return 0, false, true // ended; a handle someone holds keeps its pid taken
	}
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err != nil {
		return 0, false, false
	}
	return uint64(created.HighDateTime)<<32 | uint64(created.LowDateTime), true, true
}
