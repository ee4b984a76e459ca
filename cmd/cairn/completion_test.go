package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCompletionScripts: each shell accepts its script, the fish script names every
// command, and the bash script, sourced in a real bash with cairn on its PATH,
// completes commands and flags by asking cairn.
func TestCompletionScripts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the completion scripts are for bash, zsh and fish, which Windows lacks")
	}
	app := newApp(&env{})
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := bare(t, "completion", shell)
		if r.code != 0 || r.stdout == "" {
			t.Fatalf("completion %s: exit %d: %s", shell, r.code, r.stderr)
		}
		script := filepath.Join(dir, "cairn."+shell)
		if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		if shell == "fish" {
			for _, cmd := range app.Commands {
				if !strings.Contains(r.stdout, "'"+cmd.Name+"'") {
					t.Fatalf("the fish script does not name %s", cmd.Name)
				}
			}
		} else if !strings.Contains(r.stdout, completionFlag) || !strings.Contains(r.stdout, "cairn") {
			t.Fatalf("the %s script does not ask cairn:\n%s", shell, r.stdout)
		}
		path, err := exec.LookPath(shell)
		if err != nil {
			if shell == "bash" {
				t.Fatal("bash is not installed")
			}
			t.Logf("%s is not installed: its script's syntax is not checked", shell)
			continue
		}
		if out, err := exec.Command(path, "-n", script).CombinedOutput(); err != nil {
			t.Fatalf("%s -n rejects its script: %v\n%s", shell, err, out)
		}
	}
	if r := bare(t, "completion", "tcsh"); r.code != exitUsage {
		t.Fatalf("completion tcsh: exit %d", r.code)
	}

	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.Symlink(cairnBinary(t), filepath.Join(bin, "cairn")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string // the line; the last word is the one being completed
		want  []string
		not   []string
	}{
		{[]string{"cairn", ""}, []string{"backup", "snapshots", "completion", "version"}, nil},
		{[]string{"cairn", "sn"}, []string{"snapshots"}, []string{"backup"}},
		{[]string{"cairn", "-r", "/tmp/x", "re"}, []string{"restore", "repair"}, []string{"backup"}},
		{[]string{"cairn", "backup", "--stdin-"}, []string{"--stdin-collection", "--stdin-from-command"}, []string{"--tag"}},
		{[]string{"cairn", "restore", "latest", "--ta"}, []string{"--target"}, nil},
		{[]string{"cairn", "snapshots", "--re"}, []string{"--repo"}, nil},
		{[]string{"cairn", "key", ""}, []string{"list", "add", "remove", "passwd"}, nil},
		{[]string{"cairn", "--"}, []string{"--repo", "--version", "--password-command"}, nil},
	} {
		quoted := make([]string, len(tc.words))
		for i, w := range tc.words {
			quoted[i] = "'" + w + "'"
		}
		line := "source " + filepath.Join(dir, "cairn.bash") + "\n" +
			"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=" + string(rune('0'+len(tc.words)-1)) + "\n" +
			"_cairn_complete\n" +
			`printf '%s\n' "${COMPREPLY[@]}"` + "\n"
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", line)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", tc.words, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !contains(got, w) {
				t.Fatalf("completing %q offers %q, not %q", tc.words, got, w)
			}
		}
		for _, w := range tc.not {
			if contains(got, w) {
				t.Fatalf("completing %q offers %q, with %q", tc.words, got, w)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
