package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"

	"cairn/transport/location"
)

// configFileName is the daemon's settings file in its data folder.
const configFileName = "cairn.toml"

// setting is one setting of cairn serve: a key of a section of cairn.toml, a flag and
// an environment variable. A flag beats its environment variable, which beats the
// file, which beats the flag's default.
type setting struct {
	section, key string
	flag         cli.Flag
	dest         any // *string, *int, *bool or *time.Duration: where the value goes
	// given reports whether the flag or its environment variable set the value (the
	// repository's settings are global flags, read by the app).
	given  func(c *cli.Context) bool
	secret bool // never printed: it may hold a password or a token
}

// from is where a setting's value came from.
func (s setting) from(c *cli.Context, file bool) string {
	switch {
	case s.given(c):
		return "flag or environment"
	case file:
		return configFileName
	}
	return "default"
}

func flagName(f cli.Flag) string { return f.Names()[0] }

// envName is the environment variable of a serve flag: CAIRN_ and the flag's name
// in capitals with underscores.
func envName(flag string) []string {
	return []string{"CAIRN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// serveSettings lists every setting of cairn serve, reading into o and, for the
// repository section, into the global options g.
func serveSettings(o *serveOptions, g *globalOptions) []setting {
	host, _ := os.Hostname()
	flagSet := func(c *cli.Context, name string) bool { return c.IsSet(name) }
	str := func(section, key, name, usage, def string, dest *string) setting {
		return setting{section: section, key: key, dest: dest,
			flag:  &cli.StringFlag{Name: name, Usage: usage, Value: def, EnvVars: envName(name), Destination: dest},
			given: func(c *cli.Context) bool { return flagSet(c, name) }}
	}
	integer := func(section, key, name, usage string, dest *int) setting {
		return setting{section: section, key: key, dest: dest,
			flag:  &cli.IntFlag{Name: name, Usage: usage, EnvVars: envName(name), Destination: dest},
			given: func(c *cli.Context) bool { return flagSet(c, name) }}
	}
	boolean := func(section, key, name, usage string, def bool, dest *bool) setting {
		return setting{section: section, key: key, dest: dest,
			flag:  &cli.BoolFlag{Name: name, Usage: usage, Value: def, EnvVars: envName(name), Destination: dest},
			given: func(c *cli.Context) bool { return flagSet(c, name) }}
	}
	duration := func(section, key, name, usage string, def time.Duration, dest *time.Duration) setting {
		return setting{section: section, key: key, dest: dest,
			flag:  &cli.DurationFlag{Name: name, Usage: usage, Value: def, EnvVars: envName(name), Destination: dest},
			given: func(c *cli.Context) bool { return flagSet(c, name) }}
	}
	global := func(key string, dest *string, secret bool) setting {
		// The global flag (and its environment variable) is read by the app; the value
		// is set when it was given.
		return setting{section: "repository", key: key, dest: dest, secret: secret,
			given: func(*cli.Context) bool { return *dest != "" }}
	}
	secret := func(s setting) setting { s.secret = true; return s }
	return []setting{
		str("daemon", "addr", "addr", "loopback address to listen on", "127.0.0.1:1000", &o.Addr),
		str("daemon", "device", "device", "device name recorded in backups", host, &o.Device),
		str("daemon", "platform", "platform", "platform recorded in backups", platformName(), &o.Platform),
		boolean("daemon", "verbose", "verbose", "log every request", false, &o.Verbose),

		global("location", &g.Repo, false),
		global("password_file", &g.PasswordFile, false),
		global("password_command", &g.PasswordCommand, true),
		str("repository", "compression", "compression", compressionUsage, "auto", &o.Compression),

		duration("schedule", "backup_every", "backup-every", "back up the database every `DURATION` (0: only when a client asks)", 0, &o.BackupEvery),
		str("schedule", "backup_at", "backup-at", "back up the database every day at this local time (`HH:MM`)", "", &o.BackupAt),

		integer("retention", "keep_last", "keep-last", "after a scheduled backup, keep the last `N` snapshots of this device", &o.Keep.Last),
		integer("retention", "keep_hourly", "keep-hourly", "keep the last snapshot of each of the last `N` hours", &o.Keep.Hourly),
		integer("retention", "keep_daily", "keep-daily", "keep the last snapshot of each of the last `N` days", &o.Keep.Daily),
		integer("retention", "keep_weekly", "keep-weekly", "keep the last snapshot of each of the last `N` weeks", &o.Keep.Weekly),
		integer("retention", "keep_monthly", "keep-monthly", "keep the last snapshot of each of the last `N` months", &o.Keep.Monthly),
		integer("retention", "keep_yearly", "keep-yearly", "keep the last snapshot of each of the last `N` years", &o.Keep.Yearly),
		str("retention", "keep_within", "keep-within", "keep every snapshot younger than `SPAN` before the newest (36h, 7d, 1y2m: m is months, as in forget)", "", &o.KeepWithin),
		str("retention", "group_by", "group-by", "apply the retention rules within each group of this device's snapshots: device, tags, device,tags or none", "device", &o.GroupBy),
		boolean("retention", "prune", "prune", "prune after a scheduled backup (and its retention)", true, &o.Prune),

		duration("check", "every", "check-every", "check the repository after a scheduled backup when the last check is older than `DURATION` (0: never)", 0, &o.CheckEvery),
		boolean("check", "read_data", "check-read-data", "scheduled checks read and verify every pack", false, &o.CheckReadData),
		str("check", "read_data_subset", "check-read-data-subset", "scheduled checks read only some packs: `N/T` (the part moves on with each check, so T checks read everything), P% or a size such as 200MiB (a byte budget for a thin link)", "", &o.CheckSubset),

		str("replication", "copy_to", "copy-to", "after a scheduled backup, copy the snapshots to the repository at `LOCATION`", "", &o.CopyTo),
		str("replication", "password_file", "copy-to-password-file", "read the copy target's password from this `FILE` (else CAIRN_TO_PASSWORD)", "", &o.CopyToPasswordFile),

		secret(str("notifications", "url", "notify-url", "POST a JSON event to this `URL` when a scheduled step fails, and when it works again", "", &o.NotifyURL)),
	}
}

// serveFlags are the flags of serve's settings.
func serveFlags(settings []setting) []cli.Flag {
	var out []cli.Flag
	for _, s := range settings {
		if s.flag != nil {
			out = append(out, s.flag)
		}
	}
	return out
}

// errBadConfig marks a settings file the daemon refuses.
var errBadConfig = errors.New("bad settings file")

// loadConfig reads the settings file at name into the settings that no flag or
// environment variable set, and returns the keys it held ("section.key") with their
// lines. No file is no settings. An
// unknown section or key, a value of the wrong type or one that does not parse is
// refused with its line.
func loadConfig(c *cli.Context, name string, settings []setting) (map[string]int, error) {
	raw, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	var file map[string]map[string]toml.Primitive
	md, err := toml.Decode(string(raw), &file)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: line %d: %s: %w", name, pe.Position.Line, pe.Message, errBadConfig)
		}
		return nil, fmt.Errorf("%s: %v: %w", name, err, errBadConfig)
	}
	seen := map[string]int{}
	for _, section := range sortedKeys(file) {
		for _, key := range sortedKeys(file[section]) {
			i := slices.IndexFunc(settings, func(s setting) bool { return s.section == section && s.key == key })
			if i < 0 {
				return nil, fmt.Errorf("%s: line %d: unknown setting %s.%s (known: %s): %w",
					name, keyLine(raw, section, key), section, key, knownKeys(settings, section), errBadConfig)
			}
			s := settings[i]
			seen[section+"."+key] = keyLine(raw, section, key)
			if s.given(c) {
				continue
			}
			if err := md.PrimitiveDecode(file[section][key], s.dest); err != nil {
				return nil, fmt.Errorf("%s: line %d: %s.%s: %v: %w", name, keyLine(raw, section, key), section, key, tomlReason(err), errBadConfig)
			}
		}
	}
	// Whatever the map above left undecoded (a section that is not a table, say).
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		if _, ok := seen[k[0]+"."+k[len(k)-1]]; len(k) != 2 || !ok {
			return nil, fmt.Errorf("%s: unknown or misplaced setting %s: %w", name, k, errBadConfig)
		}
	}
	return seen, nil
}

// tomlReason is the reason of a decoding error without the library's prefix.
func tomlReason(err error) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Message
	}
	msg := err.Error()
	if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "toml:") && i > 0 {
		return msg[i+3:]
	}
	return strings.TrimPrefix(msg, "toml: ")
}

// keyLine finds the line of key in section of a TOML file: the first line that
// assigns it under that section's header. 0 when not found.
func keyLine(raw []byte, section, key string) int {
	sc := bufio.NewScanner(bytes.NewReader(raw))
	cur, n := "", 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			cur = strings.Trim(strings.TrimSpace(strings.Trim(line, "[]")), `"' `)
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if cur == section && k == key || cur == "" && k == section+"."+key {
			return n
		}
		if cur == "" && k == section {
			return n // an inline table
		}
	}
	return 0
}

func knownKeys(settings []setting, section string) string {
	var keys []string
	for _, s := range settings {
		if s.section == section {
			keys = append(keys, s.key)
		}
	}
	if len(keys) == 0 {
		var sections []string
		for _, s := range settings {
			if !slices.Contains(sections, s.section) {
				sections = append(sections, s.section)
			}
		}
		return "sections " + strings.Join(sections, ", ")
	}
	return strings.Join(keys, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// printConfig writes the effective settings as a TOML file, each with where its
// value came from. Secrets are never shown, nor the passwords and tokens of URLs.
func printConfig(w io.Writer, c *cli.Context, name string, settings []setting, fromFile map[string]int) {
	fmt.Fprintf(w, "# cairn serve: effective settings (file %s)\n", name)
	section := ""
	for _, s := range settings {
		if s.section != section {
			section = s.section
			fmt.Fprintf(w, "\n[%s]\n", section)
		}
		_, inFile := fromFile[s.section+"."+s.key]
		fmt.Fprintf(w, "%s = %s # %s\n", s.key, tomlValue(s), s.from(c, inFile))
	}
}

// tomlValue is a setting's value as TOML, secrets and credentials hidden.
func tomlValue(s setting) string {
	switch v := s.dest.(type) {
	case *string:
		switch {
		case s.secret && *v != "":
			return strconv.Quote("(set, not shown)")
		case s.secret:
			return `""`
		}
		return strconv.Quote(location.Redact(*v))
	case *int:
		return strconv.Itoa(*v)
	case *bool:
		return strconv.FormatBool(*v)
	case *time.Duration:
		return strconv.Quote(v.String())
	}
	return `""`
}

// configPath is the settings file of a data folder.
func configPath(data string) string { return filepath.Join(data, configFileName) }
