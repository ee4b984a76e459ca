// Command cairn backs up Pieces snippet databases into a deduplicating repository,
// inspects snapshots from a terminal, and serves the Pieces backup API.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise: the heap may
// grow to 1.5 times what is live rather than Go's default of twice. Backups, restores
// and checks allocate at a high rate around a live set of a few tens of MiB (the index,
// buffers in flight); measured on a 512 MiB database, this takes a fifth to a quarter
// off peak memory for a few percent of CPU time (BENCHMARKS.md).
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := stopContext(context.Background())
	// CAIRN_CPUPROFILE names a file to write a CPU profile of the whole run to (go tool
	// pprof reads it): where a slow backup spends its time, on the user's own data.
	if name := os.Getenv("CAIRN_CPUPROFILE"); name != "" {
		if f, err := os.Create(name); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		} else {
			fmt.Fprintf(os.Stderr, "cairn: CAIRN_CPUPROFILE: %v\n", err)
		}
	}
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	// CAIRN_MEMPROFILE: a heap profile of what the run allocated.
	if name := os.Getenv("CAIRN_MEMPROFILE"); name != "" {
		if f, err := os.Create(name); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	stop()
	os.Exit(code)
}
