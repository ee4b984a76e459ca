package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/urfave/cli/v2"

	"cairn/repo"
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

// env is one run of cairn: its streams, the global options, and the repositories
// it opened.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	isTerminal     bool     // stderr is a terminal: draw progress bars
	args           []string // the command line, for completions
	opts           globalOptions

	mu     sync.Mutex
	opened []*repo.Repository // released when the run ends
}

// run runs one command line with the process's standard input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWithInput(ctx, args, os.Stdin, stdout, stderr)
}

// runWithInput builds the app, runs it, releases what it opened and maps the
// outcome to an exit code.
func runWithInput(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, isTerminal: isTerminal(stderr), args: args}
	app := newApp(e)
	err := app.RunContext(ctx, interspersed(app, args))
	e.release()
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	if !errors.Is(err, errDamaged) {
		fmt.Fprintf(stderr, "cairn: %v\n", err)
	}
	return code
}

// exitCode is the one mapping of errors to exit codes.
func exitCode(ctx context.Context, err error) int {
	var ue usageError
	var ec cli.ExitCoder // the library's help command, asked about no command
	switch {
	case errors.As(err, &ue), errors.As(err, &ec):
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

// commands are cairn's commands, in the order help lists them.
func commands(e *env) []*cli.Command {
	return []*cli.Command{
		initCommand(e), backupCommand(e), snapshotsCommand(e), showCommand(e), lsCommand(e), catCommand(e),
		diffCommand(e), findRecordsCommand(e), logCommand(e), statsCommand(e), restoreCommand(e), forgetCommand(e), pruneCommand(e), checkCommand(e),
		copyCommand(e), generateCommand(e), serveCommand(e), keyCommand(e), repairCommand(e),
		versionCommand(e), completionCommand(e),
	}
}

func newApp(e *env) *cli.App {
	var showVersion bool
	app := &cli.App{
		Name:  "cairn",
		Usage: "deduplicating, incremental backups of Pieces snippet databases",
		UsageText: "cairn [global options] command [command options] [arguments...]\n\n" +
			"Global options go before or after the command's name.\n" +
			"cairn help COMMAND (or cairn COMMAND --help) describes a command.",
		Writer:    e.stdout,
		ErrWriter: e.stderr,
		Flags: append(appGlobalFlags(&e.opts),
			&cli.BoolFlag{Name: "version", Usage: "print cairn's version (as cairn version does)", Destination: &showVersion}),
		HideVersion:          true, // --version above, without the library's package-level printer
		EnableBashCompletion: true,
		BashComplete:         e.complete(nil),
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		Action: func(c *cli.Context) error {
			switch {
			case showVersion:
				return e.printVersion()
			case c.Args().Present():
				return usagef("no command %q (cairn help lists the commands)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	app.Commands = commands(e)
	for _, cmd := range app.Commands {
		prepare(e, cmd, app.OnUsageError)
	}
	return app
}

// prepare gives cmd and its subcommands the global flags, usage errors and flag
// completion.
func prepare(e *env, cmd *cli.Command, onUsage cli.OnUsageErrorFunc) {
	offerGlobals(cmd, &e.opts)
	var walk func(*cli.Command)
	walk = func(c *cli.Command) {
		c.OnUsageError = onUsage
		c.BashComplete = e.complete(c)
		for _, sub := range c.Subcommands {
			walk(sub)
		}
	}
	walk(cmd)
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
