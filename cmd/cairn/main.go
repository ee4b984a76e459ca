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

// The garbage collector's targets, unless GOGC says otherwise: how far the heap may
// grow past what is live before it is collected (Go's default is 100). Backups,
// restores and checks allocate at a high rate around a live set of a few tens of MiB
// (the index, buffers in flight), mostly buffers without pointers, which a collection
// does not scan; measured on a 512 MiB database (BENCHMARKS.md):
//   - gcPercent, for most commands, takes a fifth to a quarter off peak memory for a
//     few percent of CPU time;
//   - gcBackup, for the commands that compress new data (backup, copy), takes 8-10 MiB
//     more off a backup's peak at zstd's default level, for no CPU time measurable.
//
// The daemon keeps gcPercent: an import through its API took 8% longer at gcBackup. A
// restore at 100 was no faster through rest-server and peaked 5 MiB higher.
const (
	gcPercent = 50
	gcBackup  = 25
)

// setGCPercent sets the collector's target to percent, unless GOGC set one.
func setGCPercent(percent int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
}

func main() {
	setGCPercent(gcPercent)
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
