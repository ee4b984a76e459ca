package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"cairn/chunk"
)

// buildInfo is what cairn version prints.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Modified bool   `json:"modified,omitempty"` // built from a checkout with uncommitted changes
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	SIMD     bool   `json:"simd"` // the vector BLAKE3 kernel hashes chunks
}

// readBuildInfo takes version and commit from the variables of version.go, else from
// what go build recorded.
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, SIMD: chunk.SIMD()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.modified" && commit == "":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

func versionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print cairn's version, commit, Go version, system, and whether SIMD hashing is active",
		ArgsUsage: " ",
		Action: func(c *cli.Context) error {
			if err := needArgs(c, 0, 0, ""); err != nil {
				return err
			}
			return e.printVersion()
		},
	}
}

func (e *env) printVersion() error {
	b := readBuildInfo()
	if e.opts.JSON {
		return printJSON(e.stdout, b)
	}
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	simd := "not active (scalar BLAKE3)"
	if b.SIMD {
		simd = "active (AVX-512 BLAKE3)"
	}
	fmt.Fprintf(e.stdout, "cairn   %s\ncommit  %s\ngo      %s\nsystem  %s/%s\nsimd    %s\n", b.Version, commit, b.Go, b.OS, b.Arch, simd)
	return nil
}
