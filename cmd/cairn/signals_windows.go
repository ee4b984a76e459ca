package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/windows/svc"
)

// stopContext returns a context that ends when cairn is asked to stop. Windows has no
// SIGTERM; it asks a console program with Ctrl-C or Ctrl-Break (os.Interrupt) and by
// closing its console window, logging off or shutting down (which Go delivers as
// syscall.SIGTERM), and a service through the service manager: when cairn runs as a
// Windows service (cairn serve registered with sc.exe or New-Service), a Stop or
// Shutdown request ends the context, and the service is reported stopped once main
// has finished and called the returned function.
func stopContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, stopSignals := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	if inService, err := svc.IsWindowsService(); err != nil || !inService {
		return ctx, stopSignals
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &service{cancel: cancel, done: make(chan struct{})}
	ended := make(chan struct{})
	go func() { // ends once the service manager has been told the service stopped
		defer close(ended)
		svc.Run("cairn", s) // the name is ignored for a service of its own process
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			stopSignals()
			cancel()
			close(s.done)
			<-ended
		})
	}
}

// service answers the Windows service manager for a cairn running as a service.
type service struct {
	cancel context.CancelFunc // asks cairn to stop
	done   chan struct{}      // closed when cairn has stopped
}

// Execute implements svc.Handler: it reports the service running until the manager
// asks it to stop or cairn ends by itself.
func (s *service) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				s.cancel()
				<-s.done
				return false, 0
			}
		case <-s.done:
			return false, 0
		}
	}
}
