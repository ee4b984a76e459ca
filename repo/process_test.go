package repo

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestHelperLiveProcess is not a test: run by livePID as a child process, it waits
// until its standard input closes.
func TestHelperLiveProcess(t *testing.T) {
	if os.Getenv("CAIRN_LIVE_HELPER") == "" {
		return
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// livePID starts a process that runs until the test ends and returns its pid. (The
// parent process will not do: under Wine a test binary has none.)
func livePID(tb testing.TB) int {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLiveProcess$")
	cmd.Env = append(os.Environ(), "CAIRN_LIVE_HELPER=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestProcessStart: the start of this process and of a live one is known and stays
// the same; a process that ended is known to be gone.
func TestProcessStart(t *testing.T) {
	p := currentProcess()
	if p.hostID == "" && runtime.GOOS == "windows" {
		t.Fatal("no host id on Windows: locks would be judged by their refresh time alone")
	}
	if p.hostID == "" {
		t.Skip("this system cannot tell which processes share this one's pids")
	}
	if start, exists, known := processStart(p.pid); !exists || !known || start != p.start {
		t.Fatalf("this process: start %d exists %v known %v, want start %d", start, exists, known, p.start)
	}
	live := livePID(t)
	first, exists, known := processStart(live)
	if !exists || !known || first == 0 {
		t.Fatalf("a live process: start %d exists %v known %v", first, exists, known)
	}
	if again, _, _ := processStart(live); again != first {
		t.Fatalf("a live process's start changed from %d to %d", first, again)
	}
	if _, exists, known := processStart(deadPID(t)); exists || !known {
		t.Fatalf("an ended process: exists %v known %v, want known to be gone", exists, known)
	}
}
