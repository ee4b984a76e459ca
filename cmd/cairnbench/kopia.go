package main

import "path/filepath"

// kopiaPeer is kopia (v0.22.3, built from testdata/kopia) on a filesystem repository.
// Everything kopia keeps outside the repository, its config file, content cache and
// logs, lives in the run's own work folder, which is removed after the run, so no run
// starts with another's cache. The global policy compresses with zstd (kopia's default
// is no compression). kopia has no backend for restic's REST protocol, so it is not run
// through rest-server.
func kopiaPeer(kopia string) peer {
	return peer{
		name: "kopia",
		env: func(_, work string) []string {
			dir := filepath.Join(work, "kopia")
			return []string{
				"KOPIA_PASSWORD=bench",
				"KOPIA_CONFIG_PATH=" + filepath.Join(dir, "repository.config"), // --config-file
				"KOPIA_CACHE_DIRECTORY=" + filepath.Join(dir, "cache"),
				"KOPIA_LOG_DIR=" + filepath.Join(dir, "logs"),
				"KOPIA_CHECK_FOR_UPDATES=false",
				"KOPIA_PERSIST_CREDENTIALS_ON_CONNECT=false", // the password comes from KOPIA_PASSWORD
			}
		},
		init: func(repo string) [][]string {
			return [][]string{
				{kopia, "repository", "create", "filesystem", "--path", repo},
				{kopia, "policy", "set", "--global", "--compression", "zstd"},
			}
		},
		backup: func(_, src string, _ int) []string {
			return []string{kopia, "--no-progress", "snapshot", "create", src}
		},
		// A path as the source restores that source's latest snapshot.
		restore: func(_, src, target string) []string {
			return []string{kopia, "--no-progress", "snapshot", "restore", src, filepath.Join(target, "out")}
		},
		check: func(string) []string {
			return []string{kopia, "snapshot", "verify", "--verify-files-percent=100"}
		},
	}
}

// kopiaNote says, under the table's heading, how kopia was run, if it was.
func kopiaNote(kopia string) string {
	if kopia == "" {
		return ""
	}
	return " kopia with its global compression policy set to zstd, on a local repository only: it has no backend for rest-server's protocol."
}
