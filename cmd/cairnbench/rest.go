package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"cairn/engine"
	"cairn/engine/gendb"
	"cairn/repo"
	"cairn/transport/location"
)

// meter is a reverse proxy that counts the bytes clients send and receive.
type meter struct {
	next           http.Handler
	sent, received atomic.Int64
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	head, _ := httputil.DumpRequest(r, false)
	m.sent.Add(int64(len(head)))
	r.Body = &countBody{ReadCloser: r.Body, n: &m.sent}
	m.next.ServeHTTP(&countWriter{ResponseWriter: w, n: &m.received}, r)
}

type countBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

type countWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

type wire struct {
	took           time.Duration
	sent, received int64
}

// runREST backs the same database up with cairn and with restic to one rest-server,
// through a counting proxy, and reports time and bytes on the wire.
func runREST(restServer, restic string, size int64, work string, seed int64) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	db := filepath.Join(work, "db")
	gs, err := gendb.Generate(db, gendb.Options{Size: size, Seed: seed})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(restServer, "--path", filepath.Join(work, "rest"), "--listen", addr, "--no-auth")
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	target, _ := url.Parse("http://" + addr)
	m := &meter{next: httputil.NewSingleHostReverseProxy(target)}
	proxy := &http.Server{Handler: m}
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go proxy.Serve(pl) // ends with proxy.Close below
	defer proxy.Close()
	base := "http://" + pl.Addr().String()
	measure := func(fn func() error) (wire, error) {
		s0, r0 := m.sent.Load(), m.received.Load()
		start := time.Now()
		err := fn()
		return wire{time.Since(start), m.sent.Load() - s0, m.received.Load() - r0}, err
	}

	// cairn
	ctx := context.Background()
	// As the CLI opens it: REST with the local cache of index files and manifests.
	be, err := location.Create(ctx, "rest:"+base+"/cairn", location.Options{CacheDir: filepath.Join(work, "cairn-cache")})
	if err != nil {
		return err
	}
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		return err
	}
	if _, err := repo.Init(ctx, be, cfg); err != nil {
		return err
	}
	var cairnStored [2]int64
	cairnBackup := func(i int) func() error {
		return func() error {
			r, err := repo.Open(ctx, be)
			if err != nil {
				return err
			}
			r.SetListStore(repo.DirListStore{Dir: filepath.Join(work, "cairn-cache", "lists")})
			sn, err := engine.Backup(ctx, r, engine.FolderSource{Dir: db}, engine.BackupOptions{})
			if err == nil {
				cairnStored[i] = sn.Totals.StoredBytes
			}
			return err
		}
	}
	// restic
	env := append(os.Environ(), "RESTIC_PASSWORD=bench", "RESTIC_REPOSITORY=rest:"+base+"/restic", "RESTIC_CACHE_DIR="+filepath.Join(work, "restic-cache"))
	resticRun := func(args ...string) func() error {
		return func() error {
			cmd := exec.Command(restic, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("restic %v: %v\n%s", args, err, out)
			}
			return nil
		}
	}
	if err := resticRun("init")(); err != nil {
		return err
	}
	var rows [4]wire
	names := []string{"cairn initial", "restic initial", "cairn incremental", "restic incremental"}
	if rows[0], err = measure(cairnBackup(0)); err != nil {
		return err
	}
	if rows[1], err = measure(resticRun("backup", "--quiet", db)); err != nil {
		return err
	}
	ms, err := gendb.Mutate(db, gendb.Mutation{Fraction: 0.01, Seed: seed + 1})
	if err != nil {
		return err
	}
	if rows[2], err = measure(cairnBackup(1)); err != nil {
		return err
	}
	if rows[3], err = measure(resticRun("backup", "--quiet", db)); err != nil {
		return err
	}
	fmt.Printf("Database: %s in %d records; then 1%% of records changed (changed records %s). One rest-server v0.14.0 on loopback, no added latency; bytes counted by a proxy in front of it (request lines, headers and bodies).\n\n",
		human(gs.Bytes), gs.Records, human(ms.ChangedBytes))
	fmt.Println("| backup | time | sent | received | stored (cairn's own count) |")
	fmt.Println("|---|---|---|---|---|")
	for i, w := range rows {
		stored := "-"
		if i%2 == 0 {
			stored = human(cairnStored[i/2])
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", names[i], w.took.Round(time.Millisecond), human(w.sent), human(w.received), stored)
	}
	return nil
}
