package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/engine/localdb"
	"cairn/httpapi"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/local"
	"cairn/transport/location"
)

// shutdownTimeout bounds how long cairn serve takes to stop once asked to.
const shutdownTimeout = 5 * time.Second

func serveCommand(e *env) *cli.Command {
	host, _ := os.Hostname()
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the Pieces Database, Backup and Backups API on localhost",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Usage: "loopback address to listen on", Value: "127.0.0.1:1000", EnvVars: []string{"CAIRN_ADDR"}},
			&cli.StringFlag{Name: "data", Usage: "folder of the local database (and of the default repository)", Value: defaultDataDir(), EnvVars: []string{"CAIRN_DATA"}},
			&cli.StringFlag{Name: "device", Usage: "device name recorded in backups", Value: host},
			&cli.StringFlag{Name: "platform", Usage: "platform recorded in backups", Value: platformName()},
			&cli.BoolFlag{Name: "verbose", Usage: "log every request"},
		}, kdfFlags...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			addr := c.String("addr")
			h, _, err := net.SplitHostPort(addr)
			if err != nil {
				return usagef("--addr %q: %v", addr, err)
			}
			if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return usagef("--addr %q: cairn serves your whole snippet database and listens only on loopback addresses", addr)
			}
			data := c.String("data")
			if err := os.MkdirAll(data, 0o700); err != nil {
				return fmt.Errorf("data folder: %w", err)
			}
			db, err := localdb.Open(filepath.Join(data, "pieces.db"))
			if err != nil {
				return err
			}
			defer db.Close()
			loc, explicit := c.String("repo"), true
			if loc == "" {
				loc, explicit = filepath.Join(data, "repository"), false
			}
			level := slog.LevelInfo
			if c.Bool("verbose") {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
			pw, err := givenPassword(c)
			if err != nil {
				return err
			}
			if pw == "" && !explicit {
				// The default repository gets a random password kept beside the database.
				if pw, err = daemonPassword(filepath.Join(data, "repository.password")); err != nil {
					return err
				}
			}
			kdf, err := kdfParams(c)
			if err != nil {
				return err
			}
			keys := &repo.KeyCache{}
			opts := []repo.Option{repo.WithPassword(pw, kdf), repo.WithKeyCache(keys),
				repo.WithPins(repo.Pins{Dir: filepath.Join(data, "pins")})} // what the daemon saw first
			api := httpapi.New(httpapi.Config{
				DB: db,
				OpenRepo: func(ctx context.Context) (*repo.Repository, error) {
					return daemonRepo(ctx, loc, explicit, locationOptions(c), opts...)
				},
				DeviceName: c.String("device"),
				Platform:   c.String("platform"),
				Logger:     logger,
			})
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				hint := ""
				if strings.Contains(err.Error(), "permission denied") {
					hint = " (ports below 1024 need privileges; pass --addr 127.0.0.1:PORT or set CAIRN_ADDR)"
				}
				return fmt.Errorf("cannot listen on %s: %w%s", addr, err, hint)
			}
			srv := api.HTTPServer()
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }() // ends when srv is shut down
			fmt.Fprintf(e.stdout, "cairn serving on http://%s (database %s, repository %s)\n", ln.Addr(), db.Path(), loc)
			select {
			case err = <-served:
			case <-c.Context.Done():
			}
			// Within shutdownTimeout whatever clients do: cancel running jobs and wait
			// for them (a cancelled restore leaves the database as it was), let requests
			// finish, then cut the connections still open.
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if serr := api.Shutdown(ctx); serr != nil {
				logger.Warn("stopping with a job still running", "err", serr)
			}
			if srv.Shutdown(ctx) != nil {
				srv.Close()
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			fmt.Fprintln(e.stdout, "cairn stopped")
			return nil
		},
	}
}

// daemonRepo opens the daemon's repository; the default one is created on first use so
// that a fresh machine needs no setup.
func daemonRepo(ctx context.Context, loc string, explicit bool, opt location.Options, opts ...repo.Option) (*repo.Repository, error) {
	be, err := location.Open(ctx, loc, opt)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		if be, err = location.Create(ctx, loc, opt); err != nil {
			return nil, err
		}
		return initDefault(ctx, be, opts...)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", loc, repo.ErrNoRepository)
		}
		return nil, err
	}
	r, err := repo.Open(ctx, be, opts...)
	if errors.Is(err, repo.ErrNoRepository) && !explicit {
		r, err = initAgain(ctx, be, opts...)
	}
	if err != nil {
		return nil, err
	}
	if err := keepLists(r, loc, opt); err != nil {
		r.Release(ctx)
		return nil, err
	}
	return r, nil
}

// initDefault initializes the daemon's default repository, encrypted.
func initDefault(ctx context.Context, be transport.Backend, opts ...repo.Option) (*repo.Repository, error) {
	cfg, err := repo.NewConfig(time.Now())
	if err != nil {
		return nil, err
	}
	cfg.Encryption = repo.EncryptionXChaCha
	return repo.Init(ctx, be, cfg, opts...)
}

// initAgain initializes the default repository once more after a first start that
// ended between its key slot and its config. That leaves a folder with no config and
// no data, index or snapshots, whose key slots wrap a master key nothing uses: they are
// removed, so that none of them is tried before the new one. A folder holding anything
// more is left alone.
func initAgain(ctx context.Context, be transport.Backend, opts ...repo.Option) (*repo.Repository, error) {
	for _, k := range []transport.Kind{transport.Data, transport.Index, transport.Snapshots} {
		n := 0
		if err := be.List(ctx, k, func(transport.FileInfo) error { n++; return nil }); err != nil {
			return nil, fmt.Errorf("%s: %w", be.Location(), err)
		}
		if n > 0 {
			return nil, fmt.Errorf("%s has %s objects but no config: %w", be.Location(), k, repo.ErrNoRepository)
		}
	}
	var slots []string
	if err := be.List(ctx, transport.Keys, func(fi transport.FileInfo) error {
		slots = append(slots, fi.Name)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", be.Location(), err)
	}
	for _, name := range slots {
		if err := be.Remove(ctx, transport.Handle{Kind: transport.Keys, Name: name}); err != nil {
			return nil, fmt.Errorf("remove the unused key slot of an interrupted first start: %w", err)
		}
	}
	return initDefault(ctx, be, opts...)
}

// daemonPassword reads the default repository's password file, making one with 32
// random bytes (readable by the user alone) when there is none. A new file is written
// whole and synced under a temporary name, then renamed into place and its folder
// synced before the repository is made, so that no crash leaves a repository whose
// password was lost. (Two daemons cannot race here: the second one does not get past
// the database's file lock.)
func daemonPassword(name string) (string, error) {
	if pw, err := readDaemonPassword(name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return pw, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b[:])
	tmp := name + ".tmp" // a crash's leftover is overwritten next time
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	defer os.Remove(tmp)
	err = restrictToUser(tmp)
	if err == nil {
		_, err = f.WriteString(pw + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if err := local.SyncDir(filepath.Dir(name)); err != nil {
		return "", fmt.Errorf("password file: sync its folder: %w", err)
	}
	return pw, nil
}

// readDaemonPassword reads a password file; fs.ErrNotExist when there is none.
func readDaemonPassword(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", name)
	}
	return pw, nil
}
