// Package resttest starts real rest-server processes on loopback for tests. The binary
// comes from $REST_SERVER, or is built from the pinned tool module in testdata/tools.
package resttest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary returns the path of a rest-server binary, building it once if needed.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("REST_SERVER"); p != "" {
			binary = p
			return
		}
		_, file, _, _ := runtime.Caller(0)
		tools := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "tools")
		dir, err := os.MkdirTemp("", "cairn-rest-server-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "rest-server")
		cmd := exec.Command("go", "build", "-o", binary, "github.com/restic/rest-server/cmd/rest-server")
		cmd.Dir = tools
		cmd.Env = append(os.Environ(), "GOEXPERIMENT=") // a peer, built as its authors ship it
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build rest-server: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binary
}

// Server is a running rest-server.
type Server struct {
	URL  string // http://127.0.0.1:port/
	Dir  string // its data folder
	cmd  *exec.Cmd
	args []string
	tb   testing.TB
}

// Start runs rest-server with the given flags (say --no-auth) on a free loopback port
// with a fresh data folder; the test's cleanup stops it.
func Start(tb testing.TB, flags ...string) *Server {
	tb.Helper()
	return StartIn(tb, tb.TempDir(), flags...)
}

// StartIn is Start with a data folder of the caller's (holding an .htpasswd, say).
func StartIn(tb testing.TB, dir string, flags ...string) *Server {
	tb.Helper()
	s := &Server{Dir: dir, tb: tb}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s.URL = "http://" + addr + "/"
	s.args = append([]string{"--path", s.Dir, "--listen", addr}, flags...)
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.tb.Helper()
	s.cmd = exec.Command(Binary(s.tb), s.args...)
	s.cmd.Stdout, s.cmd.Stderr = nil, nil
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "config")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("rest-server did not start on %s", s.URL)
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart stops the server and starts it again with the same data and port.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

// RestartWith restarts the server with other flags, the same data and port.
func (s *Server) RestartWith(flags ...string) {
	s.Stop()
	s.args = append(s.args[:4:4], flags...)
	s.start()
}
