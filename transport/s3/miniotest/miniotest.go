// Package miniotest starts real MinIO servers on loopback for tests. The binary comes
// from $MINIO_SERVER, or is built from the pinned tool module in testdata/minio and
// kept in the user's cache folder under a name derived from that module's go.mod and
// go.sum, so it is built once per machine and pin (a build takes minutes).
package miniotest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The root credentials of every test server.
const (
	User     = "cairn-test"
	Password = "cairn-test-secret-key"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary returns the path of a MinIO server binary, building it once if needed.
// Windows test binaries (make test-windows, under Wine) have no Go toolchain to build
// one and no Windows MinIO: without $MINIO_SERVER the test is skipped there.
func Binary(tb testing.TB) string {
	tb.Helper()
	if runtime.GOOS == "windows" && os.Getenv("MINIO_SERVER") == "" {
		tb.Skip("no MinIO server for Windows test binaries (set MINIO_SERVER to a minio.exe); the S3 tests run on Linux")
	}
	buildOnce.Do(func() { binary, buildErr = findOrBuild() })
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binary
}

func findOrBuild() (string, error) {
	if p := os.Getenv("MINIO_SERVER"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	module := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "minio")
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(module, name))
		if err != nil {
			return "", fmt.Errorf("the MinIO tool module: %w", err)
		}
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "cairn-test", "minio-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "minio")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// One build at a time across test processes; whoever waited finds the binary.
	unlock, err := lock(filepath.Join(dir, "build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/minio/minio")
	cmd.Dir = module
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=") // a peer, built as its authors ship it
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build minio: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// Server is a running MinIO server.
type Server struct {
	URL  string // http://127.0.0.1:port, no trailing slash
	Dir  string // its data folder
	home string // HOME and certificates folder of the process
	addr string
	con  string // console address (the console itself is off)
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	tb   testing.TB
}

// Start runs MinIO on a free loopback port with a fresh data folder and the root
// credentials User and Password; the test's cleanup stops it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Dir: tb.TempDir(), home: tb.TempDir(), tb: tb}
	s.addr, s.con = freeAddr(tb), freeAddr(tb)
	s.URL = "http://" + s.addr
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *Server) start() {
	s.tb.Helper()
	bin := Binary(s.tb)
	var lastErr error
	for try := 0; try < 2; try++ {
		out := &strings.Builder{}
		cmd := exec.Command(bin, "server", "--quiet",
			"--address", s.addr, "--console-address", s.con,
			"--certs-dir", filepath.Join(s.home, "certs"), s.Dir)
		cmd.Env = append(os.Environ(),
			"HOME="+s.home,
			"MINIO_ROOT_USER="+User,
			"MINIO_ROOT_PASSWORD="+Password,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
		)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			s.tb.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		s.cmd, s.done = cmd, exited
		if lastErr = s.waitReady(exited); lastErr == nil {
			return
		}
		s.Stop()
		lastErr = fmt.Errorf("%v\n%s", lastErr, out)
		// A port just freed by a killed server may take a moment to be free again.
		time.Sleep(500 * time.Millisecond)
	}
	s.tb.Fatalf("minio did not start on %s: %v", s.addr, lastErr)
}

func (s *Server) waitReady(exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("minio exited")
		default:
		}
		resp, err := client.Get(s.URL + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("no answer from /minio/health/cluster after 30 s")
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
	}
}

// Restart stops the server and starts it again with the same data and port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}
