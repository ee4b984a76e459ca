package main

import (
	"os"
	"path/filepath"
	"runtime"
)

// defaultDataDir is the per-user folder of the local database, the default repository
// and its password file, by the conventions of the system cairn runs on (dataDir).
// CAIRN_DATA or --data choose another.
func defaultDataDir() string {
	d, err := dataDir(runtime.GOOS, os.Getenv)
	if err != nil {
		return "cairn-data"
	}
	return d
}

// dataDir is where cairn keeps its data on goos:
//   - Windows: %AppData%\cairn (os.UserConfigDir), roaming with the user's profile;
//   - macOS: ~/Library/Application Support/cairn;
//   - Linux and the BSDs: $XDG_DATA_HOME/cairn, or ~/.local/share/cairn, where cairn
//     has always kept it.
func dataDir(goos string, getenv func(string) string) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("AppData"); d != "" {
			return filepath.Join(d, "cairn"), nil
		}
		return "", errNoFolder("%AppData%")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "cairn"), nil
		}
		return "", errNoFolder("$HOME")
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "cairn"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "cairn"), nil
	}
	return "", errNoFolder("$HOME")
}

// defaultCacheDir is the per-user cache folder (os.UserCacheDir) with cairn in it:
// %LocalAppData%\cairn on Windows, ~/Library/Caches/cairn on macOS,
// $XDG_CACHE_HOME/cairn or ~/.cache/cairn elsewhere. CAIRN_CACHE_DIR or --cache-dir
// choose another.
func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "cairn")
	}
	return ""
}

// errNoFolder says which variable names no folder.
type errNoFolder string

func (e errNoFolder) Error() string { return string(e) + " is not set" }
