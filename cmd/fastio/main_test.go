package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
)

// binary is the fastio binary built for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fastio-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fastio")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "go build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runFails runs the binary, expecting it to exit with status 1 and one line on stderr.
func runFails(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("fastio %v: %v, want exit status 1\nstderr: %s", args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "fastio: ") {
		t.Errorf("fastio %v: want one line on stderr, got:\n%s", args, stderr.String())
	}
	if stdout.Len() > 0 {
		t.Errorf("fastio %v: stdout %q", args, stdout.String())
	}
	return lines[0]
}

// cleanEnv is the environment without fastio settings that the caller's shell may hold.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FASTIO_") {
			env = append(env, kv)
		}
	}
	return env
}

func TestStartErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte(`{"addr": ":1",`), 0o600)
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"adress": ":1"}`), 0o600)

	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--addr", ln.Addr().String()}, "fastio: cannot listen on " + ln.Addr().String() + ": address already in use"},
		{nil, []string{"demo", "--addr", ln.Addr().String()}, "address already in use"},
		{[]string{"FASTIO_ADDR=" + ln.Addr().String()}, nil, "address already in use"},
		{nil, []string{"--ping-interval", "soon"}, `fastio: flag --ping-interval: invalid value "soon": not a duration`},
		{nil, []string{"--port", "70000"}, `flag --port: invalid value "70000": must be between 0 and 65535`},
		{nil, []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"FASTIO_MAX_PAYLOAD=lots"}, nil, `environment variable FASTIO_MAX_PAYLOAD: invalid value "lots"`},
		{[]string{"FASTIO_LOG_FORMAT=xml"}, nil, `environment variable FASTIO_LOG_FORMAT: invalid value "xml": want text or json`},
		{nil, []string{"--config", filepath.Join(dir, "missing.json")}, "config file " + filepath.Join(dir, "missing.json") + ": no such file or directory"},
		{nil, []string{"--config", dir}, "is a directory"},
		{[]string{"FASTIO_CONFIG=" + broken}, nil, "config file " + broken + ": not a JSON object"},
		{nil, []string{"--config", unknown}, `unknown setting "adress"`},
		{nil, []string{"nonsense"}, `unknown command "nonsense"`},
	} {
		if tc.args != nil && tc.args[0] == "nonsense" {
			// the usage goes to stderr before the error line: only the status and the last line are checked
			cmd := exec.Command(binary, tc.args...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
				t.Errorf("%v: %v %s", tc.args, err, out)
			}
			continue
		}
		if line := runFails(t, tc.env, tc.args...); !strings.Contains(line, tc.want) {
			t.Errorf("%v %v: %q, want %q", tc.env, tc.args, line, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	out, err := exec.Command(binary, "demo", "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "FASTIO_SHUTDOWN_GRACE") {
		t.Errorf("demo -h: %v\n%s", err, out)
	}
}

// server is a running fastio process.
type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	ch  chan struct{}
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.ch <- struct{}{}
	defer func() { <-b.ch }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.ch <- struct{}{}
	defer func() { <-b.ch }()
	return b.buf.String()
}

// readyLine matches the "ready" log line in text and in JSON.
var readyLine = regexp.MustCompile(`msg"?[=:]"fastio demo ready"[ ,]"?url"?[=:]"?http://([0-9.:]+)/`)

// startBinary starts fastio and waits for its "ready" log line.
func startBinary(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--addr", "127.0.0.1:0", "--event-loops", "2"}, args...)...)
	cmd.Env = cleanEnv()
	pr, pw := io.Pipe()
	s := &server{cmd: cmd, stderr: &lockedBuffer{ch: make(chan struct{}, 1)}, exited: make(chan error, 1)}
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case s.addr = <-found:
	case err := <-s.exited:
		t.Fatalf("fastio exited: %v\n%s", err, s.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("fastio did not get ready:\n%s", s.stderr.String())
	}
	return s
}

func TestSIGTERM(t *testing.T) {
	s := startBinary(t, "--shutdown-grace", "3s")
	resp, err := http.Get("http://" + s.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	c := apptest.DialWS(t, s.addr, "/socket.io/", nil)
	c.Connect("")
	began := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Read(); err != apptest.ErrClosed {
		t.Errorf("client: %q %v, want the close frame", p, err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, s.stderr.String())
		}
		s.exited <- nil
	case <-time.After(5 * time.Second):
		t.Fatalf("fastio did not exit after SIGTERM:\n%s", s.stderr.String())
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("shutdown took %v", took)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `msg="shutting down"`) || !strings.Contains(logs, "msg=stopped") {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestJSONLogs(t *testing.T) {
	s := startBinary(t, "--log-format", "json", "--log-level", "debug")
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	<-s.exited
	s.exited <- nil
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil || v["msg"] == nil || v["level"] == nil {
			t.Errorf("not a JSON log line: %q", line)
		}
	}
	if !strings.Contains(s.stderr.String(), `"path":"/healthz"`) {
		t.Errorf("no debug line for the request:\n%s", s.stderr.String())
	}
}

// TestTestServerUnchanged checks that the testserver subcommand still serves its Engine.IO echo endpoint.
func TestTestServerUnchanged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(binary, "testserver", "--port", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/engine.io/?EIO=4&transport=polling", port))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), `0{"sid":"`) {
				t.Fatalf("testserver handshake: %d %s", resp.StatusCode, b)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testserver did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
