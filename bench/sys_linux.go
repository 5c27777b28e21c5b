//go:build linux

package bench

import (
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setBindNoPort lets the kernel choose the source port at connect time, per (source, destination) pair, instead of
// at bind time per source address: with a bound source address, TIME_WAIT sockets from earlier runs then stop
// blocking ports, and the whole ephemeral range is available for each destination.
func setBindNoPort(fd uintptr) {
	_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}

// processCPU returns the user plus system CPU time of this process (self) or of its waited-for children.
func processCPU(children bool) time.Duration {
	who := unix.RUSAGE_SELF
	if children {
		who = unix.RUSAGE_CHILDREN
	}
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openFileLimit returns the soft RLIMIT_NOFILE (the Go runtime raises it to the hard limit at start-up).
func openFileLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<24 {
		return 1 << 20
	}
	return int(rl.Cur)
}

// dieWithParent makes a worker process get SIGKILL when the process that started it exits.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
