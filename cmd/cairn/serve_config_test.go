package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveConfig runs cairn serve --print-config on a data folder holding file as its
// cairn.toml (none when empty), with extra arguments.
func serveConfig(t *testing.T, file string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	if file != "" {
		if err := os.WriteFile(filepath.Join(dir, configFileName), []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"cairn", "serve", "--data", dir, "--print-config"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestServeConfigPrecedence: a flag beats its environment variable, which beats
// cairn.toml, which beats the default; --print-config shows each value and where it
// came from, and never a secret.
func TestServeConfigPrecedence(t *testing.T) {
	file := `
[daemon]
device = "from-file"
addr = "127.0.0.1:2000"

[schedule]
backup_every = "2h"

[retention]
keep_last = 7
keep_daily = 3

[repository]
location = "rest:https://alice:hunter2@backup.example/repo"
password_command = "echo s3cret-pass"

[notifications]
url = "https://hooks.example/T0K3N?key=abc"
`
	t.Setenv("CAIRN_KEEP_LAST", "5")
	t.Setenv("CAIRN_DEVICE", "from-env")
	code, out, errb := serveConfig(t, file, "--device", "from-flag", "--keep-daily", "9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	for _, want := range []string{
		`device = "from-flag" # flag or environment`, // flag over env over file
		`keep_last = 5 # flag or environment`,        // env over file
		`keep_daily = 9 # flag or environment`,       // flag over file
		`addr = "127.0.0.1:2000" # cairn.toml`,       // file over default
		`backup_every = "2h0m0s" # cairn.toml`,
		`keep_weekly = 0 # default`,
		`prune = true # default`,
		`[schedule]`, `[retention]`, `[check]`, `[replication]`, `[notifications]`, `[repository]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"hunter2", "s3cret-pass", "T0K3N", "key=abc"} {
		if strings.Contains(out, secret) {
			t.Errorf("--print-config shows the secret %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "alice:xxxxx@backup.example") {
		t.Errorf("the repository location is not shown with its password hidden:\n%s", out)
	}
	// The repository's global flag beats the file too.
	_, out, _ = serveConfig(t, file, "--repo", "/elsewhere")
	if !strings.Contains(out, `location = "/elsewhere" # flag or environment`) {
		t.Errorf("--repo does not beat the file:\n%s", out)
	}
}

// TestServeConfigBadFile: a settings file with a syntax error, an unknown key, a
// value of the wrong type or a bad value is refused at start, naming its line and the
// reason.
func TestServeConfigBadFile(t *testing.T) {
	cases := []struct {
		name, file string
		want       []string
	}{
		{"syntax", "[schedule]\nbackup_every = \"1h\"\nkeep_last = = 3\n", []string{"line 3"}},
		{"unknown key", "[schedule]\nbackup_every = \"1h\"\n\n[retention]\nkeep_lats = 3\n", []string{"line 5", "unknown setting retention.keep_lats", "keep_last"}},
		{"unknown section", "[daemon]\naddr = \"127.0.0.1:1\"\n[sched]\nevery = \"1h\"\n", []string{"line 4", "unknown setting sched.every"}},
		{"wrong type", "[retention]\n\nkeep_last = \"three\"\n", []string{"line 3", "retention.keep_last"}},
		{"bad duration", "[schedule]\nbackup_every = \"soon\"\n", []string{"line 2", "schedule.backup_every"}},
		{"bad daily time", "[schedule]\n# nightly\nbackup_at = \"25:00\"\n", []string{"line 3", "schedule.backup_at", "HH:MM"}},
		{"bad url", "[notifications]\nurl = \"ftp://x\"\n", []string{"line 2", "notifications.url"}},
		{"bad retention span", "[retention]\nkeep_last = 2\nkeep_within = \"soon\"\n", []string{"line 3", "retention.keep_within"}},
		{"bad grouping", "[retention]\ngroup_by = \"host\"\n", []string{"line 2", "retention.group_by"}},
		{"bad compression", "[repository]\ncompression = \"best\"\n", []string{"line 2", "repository.compression", "auto, fastest, default or max"}},
		{"bad check subset", "[check]\nevery = \"24h\"\nread_data_subset = \"4/3\"\n", []string{"line 3", "check.read_data_subset"}},
		{"subset and every pack", "[check]\nread_data = true\nread_data_subset = \"1/5\"\n", []string{"line 3", "not both"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errb := serveConfig(t, c.file)
			if code == 0 {
				t.Fatalf("accepted:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(errb, w) {
					t.Errorf("error %q lacks %q", errb, w)
				}
			}
			if !strings.Contains(errb, configFileName) {
				t.Errorf("error %q does not name the file", errb)
			}
		})
	}
	// The same bad value given as a flag is a usage error.
	if code, _, errb := serveConfig(t, "", "--backup-at", "7pm"); code != exitUsage || !strings.Contains(errb, "backup_at") {
		t.Errorf("--backup-at 7pm: exit %d %s", code, errb)
	}
}
