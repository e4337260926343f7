package loadtest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel signal a server when the harness dies, even by SIGKILL, so a
// killed load run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
