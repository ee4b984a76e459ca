package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// maxPasswordOutput bounds what a password command may print.
const maxPasswordOutput = 64 << 10

// runPasswordCommand runs line through the system's shell (shellCommand) and takes
// its standard output, without the trailing newline, as the password. What the
// command writes to standard error goes to stderr; its output is never printed, and
// errors name the command's exit status, not what it printed.
func runPasswordCommand(ctx context.Context, line string, stderr io.Writer) (string, error) {
	cmd := shellCommand(ctx, line)
	var out limitedBuffer
	out.max = maxPasswordOutput
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("password command failed: %s", ee.ProcessState)
		}
		return "", fmt.Errorf("password command: %w", err)
	}
	if out.over {
		return "", fmt.Errorf("password command printed more than %d KiB", maxPasswordOutput>>10)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(out.String(), "\n"), "\r")
	if pw == "" {
		return "", errors.New("password command printed no password")
	}
	return pw, nil
}

// limitedBuffer keeps the first max bytes written to it and notes whether there
// were more.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
