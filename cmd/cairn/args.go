package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// completionFlag is what a shell's completion script appends to the line being
// completed (see cmd_completion.go).
const completionFlag = "--generate-bash-completion"

// interspersed moves each command's flags before its positional arguments, so that
// "cairn restore latest --target DIR" works as restic users expect: the CLI library
// stops reading a command's flags at its first positional argument. Whatever follows
// "--" stays as it is, as do the command of backup --stdin-from-command CMD ARGS...
// (with or without "--" before it) and a line being completed. "help CMD" becomes
// "CMD --help".
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 || args[len(args)-1] == completionFlag {
		return args
	}
	out := []string{args[0]}
	flags, cmds, rest := app.Flags, app.Commands, args[1:]
	for {
		i := 0
		for i < len(rest) && isFlag(rest[i]) {
			if takesValue(flags, rest[i]) {
				i++
			}
			i++
		}
		i = min(i, len(rest))
		out, rest = append(out, rest[:i]...), rest[i:]
		if len(rest) == 0 {
			return out
		}
		if len(rest) > 1 && (rest[0] == "help" || rest[0] == "h") && findCommand(cmds, rest[1]) != nil {
			// help CMD [SUB] is CMD [SUB] --help: the library's help command
			// lists no subcommands and reads one name only.
			rest = append(append([]string(nil), rest[1:]...), "--help")
			continue
		}
		cmd := findCommand(cmds, rest[0])
		if cmd == nil { // "--", an unknown command, or help: left to the library
			return append(out, rest...)
		}
		out, rest = append(out, rest[0]), rest[1:]
		if len(cmd.Subcommands) > 0 {
			flags, cmds = cmd.Flags, cmd.Subcommands
			continue
		}
		var flagArgs, positional []string
		for j := 0; j < len(rest); j++ {
			a := rest[j]
			switch {
			case a == "--":
				positional = append(positional, rest[j:]...)
				j = len(rest)
			case a == "--help" || a == "-h":
				return append(out, a) // help alone: the library reads arguments beside it as a topic
			case isFlag(a):
				flagArgs = append(flagArgs, a)
				if takesValue(cmd.Flags, a) && j+1 < len(rest) {
					j++
					flagArgs = append(flagArgs, rest[j])
				}
			case takesCommand(flagArgs):
				// The rest is the command to run, its flags included.
				positional = append(positional, rest[j:]...)
				j = len(rest)
			default:
				positional = append(positional, a)
			}
		}
		return append(append(out, flagArgs...), positional...)
	}
}

// takesCommand reports whether flags ask to run the command that the positional
// arguments name (backup --stdin-from-command CMD ARGS...).
func takesCommand(flags []string) bool {
	for _, f := range flags {
		if f == "--stdin-from-command" || f == "--stdin-from-command=true" {
			return true
		}
	}
	return false
}

// isFlag reports whether arg is a flag; "-" alone is an argument (standard input).
func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' && arg != "--" }

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
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
