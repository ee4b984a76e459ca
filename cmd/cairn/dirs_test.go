package main

import (
	"path/filepath"
	"testing"
)

// TestDataDir: the data folder follows each system's conventions, and Linux keeps the
// folder existing users have.
func TestDataDir(t *testing.T) {
	for _, tc := range []struct {
		goos string
		env  map[string]string
		want string // "" when no folder can be told
	}{
		{"linux", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/cairn"},
		{"linux", map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/data"}, "/data/cairn"},
		{"freebsd", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/cairn"},
		{"linux", map[string]string{}, ""},
		{"darwin", map[string]string{"HOME": "/Users/u", "XDG_DATA_HOME": "/data"}, "/Users/u/Library/Application Support/cairn"},
		{"darwin", map[string]string{}, ""},
		{"windows", map[string]string{"AppData": `C:\Users\u\AppData\Roaming`, "HOME": "/home/u"}, filepath.Join(`C:\Users\u\AppData\Roaming`, "cairn")},
		{"windows", map[string]string{"HOME": "/home/u"}, ""},
	} {
		got, err := dataDir(tc.goos, func(k string) string { return tc.env[k] })
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s %v: %q, want an error", tc.goos, tc.env, got)
			}
			continue
		}
		if err != nil || got != filepath.FromSlash(tc.want) && got != tc.want {
			t.Errorf("%s %v: %q, %v; want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
}
