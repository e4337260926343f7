package loadtest

import (
	"os/exec"
	"syscall"
	"time"
)

// selfCPU is the harness process's CPU time so far (user + system, all threads).
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// dieWithParent has the kernel signal a server when the harness dies, even by SIGKILL, so a
// killed load run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
