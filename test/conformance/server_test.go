// Package conformance holds black-box protocol tests for `fastio testserver`
// (see shared/testserver-contract.md). They talk to the server only over the
// network, so they run unchanged against the Node.js reference server.
//
// Server under test:
//   - FASTIO_SERVER unset: cmd/fastio is built into a temporary directory and
//     started as `<tmp>/fastio testserver --port N`.
//   - FASTIO_SERVER set: it is a shell command prefix, started as
//     `sh -c "$FASTIO_SERVER --port N"`, for example
//     FASTIO_SERVER="node test/e2e/reference-server.js".
//
// If the server cannot be built or started, every test fails with the reason.
package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// Values fixed by the testserver contract.
	pingInterval = 300 * time.Millisecond
	pingTimeout  = 200 * time.Millisecond
	maxPayload   = 1000000

	startTimeout = 10 * time.Second
)

var (
	serverAddr     string // host:port on 127.0.0.1
	serverPort     int
	serverStartErr error
	serverProc     *serverProcess
)

// server returns the address of the server under test, or fails the test
// with the reason the server could not be started.
func server(t testing.TB) string {
	t.Helper()
	if serverStartErr != nil {
		t.Fatalf("server under test is not available: %v", serverStartErr)
	}
	if serverProc != nil {
		if err := serverProc.exited(); err != nil {
			t.Fatalf("server under test has exited: %v\n%s", err, serverProc.logTail())
		}
	}
	return serverAddr
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	proc, err := startServer()
	if err != nil {
		serverStartErr = err
		fmt.Fprintf(os.Stderr, "conformance: FAIL: %v\n", err)
	} else {
		serverProc = proc
		defer proc.stop()
		// Stop the server if the test binary is interrupted.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			s, ok := <-sigs
			if !ok {
				return
			}
			proc.stop()
			signal.Stop(sigs)
			p, _ := os.FindProcess(os.Getpid())
			_ = p.Signal(s)
		}()
		defer func() { signal.Stop(sigs); close(sigs) }()
	}
	code := m.Run()
	if serverProc != nil {
		if err := serverProc.exited(); err != nil {
			fmt.Fprintf(os.Stderr, "conformance: FAIL: server under test exited during the tests: %v\n%s\n",
				err, serverProc.logTail())
			code = 1
		}
	}
	if serverStartErr != nil {
		code = 1
	}
	return code
}

type serverProcess struct {
	cmd     *exec.Cmd
	log     *lockedBuffer
	done    chan struct{}
	waitErr error
	once    sync.Once
	tmpDir  string
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep memory bounded: the tail is what matters.
	if b.buf.Len() > 1<<20 {
		rest := b.buf.Bytes()[b.buf.Len()-(1<<19):]
		nb := append([]byte(nil), rest...)
		b.buf.Reset()
		b.buf.Write(nb)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (p *serverProcess) logTail() string {
	s := p.log.String()
	if len(s) > 4000 {
		s = "...\n" + s[len(s)-4000:]
	}
	if s == "" {
		return "(server printed nothing)"
	}
	return "server output:\n" + s
}

// exited returns a non-nil error if the server process has already ended.
func (p *serverProcess) exited() error {
	select {
	case <-p.done:
		if p.waitErr != nil {
			return p.waitErr
		}
		return errors.New("exit status 0")
	default:
		return nil
	}
}

// stop ends the whole process group of the server: SIGTERM, then SIGKILL.
func (p *serverProcess) stop() {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
		if p.tmpDir != "" {
			_ = os.RemoveAll(p.tmpDir)
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startServer() (*serverProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("cannot pick a free port: %w", err)
	}
	var cmd *exec.Cmd
	var tmpDir string
	if prefix := strings.TrimSpace(os.Getenv("FASTIO_SERVER")); prefix != "" {
		// exec: the server replaces the shell, so it is our direct child.
		cmd = exec.Command("sh", "-c", "exec "+prefix+" --port "+strconv.Itoa(port))
	} else {
		tmpDir, err = os.MkdirTemp("", "fastio-conformance-")
		if err != nil {
			return nil, err
		}
		bin := filepath.Join(tmpDir, "fastio")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		build := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "github.com/fastio/fastio/cmd/fastio")
		out, err := build.CombinedOutput()
		if err != nil {
			_ = os.RemoveAll(tmpDir)
			return nil, fmt.Errorf("cannot build github.com/fastio/fastio/cmd/fastio "+
				"(set FASTIO_SERVER to test another server): %v\n%s", err, out)
		}
		cmd = exec.Command(bin, "testserver", "--port", strconv.Itoa(port))
	}
	log := &lockedBuffer{}
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies (panic, timeout), the server goes too.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		if tmpDir != "" {
			_ = os.RemoveAll(tmpDir)
		}
		return nil, fmt.Errorf("cannot start server %q: %w", cmd.String(), err)
	}
	p := &serverProcess{cmd: cmd, log: log, done: make(chan struct{}), tmpDir: tmpDir}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for {
		if err := p.exited(); err != nil {
			p.stop()
			return nil, fmt.Errorf("server %q exited before accepting connections: %v\n%s", cmd.String(), err, p.logTail())
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("server %q did not accept TCP connections on %s within %v\n%s",
				cmd.String(), addr, startTimeout, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	serverAddr = addr
	serverPort = port
	return p, nil
}

func goTool() string {
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		if p := filepath.Join(goroot, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
