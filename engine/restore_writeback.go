package engine

import "os"

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
