package engine

import (
	"os"
	"sync"

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

// syncParallel is how many restored files are synced at once. Their fsyncs overlap:
// the filesystem commits its journal for several at a time where one after the other
// each waits for a commit of its own, which made a restore of many small collections
// wait mostly on the disk.
const syncParallel = 16

// fileSyncs syncs complete files in the background, syncParallel at a time, while a
// restore goes on: the journal commits and the disk's cache flushes that make them
// durable then overlap the restoring of the next collections instead of following
// the last one (on a 512 MiB restore, a quarter of a second of waiting at the end).
type fileSyncs struct {
	g   errgroup.Group
	sem chan struct{}
	mu  sync.Mutex
}

// start syncs the file at path in the background.
func (s *fileSyncs) start(path string) {
	s.mu.Lock()
	if s.sem == nil {
		s.sem = make(chan struct{}, syncParallel)
	}
	sem := s.sem
	s.mu.Unlock()
	s.g.Go(func() error {
		sem <- struct{}{}
		defer func() { <-sem }()
		return syncFile(path)
	})
}

// wait waits for every sync started and returns the first error.
func (s *fileSyncs) wait() error { return s.g.Wait() }
