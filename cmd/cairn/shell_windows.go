//go:build windows

package main

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs line with cmd /C. The line is handed to cmd.exe as typed: Go's
// quoting of arguments follows the C runtime's rules, which cmd.exe does not read.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "cmd.exe")
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /C ` + line}
	return cmd
}
