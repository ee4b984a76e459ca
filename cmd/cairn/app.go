package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"cairn/engine"
	"cairn/repo"
	"cairn/transport/location"
)

// Exit codes scripts can rely on.
const (
	exitOK        = 0
	exitFailure   = 1 // the command failed
	exitUsage     = 2 // wrong flags or arguments
	exitDamaged   = 3 // check found damage, or data read back did not verify
	exitNoRepo    = 4 // no repository, not a cairn repository, or a newer format
	exitPassword  = 5 // the repository is encrypted and no password, or a wrong one, was given; or it is not the one seen there before
	exitInterrupt = 130
)

// usageError marks mistakes in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errDamaged is returned by commands that found damage and already reported it.
var errDamaged = errors.New("repository damage found")

// env is what every command gets: output streams and global options.
type env struct {
	stdout, stderr io.Writer
	isTerminal     bool // stderr is a terminal: draw progress bars
}

// run builds the app, runs it and maps the outcome to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, isTerminal: isTerminal(stderr)}
	app := newApp(e)
	err := app.RunContext(ctx, flagsFirst(app, args))
	releaseAll()
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	if !errors.Is(err, errDamaged) {
		fmt.Fprintf(stderr, "cairn: %v\n", err)
	}
	return code
}

func exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupt
	case errors.Is(err, repo.ErrPasswordNeeded), errors.Is(err, repo.ErrWrongPassword), errors.Is(err, repo.ErrRepositoryChanged):
		return exitPassword
	case errors.Is(err, repo.ErrNoRepository), errors.Is(err, repo.ErrForeign), errors.Is(err, repo.ErrNewerFormat):
		return exitNoRepo
	case errors.Is(err, errDamaged), errors.Is(err, repo.ErrDamaged):
		return exitDamaged
	}
	return exitFailure
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

var (
	repoFlag = &cli.StringFlag{
		Name:    "repo",
		Aliases: []string{"r"},
		Usage:   "repository location: a path, local:PATH, or rest:http(s)://[user:pass@]host:port/path",
		EnvVars: []string{"CAIRN_REPOSITORY"},
	}
	jsonFlag    = &cli.BoolFlag{Name: "json", Usage: "print machine-readable JSON"}
	noProgFlag  = &cli.BoolFlag{Name: "no-progress", Usage: "never draw a progress bar"}
	globalFlags = []cli.Flag{repoFlag, jsonFlag, noProgFlag, passwordFileFlag,
		&cli.IntFlag{Name: "limit-upload", Usage: "upload at most this many KiB/s (0: no limit)", EnvVars: []string{"CAIRN_LIMIT_UPLOAD"}},
		&cli.IntFlag{Name: "limit-download", Usage: "download at most this many KiB/s (0: no limit)", EnvVars: []string{"CAIRN_LIMIT_DOWNLOAD"}},
		&cli.IntFlag{Name: "connections", Usage: "parallel connections to a repository server", Value: 5},
		&cli.StringFlag{Name: "cache-dir", Usage: "where to keep copies of a remote repository's index and manifests", Value: defaultCacheDir(), EnvVars: []string{"CAIRN_CACHE_DIR"}},
		&cli.BoolFlag{Name: "no-cache", Usage: "keep no local copies"},
	}
	commandFuncs = []func(*env) *cli.Command{
		initCommand, backupCommand, snapshotsCommand, showCommand, lsCommand, catCommand,
		diffCommand, statsCommand, restoreCommand, forgetCommand, pruneCommand, checkCommand,
		generateCommand, serveCommand, keyCommand, repairCommand,
	}
)

func newApp(e *env) *cli.App {
	app := &cli.App{
		Name:                 "cairn",
		Usage:                "deduplicating, incremental backups of Pieces snippet databases",
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		Flags:                globalFlags,
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
	}
	for _, f := range commandFuncs {
		cmd := f(e)
		cmd.OnUsageError = app.OnUsageError
		app.Commands = append(app.Commands, cmd)
	}
	return app
}

// openRepo opens the repository named by --repo. Options such as repo.WithMarker
// apply to the open; markers are removed when the command ends (see run).
func openRepo(c *cli.Context, extra ...repo.Option) (*repo.Repository, error) {
	loc := c.String("repo")
	if loc == "" {
		return nil, usagef("no repository: pass --repo or set CAIRN_REPOSITORY")
	}
	be, err := location.Open(c.Context, loc, locationOptions(c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", loc, repo.ErrNoRepository)
	}
	if err != nil {
		return nil, err
	}
	pw, err := givenPassword(c)
	if err != nil {
		be.Close()
		return nil, err
	}
	opts := append([]repo.Option{repo.WithPassword(pw, repo.KDFParams{})}, pinOptions(c)...)
	opts = append(opts, extra...)
	r, err := repo.Open(c.Context, be, opts...)
	if errors.Is(err, repo.ErrPasswordNeeded) && pw == "" {
		if pw, err = promptPassword("repository password", false); err == nil {
			opts[0] = repo.WithPassword(pw, repo.KDFParams{})
			r, err = repo.Open(c.Context, be, opts...)
		} else if errors.Is(err, repo.ErrPasswordNeeded) {
			err = fmt.Errorf("%w: pass --password-file, set CAIRN_PASSWORD, or run on a terminal", err)
		}
	}
	if err != nil {
		be.Close()
		return nil, err
	}
	if err := keepLists(r, loc, locationOptions(c)); err != nil {
		r.Release(c.Context)
		be.Close()
		return nil, err
	}
	opened.Lock()
	opened.repos = append(opened.repos, r)
	opened.Unlock()
	return r, nil
}

// opened are the repositories this run opened; run releases their markers at the end.
var opened struct {
	sync.Mutex
	repos []*repo.Repository
}

func releaseAll() {
	opened.Lock()
	defer opened.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range opened.repos {
		r.Release(ctx)
	}
	opened.repos = nil
}

// keepLists gives a remote repository a local store of its chunk lists, beside the
// cache of its index files and manifests.
func keepLists(r *repo.Repository, loc string, opt location.Options) error {
	if opt.CacheDir == "" || !location.Remote(loc) {
		return nil
	}
	s, err := repo.NewDirListStore(filepath.Join(opt.CacheDir, "lists"), r.Config())
	if err != nil {
		return err
	}
	r.SetListStore(s)
	return nil
}

// pinOptions remembers each repository's id and encryption in the cache folder's
// pins/, with --no-cache too (which only stops the copies of objects).
func pinOptions(c *cli.Context) []repo.Option {
	dir := c.String("cache-dir")
	if dir == "" {
		return nil
	}
	return []repo.Option{repo.WithPins(repo.Pins{Dir: filepath.Join(dir, "pins")})}
}

// locationOptions reads the global transport flags.
func locationOptions(c *cli.Context) location.Options {
	opt := location.Options{
		Connections:   c.Int("connections"),
		LimitUpload:   int64(c.Int("limit-upload")) << 10,
		LimitDownload: int64(c.Int("limit-download")) << 10,
		CacheDir:      c.String("cache-dir"),
	}
	if c.Bool("no-cache") {
		opt.CacheDir = ""
	}
	return opt
}

// loadSnapshot opens the repository and finds one snapshot by id or prefix.
func loadSnapshot(c *cli.Context, r *repo.Repository, ref string) (*repo.Snapshot, error) {
	list, err := r.Snapshots(c.Context)
	if err != nil {
		return nil, err
	}
	return engine.FindSnapshot(list, ref)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// needArgs checks the count of positional arguments.
func needArgs(c *cli.Context, min, max int, usage string) error {
	n := c.Args().Len()
	if n < min || n > max {
		return usagef("%s: usage: cairn %s %s", c.Command.Name, c.Command.Name, usage)
	}
	return nil
}

// flagsFirst moves a command's flags before its positional arguments, so that
// "cairn restore latest --target DIR" works as restic users expect (the CLI library
// stops reading flags at the first positional argument).
func flagsFirst(app *cli.App, args []string) []string {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	out := append([]string(nil), args[:i+1]...)
	var positional []string
	for j := i + 1; j < len(args); j++ {
		a := args[j]
		switch {
		case a == "--":
			positional = append(positional, args[j:]...)
			j = len(args)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			out = append(out, a)
			if takesValue(append(cmd.Flags, app.Flags...), a) && j+1 < len(args) {
				j++
				out = append(out, args[j])
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}

// takesValue reports whether arg names a flag that reads the next argument.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				return !isBool
			}
		}
	}
	return false
}
