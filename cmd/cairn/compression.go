package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"cairn/repo"
)

// compressionUsage is the help of --compression and of the daemon's setting.
const compressionUsage = "compress new data at this `LEVEL`: auto (zstd's default level, higher while a slow link bounds the run), fastest, default or max"

func compressionFlag(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "compression", Usage: compressionUsage, Value: "auto", EnvVars: []string{"CAIRN_COMPRESSION"}, Destination: dest}
}

// compressionFor is how a handle compresses at level, as --compression names it.
func compressionFor(level string) (repo.Option, error) {
	l, err := repo.ParseLevel(level)
	if err != nil {
		return nil, usagef("--compression: %v", err)
	}
	return compressionAt(l), nil
}

func compressionAt(l repo.Level) repo.Option {
	return repo.WithCompression(repo.CompressionOptions{Level: l})
}

// compressionLine says what a run's compression picked, as the summaries print it.
func compressionLine(t repo.CompressionTotals) string {
	var by []string
	for _, l := range []struct {
		name string
		n    int64
	}{{"fastest", t.Raw.Fastest}, {"default", t.Raw.Default}, {"better", t.Raw.Better}, {"best", t.Raw.Best}} {
		if l.n > 0 {
			by = append(by, fmt.Sprintf("%s %s", l.name, humanBytes(l.n)))
		}
	}
	line := fmt.Sprintf("compression %s: %s", t.Level, t.Picked)
	if len(by) > 1 || t.Level == "auto" && len(by) > 0 {
		line += " (" + strings.Join(by, ", ") + ")"
	}
	return line
}
