package main

import (
	"context"
	"testing"
)

// TestStopContextOutsideService: run from a console (as the tests are), cairn is no
// service; its context lives until its stop function is called.
func TestStopContextOutsideService(t *testing.T) {
	ctx, stop := stopContext(context.Background())
	if err := ctx.Err(); err != nil {
		t.Fatalf("the context ended before anything asked: %v", err)
	}
	stop()
	if ctx.Err() == nil {
		t.Fatal("the context lives on after stop")
	}
}
