package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"cairn/transport/local"
)

// serveAddrFile is the file in the data folder where cairn serve writes the address it
// listens on (http://HOST:PORT and a newline) once it listens, and removes it when it
// stops. Commands that write the database (cairn restore --record ... --into-database)
// read it when they find the database locked by a running daemon, and go through its
// API, so that the database never has two writers.
const serveAddrFile = "serve.addr"

// writeServeAddr writes the daemon's address into its data folder, whole or not at
// all (under a temporary name, renamed into place).
func writeServeAddr(dataDir string, addr net.Addr) error {
	name := filepath.Join(dataDir, serveAddrFile)
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, []byte("http://"+addr.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the daemon's address: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the daemon's address: %w", err)
	}
	local.SyncDir(dataDir) // best effort: a crash at worst leaves no file, and the lock still tells
	return nil
}

// removeServeAddr removes the address file as the daemon stops.
func removeServeAddr(dataDir string) { os.Remove(filepath.Join(dataDir, serveAddrFile)) }

// readServeAddr reads the running daemon's base URL from its data folder. It accepts
// only an http URL on a loopback host: the file is a hint, and nothing is sent
// anywhere else.
func readServeAddr(dataDir string) (string, error) {
	name := filepath.Join(dataDir, serveAddrFile)
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("find the running cairn serve: %w", err)
	}
	s := strings.TrimSpace(string(b))
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Path != "" || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("find the running cairn serve: %s holds %q, not http://HOST:PORT", name, s)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("find the running cairn serve: %s names %q, which is not a loopback address", name, u.Host)
	}
	return s, nil
}
