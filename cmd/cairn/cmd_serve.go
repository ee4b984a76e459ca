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

	"cairn/engine"
	"cairn/engine/localdb"
	"cairn/engine/schedule"
	"cairn/httpapi"
	"cairn/repo"
	"cairn/transport"
	"cairn/transport/local"
	"cairn/transport/location"
)

// shutdownTimeout bounds how long cairn serve takes to stop once asked to.
const shutdownTimeout = 5 * time.Second

type serveOptions struct {
	Addr, Data, Device, Platform string
	Verbose                      bool
	KDF                          kdfOptions
	PrintConfig                  bool

	BackupEvery        time.Duration
	BackupAt           string // HH:MM, local time
	Keep               engine.Policy
	KeepWithin         string // a span as forget reads it (6m is six months); validate sets Keep.Within
	GroupBy            string // validate sets groupBy
	groupBy            engine.GroupBy
	Prune              bool
	CheckEvery         time.Duration
	CheckReadData      bool
	CheckSubset        string // N/T, P% or a size; validate sets checkSubset
	checkSubset        engine.Subset
	CopyTo             string
	CopyToPasswordFile string
	NotifyURL          string
	Compression        string // auto, fastest, default or max; validate sets compression
	compression        repo.Level
}

func serveCommand(e *env) *cli.Command {
	var o serveOptions
	settings := serveSettings(&o, &e.opts)
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "data", Usage: "folder of the local database, the default repository and the settings file " + configFileName, Value: defaultDataDir(), EnvVars: []string{"CAIRN_DATA"}, Destination: &o.Data},
		&cli.BoolFlag{Name: "print-config", Usage: "print the effective settings (flags, environment, " + configFileName + ", defaults) and exit", Destination: &o.PrintConfig},
	}, serveFlags(settings)...)
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the Pieces Database, Backup and Backups API on localhost, and back up on a schedule",
		ArgsUsage: " ",
		Description: `Every setting is a flag, an environment variable (CAIRN_ and the flag's name in
capitals, - as _) and a key of the settings file cairn.toml in the data folder; a
flag beats its variable, which beats the file, which beats the default. The file has
the sections daemon, repository, schedule, retention, check, replication and
notifications; --print-config shows them all with the values in effect. A file with
an unknown key or a bad value is refused with its line.`,
		Flags: append(flags, kdfFlags(&o.KDF)...),
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			fromFile, err := loadConfig(c, configPath(o.Data), settings)
			if err != nil {
				return err
			}
			if err := o.validate(fromFile, configPath(o.Data)); err != nil {
				return err
			}
			if o.PrintConfig {
				printConfig(e.stdout, c, configPath(o.Data), settings, fromFile)
				return nil
			}
			return o.serve(c.Context, e)
		},
	}
}

// serve runs the daemon until ctx ends or the server fails: the API over the local
// database and the repository, the schedule and its alerts.
func (o *serveOptions) serve(ctx context.Context, e *env) error {
	if err := o.checkAddr(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	db, err := localdb.Open(filepath.Join(o.Data, "pieces.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	logger := o.logger(e)
	loc, open, pins, err := o.repository(ctx, e)
	if err != nil {
		return err
	}
	var sched *schedule.Scheduler
	api := httpapi.New(httpapi.Config{
		DB: db, OpenRepo: open, DeviceName: o.Device, Platform: o.Platform,
		Logger: logger, Schedule: scheduleView{&sched},
	})
	sched, notify, err := o.newScheduler(e, api, db, pins, logger)
	if err != nil {
		return err
	}
	ln, err := o.listen()
	if err != nil {
		return err
	}
	if err := writeServeAddr(o.Data, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	defer removeServeAddr(o.Data)
	srv := api.HTTPServer()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends when srv is shut down
	// The schedule and the alerts run until the daemon stops; both end before it
	// returns.
	schedCtx, stopSchedule := context.WithCancel(context.Background())
	defer stopSchedule()
	background := make(chan struct{}, 2)
	go func() { sched.Run(schedCtx); background <- struct{}{} }()
	go func() {
		if notify != nil {
			notify.Run(schedCtx)
		}
		background <- struct{}{}
	}()
	fmt.Fprintf(e.stdout, "cairn serving on http://%s (database %s, repository %s, backups %s)\n", ln.Addr(), db.Path(), location.Redact(loc), o.plan())
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	stopSchedule()
	shutdown(api, srv, logger)
	for range 2 {
		<-background
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(e.stdout, "cairn stopped")
	return nil
}

// checkAddr refuses an address that is not a loopback one: the daemon serves the
// whole snippet database.
func (o *serveOptions) checkAddr() error {
	h, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return usagef("--addr %q: %v", o.Addr, err)
	}
	if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usagef("--addr %q: cairn serves your whole snippet database and listens only on loopback addresses", o.Addr)
	}
	return nil
}

// logger logs to stderr, every request with --verbose.
func (o *serveOptions) logger(e *env) *slog.Logger {
	level := slog.LevelInfo
	if o.Verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// repository settles the daemon's repository: --repo, else the default one in the data
// folder with a random password kept beside the database. It returns its location,
// how the API opens it, and the pins the daemon keeps in its data folder.
func (o *serveOptions) repository(ctx context.Context, e *env) (string, func(context.Context) (*repo.Repository, error), []repo.Option, error) {
	loc, explicit := e.opts.Repo, true
	if loc == "" {
		loc, explicit = filepath.Join(o.Data, "repository"), false
	}
	pw, err := e.givenPassword(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	if pw == "" && !explicit {
		if pw, err = daemonPassword(filepath.Join(o.Data, "repository.password")); err != nil {
			return "", nil, nil, err
		}
	}
	kdf, err := o.KDF.params()
	if err != nil {
		return "", nil, nil, err
	}
	keys := &repo.KeyCache{}
	pins := []repo.Option{repo.WithPins(repo.Pins{Dir: filepath.Join(o.Data, "pins")})} // what the daemon saw first
	opts := append([]repo.Option{repo.WithPassword(pw, kdf), repo.WithKeyCache(keys), compressionAt(o.compression)}, pins...)
	open := func(ctx context.Context) (*repo.Repository, error) {
		return daemonRepo(ctx, loc, explicit, e.locationOptions(), opts...)
	}
	return loc, open, pins, nil
}

// listen opens the daemon's address, saying how to pick another port when a low one
// needs privileges.
func (o *serveOptions) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "permission denied") {
			hint = " (ports below 1024 need privileges; pass --addr 127.0.0.1:PORT or set CAIRN_ADDR)"
		}
		return nil, fmt.Errorf("cannot listen on %s: %w%s", o.Addr, err, hint)
	}
	return ln, nil
}

// shutdown stops the daemon within shutdownTimeout whatever clients do: running jobs
// are cancelled and waited for (a cancelled restore leaves the database as it was),
// requests may finish, then the connections still open are cut.
func shutdown(api *httpapi.Server, srv *http.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := api.Shutdown(ctx); err != nil {
		logger.Warn("stopping with a job still running", "err", err)
	}
	if srv.Shutdown(ctx) != nil {
		srv.Close()
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
