package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"cairn/repo"
)

// Passwords come from a file, the environment, or a prompt on the terminal, in that
// order; they are never printed or logged.
var (
	passwordFileFlag = &cli.StringFlag{Name: "password-file", Usage: "read the repository password from this file (first line)", EnvVars: []string{"CAIRN_PASSWORD_FILE"}}
	kdfFlags         = []cli.Flag{
		&cli.StringFlag{Name: "kdf-memory", Usage: "argon2id memory for a new key slot", Value: "32MiB", EnvVars: []string{"CAIRN_KDF_MEMORY"}},
		&cli.IntFlag{Name: "kdf-time", Usage: "argon2id passes for a new key slot", Value: int(repo.DefaultKDF.Time), EnvVars: []string{"CAIRN_KDF_TIME"}},
	}
)

// kdfParams reads --kdf-memory and --kdf-time. Their bounds are those a repository
// accepts of a key slot (repo.KDFParams.Validate): a slot it would skip is never made.
func kdfParams(c *cli.Context) (repo.KDFParams, error) {
	mem, err := parseSize(c.String("kdf-memory"))
	if err != nil {
		return repo.KDFParams{}, usagef("--kdf-memory: %v", err)
	}
	passes := c.Int("kdf-time")
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

// givenPassword is the password from --password-file or CAIRN_PASSWORD, or "".
func givenPassword(c *cli.Context) (string, error) {
	if f := c.String("password-file"); f != "" {
		return readPasswordFile(f)
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

// newPassword is the password for a new key slot: --new-password-file,
// CAIRN_NEW_PASSWORD, or a prompt asked twice.
func newPassword(c *cli.Context) (string, error) {
	if f := c.String("new-password-file"); f != "" {
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
