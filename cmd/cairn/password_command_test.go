package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPasswordCommand: --password-command (or CAIRN_PASSWORD_COMMAND) runs through
// the shell and its output, less the trailing newline, is the password; a failing
// command is an error naming its exit status and never showing what it printed;
// --password-file and --password-command exclude each other.
func TestPasswordCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("written for sh; TestPasswordCommandWindows runs cmd /C")
	}
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	runner{tb: t, repo: repoDir}.ok("init") // with CAIRN_PASSWORD, "test password"
	t.Setenv("CAIRN_PASSWORD", "")
	c := runner{tb: t, repo: repoDir}
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("test password\n"), 0o600)

	for _, cmd := range []string{"echo 'test password'", `printf 'test password\r\n'`, "printf 'test password'", "echo test password | cat"} {
		if r := c.run("snapshots", "--password-command", cmd); r.code != 0 {
			t.Fatalf("--password-command %q: exit %d: %s", cmd, r.code, r.stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"--password-command", "echo 'test password'; exit 3", "snapshots"}, nil, exitFailure, "exit status 3"},
		{[]string{"snapshots", "--password-command", "echo 'test password' >&2; exit 7"}, nil, exitFailure, "exit status 7"},
		{[]string{"snapshots", "--password-command", "echo wrong"}, nil, exitPassword, "wrong password"},
		{[]string{"snapshots", "--password-command", "true"}, nil, exitFailure, "printed no password"},
		{[]string{"snapshots", "--password-command", "echo x", "--password-file", pwFile}, nil, exitUsage, "exclude each other"},
		{[]string{"snapshots", "--password-file", pwFile}, map[string]string{"CAIRN_PASSWORD_COMMAND": "echo x"}, exitUsage, "exclude each other"},
		{[]string{"snapshots", "--password-command", "echo x"}, map[string]string{"CAIRN_PASSWORD_FILE": pwFile}, exitUsage, "exclude each other"},
		{[]string{"snapshots"}, map[string]string{"CAIRN_PASSWORD_COMMAND": "echo 'test password'"}, exitOK, ""},
		{[]string{"snapshots"}, map[string]string{"CAIRN_PASSWORD_COMMAND": "exit 9"}, exitFailure, "exit status 9"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		r := c.run(tc.args...)
		for k := range tc.env {
			os.Unsetenv(k)
		}
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Fatalf("cairn %s (env %v): exit %d, want %d saying %q: %s", strings.Join(tc.args, " "), tc.env, r.code, tc.code, tc.want, r.stderr)
		}
		// (A command's own standard error passes through, as the >&2 case shows.)
		if strings.Contains(r.stdout+r.stderr, "test password") && !strings.Contains(strings.Join(tc.args, " "), ">&2") {
			t.Fatalf("cairn %s printed the password:\n%s%s", strings.Join(tc.args, " "), r.stdout, r.stderr)
		}
	}
}
