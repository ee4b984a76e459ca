package main

import (
	"github.com/urfave/cli/v2"
)

// globalOptions are the options every command takes, before its name or after it
// (cairn -r REPO snapshots, cairn snapshots --repo REPO). Given in both places, the
// one after the command's name wins.
type globalOptions struct {
	Repo            string
	JSON            bool
	NoProgress      bool
	PasswordFile    string
	PasswordCommand string
	LimitUpload     int // KiB/s
	LimitDownload   int // KiB/s
	Connections     int
	CacheDir        string
	NoCache         bool
}

// globalFlag is one global option: how to make its flag over a globalOptions, and
// how to copy its value from one globalOptions to another.
type globalFlag struct {
	name string
	flag func(o *globalOptions, env []string) cli.Flag
	copy func(dst, src *globalOptions)
}

// globalFlagSpecs lists the global options. Their environment variables are read by
// the app's flags only: a command's copy of a flag counts as set only when it is on
// the command line, so CAIRN_REPOSITORY never overrides a --repo given earlier.
func globalFlagSpecs() []globalFlag {
	return []globalFlag{
		stringGlobal("repo", []string{"r"}, "repository location: PATH, local:PATH, rest:http(s)://[user:pass@]host:port/path, or s3:https://host/bucket/prefix (credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
			"", "CAIRN_REPOSITORY", func(o *globalOptions) *string { return &o.Repo }),
		boolGlobal("json", "print machine-readable JSON", func(o *globalOptions) *bool { return &o.JSON }),
		boolGlobal("no-progress", "never draw a progress bar", func(o *globalOptions) *bool { return &o.NoProgress }),
		stringGlobal("password-file", nil, "read the repository password from this file (first line)",
			"", "CAIRN_PASSWORD_FILE", func(o *globalOptions) *string { return &o.PasswordFile }),
		stringGlobal("password-command", nil, "run this shell command and take its output as the repository password",
			"", "CAIRN_PASSWORD_COMMAND", func(o *globalOptions) *string { return &o.PasswordCommand }),
		intGlobal("limit-upload", "upload at most this many KiB/s (0: no limit)", 0, "CAIRN_LIMIT_UPLOAD", func(o *globalOptions) *int { return &o.LimitUpload }),
		intGlobal("limit-download", "download at most this many KiB/s (0: no limit)", 0, "CAIRN_LIMIT_DOWNLOAD", func(o *globalOptions) *int { return &o.LimitDownload }),
		intGlobal("connections", "parallel connections to a repository server", 5, "", func(o *globalOptions) *int { return &o.Connections }),
		stringGlobal("cache-dir", nil, "where to keep copies of a remote repository's index and manifests",
			defaultCacheDir(), "CAIRN_CACHE_DIR", func(o *globalOptions) *string { return &o.CacheDir }),
		boolGlobal("no-cache", "keep no local copies", func(o *globalOptions) *bool { return &o.NoCache }),
	}
}

const globalCategory = "Global options"

func envList(env []string, name string) []string {
	if env == nil || name == "" {
		return nil
	}
	return []string{name}
}

// envUsage names the environment variable in a command's copy of a flag, which does
// not read it (the app's flag does).
func envUsage(usage string, env []string, name string) string {
	if env != nil || name == "" {
		return usage
	}
	return usage + " [$" + name + "]"
}

func stringGlobal(name string, aliases []string, usage, def, env string, field func(*globalOptions) *string) globalFlag {
	return globalFlag{
		name: name,
		flag: func(o *globalOptions, envs []string) cli.Flag {
			return &cli.StringFlag{Name: name, Aliases: aliases, Usage: envUsage(usage, envs, env), Value: def, EnvVars: envList(envs, env),
				Category: globalCategory, Destination: field(o)}
		},
		copy: func(dst, src *globalOptions) { *field(dst) = *field(src) },
	}
}

func boolGlobal(name, usage string, field func(*globalOptions) *bool) globalFlag {
	return globalFlag{
		name: name,
		flag: func(o *globalOptions, _ []string) cli.Flag {
			return &cli.BoolFlag{Name: name, Usage: usage, Category: globalCategory, Destination: field(o)}
		},
		copy: func(dst, src *globalOptions) { *field(dst) = *field(src) },
	}
}

func intGlobal(name, usage string, def int, env string, field func(*globalOptions) *int) globalFlag {
	return globalFlag{
		name: name,
		flag: func(o *globalOptions, envs []string) cli.Flag {
			return &cli.IntFlag{Name: name, Usage: envUsage(usage, envs, env), Value: def, EnvVars: envList(envs, env),
				Category: globalCategory, Destination: field(o)}
		},
		copy: func(dst, src *globalOptions) { *field(dst) = *field(src) },
	}
}

// appGlobalFlags are the global flags of the app itself, read into o, with their
// environment variables.
func appGlobalFlags(o *globalOptions) []cli.Flag {
	var flags []cli.Flag
	for _, g := range globalFlagSpecs() {
		flags = append(flags, g.flag(o, []string{}))
	}
	return flags
}

// offerGlobals gives cmd, and each of its subcommands, its own copy of the global
// flags; what is set on a command's line is copied into o before the command runs.
func offerGlobals(cmd *cli.Command, o *globalOptions) {
	specs := globalFlagSpecs()
	local := &globalOptions{}
	for _, g := range specs {
		cmd.Flags = append(cmd.Flags, g.flag(local, nil))
	}
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		for _, g := range specs {
			if c.IsSet(g.name) {
				g.copy(o, local)
			}
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	for _, sub := range cmd.Subcommands {
		offerGlobals(sub, o)
	}
}
