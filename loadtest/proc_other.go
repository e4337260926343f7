//go:build !linux

package loadtest

import (
	"errors"
	"os/exec"
	"time"
)

// selfCPU is not read off Linux: the report shows no generator CPU.
func selfCPU() (time.Duration, error) { return 0, errors.New("loadtest: no rusage here") }

// dieWithParent is a no-op where the kernel offers no parent-death signal.
func dieWithParent(*exec.Cmd) {}
