package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ProcStatus holds the fields of /proc/PID/status that the benchmarks read.
type ProcStatus struct {
	RSS     int64 // VmRSS, bytes
	HWM     int64 // VmHWM (peak RSS), bytes
	Size    int64 // VmSize, bytes
	Threads int   // Threads
}

// ParseProcStatus parses the contents of /proc/PID/status. VmRSS is required; the other fields are optional (kernel
// threads have no Vm* lines at all).
func ParseProcStatus(b []byte) (ProcStatus, error) {
	var st ProcStatus
	seenRSS := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		switch string(key) {
		case "VmRSS", "VmHWM", "VmSize":
			n, err := parseKB(val)
			if err != nil {
				return st, fmt.Errorf("/proc status %s: %w", key, err)
			}
			switch string(key) {
			case "VmRSS":
				st.RSS, seenRSS = n, true
			case "VmHWM":
				st.HWM = n
			default:
				st.Size = n
			}
		case "Threads":
			n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
			if err != nil {
				return st, fmt.Errorf("/proc status Threads: %w", err)
			}
			st.Threads = n
		}
	}
	if !seenRSS {
		return st, errors.New("/proc status: no VmRSS line")
	}
	return st, nil
}

// parseKB parses "   1234 kB" into bytes.
func parseKB(v []byte) (int64, error) {
	f := bytes.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return 0, fmt.Errorf("malformed value %q", v)
	}
	n, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("malformed value %q", v)
	}
	mul := int64(1)
	if len(f) == 2 {
		switch strings.ToLower(string(f[1])) {
		case "kb":
			mul = 1024
		case "mb":
			mul = 1024 * 1024
		case "b":
		default:
			return 0, fmt.Errorf("unknown unit %q", f[1])
		}
	}
	return n * mul, nil
}

// ProcStat holds the fields of /proc/PID/stat that the benchmarks read.
type ProcStat struct {
	Comm     string
	State    byte
	UTime    uint64 // user CPU, clock ticks
	STime    uint64 // system CPU, clock ticks
	Threads  int
	RSSPages int64
}

// CPU returns user plus system CPU time for a clock-tick rate (see ClockTicks).
func (s ProcStat) CPU(ticksPerSecond int64) time.Duration {
	t := s.UTime + s.STime
	return time.Duration(t) * time.Second / time.Duration(ticksPerSecond)
}

// ParseProcStat parses the contents of /proc/PID/stat. The command name is in parentheses and may itself contain
// spaces and parentheses, so the fields are counted from the last ')'.
func ParseProcStat(b []byte) (ProcStat, error) {
	var st ProcStat
	b = bytes.TrimSpace(b)
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return st, errors.New("/proc stat: no (comm)")
	}
	st.Comm = string(b[open+1 : end])
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state); field n of proc(5) is f[n-3].
	const (
		fState   = 3 - 3
		fUTime   = 14 - 3
		fSTime   = 15 - 3
		fThreads = 20 - 3
		fRSS     = 24 - 3
	)
	if len(f) <= fRSS {
		return st, fmt.Errorf("/proc stat: %d fields after comm, want at least %d", len(f), fRSS+1)
	}
	if len(f[fState]) != 1 {
		return st, fmt.Errorf("/proc stat: bad state %q", f[fState])
	}
	st.State = f[fState][0]
	var err error
	if st.UTime, err = strconv.ParseUint(string(f[fUTime]), 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat utime: %w", err)
	}
	if st.STime, err = strconv.ParseUint(string(f[fSTime]), 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat stime: %w", err)
	}
	if st.Threads, err = strconv.Atoi(string(f[fThreads])); err != nil {
		return st, fmt.Errorf("/proc stat num_threads: %w", err)
	}
	if st.RSSPages, err = strconv.ParseInt(string(f[fRSS]), 10, 64); err != nil {
		return st, fmt.Errorf("/proc stat rss: %w", err)
	}
	return st, nil
}

// atClkTck is the auxiliary-vector key of the clock-tick rate: what sysconf(_SC_CLK_TCK) returns.
const atClkTck = 17

// parseAuxv finds key in the contents of /proc/PID/auxv (pairs of native-endian machine words, ended by AT_NULL).
func parseAuxv(b []byte, key uint64) (uint64, bool) {
	word := int(unsafe.Sizeof(uintptr(0)))
	read := func(p []byte) uint64 {
		if word == 8 {
			return binary.NativeEndian.Uint64(p)
		}
		return uint64(binary.NativeEndian.Uint32(p))
	}
	for len(b) >= 2*word {
		k, v := read(b), read(b[word:])
		b = b[2*word:]
		if k == 0 {
			break
		}
		if k == key {
			return v, true
		}
	}
	return 0, false
}

var clockTicks = sync.OnceValue(func() int64 {
	if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
		if v, ok := parseAuxv(b, atClkTck); ok && v > 0 && v < 1_000_000 {
			return int64(v)
		}
	}
	return 100 // USER_HZ on every Linux architecture Go supports
})

// ClockTicks returns the clock-tick rate of /proc/PID/stat times (sysconf(_SC_CLK_TCK), read from the auxiliary
// vector; 100 if that fails).
func ClockTicks() int64 { return clockTicks() }

// ProcSample is one reading of a process.
type ProcSample struct {
	At      time.Time
	RSS     int64         // bytes
	HWM     int64         // bytes
	Threads int           //
	CPU     time.Duration // user + system
}

// SampleProc reads /proc/PID/status and /proc/PID/stat.
func SampleProc(pid int) (ProcSample, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	s := ProcSample{At: time.Now()}
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	status, err := ParseProcStatus(b)
	if err != nil {
		return s, err
	}
	b, err = os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	stat, err := ParseProcStat(b)
	if err != nil {
		return s, err
	}
	s.RSS, s.HWM, s.Threads = status.RSS, status.HWM, status.Threads
	s.CPU = stat.CPU(ClockTicks())
	return s, nil
}

// ListenSocket is one listening TCP socket from /proc/net/tcp or tcp6.
type ListenSocket struct {
	Port  int
	Inode uint64
}

// ParseProcNetTCP returns the listening sockets in the contents of /proc/net/tcp or /proc/net/tcp6.
func ParseProcNetTCP(b []byte) ([]ListenSocket, error) {
	var out []ListenSocket
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		if f[3] != "0A" { // TCP_LISTEN
			continue
		}
		_, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			return nil, fmt.Errorf("/proc/net/tcp: bad local address %q", f[1])
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/tcp: bad port %q", portHex)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/net/tcp: bad inode %q", f[9])
		}
		out = append(out, ListenSocket{Port: int(port), Inode: inode})
	}
	return out, sc.Err()
}

// FindListenerPID returns the process that holds a socket listening on TCP port (any address), by matching the
// socket inodes of /proc/net/tcp{,6} against the descriptors under /proc/*/fd. It needs permission to read the
// other process's fd directory (same user, or root).
func FindListenerPID(port int) (int, error) {
	inodes := map[uint64]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		socks, err := ParseProcNetTCP(b)
		if err != nil {
			return 0, err
		}
		for _, s := range socks {
			if s.Port == port {
				inodes[s.Inode] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d", port)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid <= 0 {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err == nil && inodes[ino] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no readable process holds the listener on port %d", port)
}

// selfRSS returns this process's VmRSS in bytes, or 0.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	st, err := ParseProcStatus(b)
	if err != nil {
		return 0
	}
	return st.RSS
}
