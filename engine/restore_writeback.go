package engine

import (
	"os"

	"golang.org/x/sync/errgroup"
)

// writebackEvery is how many bytes of a restored file are written before their
// writeback starts: the disk writes a large collection while the rest of it is still
// being restored, and Commit's fsync waits only for the last few MiB of each file.
const writebackEvery = 16 << 20

// writebackFile writes to a file and starts the writeback of every writebackEvery
// bytes written.
type writebackFile struct {
	f                *os.File
	written, started int64 // bytes written; bytes whose writeback was started
}

func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writebackEvery {
		startWritebackRange(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// syncParallel is how many restored files Commit syncs at once. Their fsyncs overlap:
// the filesystem commits its journal for several at a time where one after the other
// each waits for a commit of its own, which made a restore of many small collections
// wait mostly on the disk.
const syncParallel = 16

// syncFiles syncs every file at paths, syncParallel at a time, and returns the first
// error.
func syncFiles(paths []string) error {
	var g errgroup.Group
	g.SetLimit(syncParallel)
	for _, path := range paths {
		g.Go(func() error { return syncFile(path) })
	}
	return g.Wait()
}
