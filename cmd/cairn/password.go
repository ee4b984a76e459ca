package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"cairn/repo"
)

// Passwords come from a file or a command, the environment, or a prompt on the
// terminal, in that order; they are never printed or logged.

// kdfOptions are the argon2id settings of a new key slot.
type kdfOptions struct {
	Memory string
	Time   int
}

func kdfFlags(o *kdfOptions) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "kdf-memory", Usage: "argon2id memory for a new key slot", Value: "32MiB", EnvVars: []string{"CAIRN_KDF_MEMORY"}, Destination: &o.Memory},
		&cli.IntFlag{Name: "kdf-time", Usage: "argon2id passes for a new key slot", Value: int(repo.DefaultKDF.Time), EnvVars: []string{"CAIRN_KDF_TIME"}, Destination: &o.Time},
	}
}

// params reads --kdf-memory and --kdf-time. Their bounds are those a repository
// accepts of a key slot (repo.KDFParams.Validate): a slot it would skip is never made.
func (o kdfOptions) params() (repo.KDFParams, error) {
	mem, err := parseSize(o.Memory)
	if err != nil {
		return repo.KDFParams{}, usagef("--kdf-memory: %v", err)
	}
	passes := o.Time
	if mem>>10 < repo.MinKDFMemoryKiB || mem>>10 > repo.MaxKDFMemoryKiB || passes < 1 || passes > repo.MaxKDFTime {
		return repo.KDFParams{}, usagef("--kdf-memory must be between %dKiB and %dGiB and --kdf-time between 1 and %d",
			repo.MinKDFMemoryKiB, repo.MaxKDFMemoryKiB>>20, repo.MaxKDFTime)
	}
	p := repo.KDFParams{Time: uint32(passes), MemoryKiB: uint32(mem >> 10), Threads: repo.DefaultKDF.Threads}
	if err := p.Validate(); err != nil {
		return p, usagef("--kdf-memory and --kdf-time: %v (at most %dGiB of memory times passes)", err, repo.MaxKDFWork>>20)
	}
	return p, nil
}

// givenPassword is the password from --password-file or --password-command (which
// exclude each other, as in restic), else CAIRN_PASSWORD, else "".
func (e *env) givenPassword(ctx context.Context) (string, error) {
	file, command := e.opts.PasswordFile, e.opts.PasswordCommand
	switch {
	case file != "" && command != "":
		return "", usagef("--password-file and --password-command (or CAIRN_PASSWORD_FILE and CAIRN_PASSWORD_COMMAND) exclude each other: give one")
	case file != "":
		return readPasswordFile(file)
	case command != "":
		return runPasswordCommand(ctx, command, e.stderr)
	}
	return os.Getenv("CAIRN_PASSWORD"), nil
}

func readPasswordFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", name)
	}
	return pw, nil
}

// promptPassword asks on the terminal; confirm asks twice. It fails when there is no
// terminal to ask on.
func promptPassword(what string, confirm bool) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		if tty != nil {
			tty.Close()
		}
		return "", repo.ErrPasswordNeeded
	}
	defer tty.Close()
	ask := func(prompt string) (string, error) {
		fmt.Fprint(tty, prompt)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(b), err
	}
	pw, err := ask("enter " + what + ": ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("empty password")
	}
	if confirm {
		again, err := ask("enter " + what + " again: ")
		if err != nil {
			return "", err
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	return pw, nil
}

// newPassword is the password for a new key slot: --new-password-file (file),
// CAIRN_NEW_PASSWORD, or a prompt asked twice.
func newPassword(file string) (string, error) {
	if f := file; f != "" {
		return readPasswordFile(f)
	}
	if pw := os.Getenv("CAIRN_NEW_PASSWORD"); pw != "" {
		return pw, nil
	}
	pw, err := promptPassword("new password", true)
	if errors.Is(err, repo.ErrPasswordNeeded) {
		return "", usagef("no new password: pass --new-password-file, set CAIRN_NEW_PASSWORD, or run on a terminal")
	}
	return pw, err
}
