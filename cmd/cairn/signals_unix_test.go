//go:build !windows

package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestStopContextEndsOnSIGTERM: SIGTERM (what kill and service managers send) ends
// the context a command runs with, instead of killing cairn mid-write.
func TestStopContextEndsOnSIGTERM(t *testing.T) {
	ctx, stop := stopContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the context did not end within 10 s of SIGTERM")
	}
}
