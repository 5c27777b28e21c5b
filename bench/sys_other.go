//go:build !linux

package bench

import (
	"os/exec"
	"time"
)

// The load generator measures through /proc and is meant for Linux; elsewhere these are no-ops so that the module
// still builds.

func setBindNoPort(uintptr)         {}
func processCPU(bool) time.Duration { return 0 }
func openFileLimit() int            { return 1024 }
func dieWithParent(cmd *exec.Cmd)   {}
