//go:build !windows

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// stopContext returns a context that ends when cairn is asked to stop: Ctrl-C
// (SIGINT) or SIGTERM (kill, systemd, launchd). Its stop function undoes that.
func stopContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
