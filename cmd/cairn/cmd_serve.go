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
	"cairn/transport/location"
)

// defaultDataDir is the per-user folder for the local database and the default
// repository: $XDG_DATA_HOME/cairn, or ~/.local/share/cairn.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "cairn")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "cairn")
	}
	return "cairn-data"
}

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
			srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }() // ends when srv is shut down
			fmt.Fprintf(e.stdout, "cairn serving on http://%s (database %s, repository %s)\n", ln.Addr(), db.Path(), loc)
			select {
			case err = <-served:
			case <-c.Context.Done():
			}
			// Cancel running jobs first (a cancelled restore leaves the database as it
			// was), then let requests finish.
			api.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
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
		cfg, err := repo.NewConfig(time.Now())
		if err != nil {
			return nil, err
		}
		cfg.Encryption = repo.EncryptionXChaCha
		return repo.Init(ctx, be, cfg, opts...)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", loc, repo.ErrNoRepository)
		}
		return nil, err
	}
	r, err := repo.Open(ctx, be, opts...)
	if err != nil {
		return nil, err
	}
	if err := keepLists(r, loc, opt); err != nil {
		r.Release(ctx)
		return nil, err
	}
	return r, nil
}

// daemonPassword reads the default repository's password file, making one with 32
// random bytes (readable by the user alone) when there is none.
func daemonPassword(name string) (string, error) {
	if b, err := os.ReadFile(name); err == nil {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			return pw, nil
		}
		return "", fmt.Errorf("password file %s is empty", name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("password file: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b[:])
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	_, err = f.WriteString(pw + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("password file: %w", err)
	}
	return pw, nil
}
