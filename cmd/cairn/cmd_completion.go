package main

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask cairn itself what may come next (complete, below).
var (
	//go:embed completion.bash
	bashCompletion string
	//go:embed completion.zsh
	zshCompletion string
)

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash, zsh or fish)",
		UsageText: "source <(cairn completion bash)     completion in this bash\n" +
			"cairn completion zsh > ~/.zfunc/_cairn  for zsh, with ~/.zfunc in $fpath\n" +
			"cairn completion fish > ~/.config/fish/completions/cairn.fish",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 1, 1, "bash|zsh|fish"); err != nil {
				return err
			}
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(e.stdout, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(e.stdout, zshCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("fish completion: %w", err)
				}
				_, err = fmt.Fprint(e.stdout, script)
				return err
			default:
				return usagef("completion: no script for %q: give bash, zsh or fish", shell)
			}
		},
	}
}

// complete answers a completion request for cmd (nil: the app itself): the flags
// that begin with the word being completed when it begins with "-", else the
// subcommands. It reads this run's command line, whose last word is completionFlag.
func (e *env) complete(cmd *cli.Command) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		var last string
		if n := len(e.args); n > 2 {
			last = e.args[n-2]
		}
		flags, cmds := c.App.Flags, c.App.Commands
		if cmd != nil {
			flags, cmds = cmd.Flags, cmd.Subcommands
		}
		if strings.HasPrefix(last, "-") {
			prefix := strings.TrimLeft(last, "-")
			for _, f := range flags {
				for _, name := range f.Names() {
					if len(name) > 1 && strings.HasPrefix(name, prefix) {
						fmt.Fprintf(e.stdout, "--%s\n", name)
					}
				}
			}
			return
		}
		for _, sub := range cmds {
			if !sub.Hidden {
				fmt.Fprintln(e.stdout, sub.Name)
			}
		}
	}
}
