package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"cairn/engine"
)

// streamSource is the source a stream holds: an ExportedDatabase document, or with
// collection set the JSONL of that one collection. from says where the stream comes
// from, in the snapshot's source text.
func streamSource(r io.Reader, collection, from string) engine.Source {
	if collection != "" {
		return engine.CollectionReader{Collection: collection, R: r, From: from}
	}
	return engine.ExportedSource{Name: from, Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}
}

// commandSource backs up what a command writes to its standard output. The backup
// fails, and saves no snapshot, when the command fails.
type commandSource struct {
	argv       []string
	collection string
	stderr     io.Writer // the command's standard error
}

func (s commandSource) from() string { return "command " + filepath.Base(s.argv[0]) }

// Describe implements engine.Source; it names the program, not its arguments, which
// may hold secrets.
func (s commandSource) Describe() string { return streamSource(nil, s.collection, s.from()).Describe() }

// Read implements engine.Source: it runs the command and reads its output. When
// reading fails first, the command is stopped.
func (s commandSource) Read(ctx context.Context, fn func(string, io.Reader) error) (engine.Meta, error) {
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return engine.Meta{}, fmt.Errorf("--stdin-from-command: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return engine.Meta{}, fmt.Errorf("--stdin-from-command: start %s: %w", s.argv[0], err)
	}
	meta, rerr := streamSource(out, s.collection, s.from()).Read(ctx, fn)
	// The output was read to its end, unless reading failed: then the command's
	// output is not wanted, and it is stopped.
	out.Close()
	if rerr != nil {
		cmd.Process.Kill()
	}
	werr := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee) && ee.Exited():
		err := fmt.Errorf("--stdin-from-command: %s failed: %s; no snapshot saved", s.argv[0], ee.ProcessState)
		if rerr != nil {
			err = fmt.Errorf("%w (reading its output: %w)", err, rerr)
		}
		return meta, err
	case rerr != nil:
		return meta, rerr
	case werr != nil:
		return meta, fmt.Errorf("--stdin-from-command: %s: %w; no snapshot saved", s.argv[0], werr)
	}
	return meta, nil
}
