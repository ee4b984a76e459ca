package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"cairn/repo"
)

// newKeyOptions are the options of key add and key passwd.
type newKeyOptions struct {
	NewPasswordFile string
	KDF             kdfOptions
}

func (o *newKeyOptions) flags() []cli.Flag {
	return append([]cli.Flag{&cli.StringFlag{Name: "new-password-file", Usage: "read the new password from this file (else CAIRN_NEW_PASSWORD, else a prompt)",
		Destination: &o.NewPasswordFile}}, kdfFlags(&o.KDF)...)
}

func keyCommand(e *env) *cli.Command {
	var add, passwd newKeyOptions
	return &cli.Command{
		Name:  "key",
		Usage: "manage the passwords (key slots) of an encrypted repository",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the key slots",
				ArgsUsage: " ",
				Action: func(c *cli.Context) error {
					if err := needArgs(c, 0, 0, ""); err != nil {
						return err
					}
					r, err := e.openRepo(c.Context)
					if err != nil {
						return err
					}
					keys, err := r.Keys(c.Context)
					if err != nil {
						return err
					}
					if e.opts.JSON {
						return printJSON(e.stdout, keys)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, " \tslot\tcreated\tuser\thost\targon2id")
					for _, k := range keys {
						cur := " "
						if k.Current {
							cur = "*"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\tt=%d m=%s p=%d\n", cur, k.Name[:12], k.Created.Local().Format("2006-01-02 15:04:05"),
							k.Username, k.Hostname, k.Time, humanBytes(int64(k.MemoryKiB)<<10), k.Threads)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "add",
				Usage:     "add a key slot for another password",
				ArgsUsage: " ",
				Flags:     add.flags(),
				Action: func(c *cli.Context) error {
					return add.newKeySlot(c, e, (*repo.Repository).AddKey, "added", "added key slot %s\n")
				},
			},
			{
				Name:      "remove",
				Usage:     "remove a key slot (not the one in use)",
				ArgsUsage: "SLOT",
				Action: func(c *cli.Context) error {
					if err := needArgs(c, 1, 1, "SLOT"); err != nil {
						return err
					}
					r, err := e.openRepo(c.Context)
					if err != nil {
						return err
					}
					keys, err := r.Keys(c.Context)
					if err != nil {
						return err
					}
					var match []string
					for _, k := range keys {
						if len(c.Args().First()) >= 4 && len(k.Name) >= len(c.Args().First()) && k.Name[:len(c.Args().First())] == c.Args().First() {
							match = append(match, k.Name)
						}
					}
					switch len(match) {
					case 0:
						return usagef("no key slot %q (cairn key list shows them)", c.Args().First())
					case 1:
					default:
						return usagef("%q names %d key slots; give more of the name", c.Args().First(), len(match))
					}
					if err := r.RemoveKey(c.Context, match[0]); err != nil {
						return err
					}
					if e.opts.JSON {
						return printJSON(e.stdout, map[string]string{"removed": match[0]})
					}
					fmt.Fprintf(e.stdout, "removed key slot %s\n", match[0][:12])
					return nil
				},
			},
			{
				Name:      "passwd",
				Usage:     "change the password of the key slot in use",
				ArgsUsage: " ",
				Flags:     passwd.flags(),
				Action: func(c *cli.Context) error {
					return passwd.newKeySlot(c, e, (*repo.Repository).ChangePassword, "slot", "password changed (key slot %s)\n")
				},
			},
		},
	}
}

// newKeySlot asks for a new password and stores a slot for it with store (AddKey, or
// ChangePassword, which also removes the slot in use).
func (o *newKeyOptions) newKeySlot(c *cli.Context, e *env, store func(*repo.Repository, context.Context, string, repo.KDFParams) (string, error), jsonKey, text string) error {
	if err := needArgs(c, 0, 0, ""); err != nil {
		return err
	}
	kdf, err := o.KDF.params()
	if err != nil {
		return err
	}
	r, err := e.openRepo(c.Context)
	if err != nil {
		return err
	}
	pw, err := newPassword(o.NewPasswordFile)
	if err != nil {
		return err
	}
	name, err := store(r, c.Context, pw, kdf)
	if err != nil {
		return err
	}
	if e.opts.JSON {
		return printJSON(e.stdout, map[string]string{jsonKey: name})
	}
	fmt.Fprintf(e.stdout, text, name[:12])
	return nil
}
