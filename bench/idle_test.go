package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writers of a run (progress, worker stderr copies).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runIdle(t *testing.T, args ...string) (*IdleResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr syncBuffer
	err := Main(ctx, append([]string{"idle", "--json"}, args...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want one JSON object:\n%s", len(lines), stdout.String())
	}
	var res IdleResult
	if err := json.Unmarshal([]byte(lines[0]), &res); err != nil {
		t.Fatalf("decoding the result: %v\n%s", err, lines[0])
	}
	return &res, stderr.String()
}

// TestIdleEndToEnd runs idle with 200 Socket.IO connections over 2 source addresses and 2 worker processes (this
// test binary, re-executed) against the fake server, and checks the counts on both sides.
func TestIdleEndToEnd(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pingInterval: 100 * time.Millisecond})
	res, stderr := runIdle(t, "--url", fs.url(), "--conns", "200", "--procs", "2",
		"--source-ips", "127.0.0.1-127.0.0.2", "--rate", "2000/s", "--hold", "800ms", "--settle", "300ms",
		"--server-pid", strconv.Itoa(os.Getpid()), "--connect-timeout", "30s")
	t.Logf("stderr:\n%s", stderr)

	if res.Mode != "socket.io" || res.Conns != 200 || res.Opened != 200 || res.Failed != 0 || len(res.Failures) != 0 {
		t.Errorf("mode %q conns %d opened %d failed %d failures %v", res.Mode, res.Conns, res.Opened, res.Failed, res.Failures)
	}
	if res.Procs != 2 || len(res.WorkerPIDs) != 2 || res.WorkerPIDs[0] == res.WorkerPIDs[1] ||
		slices.Contains(res.WorkerPIDs, os.Getpid()) {
		t.Errorf("procs %d, worker pids %v (test pid %d): want 2 distinct child processes", res.Procs, res.WorkerPIDs, os.Getpid())
	}
	if res.SourceIPs != 2 || res.PerAddr["127.0.0.1"] != 100 || res.PerAddr["127.0.0.2"] != 100 {
		t.Errorf("source addresses %d, per address %v", res.SourceIPs, res.PerAddr)
	}
	if res.Connect.Count != 200 || res.Connect.P50 <= 0 || res.Connect.P99 < res.Connect.P50 || res.Connect.Max < res.Connect.P99 {
		t.Errorf("connect latency %+v", res.Connect)
	}
	if res.ConnectsPerSec <= 0 || res.ConnectSeconds <= 0 {
		t.Errorf("connects/s %v over %v s", res.ConnectsPerSec, res.ConnectSeconds)
	}
	if res.Dropped != 0 || res.Closed != 200 {
		t.Errorf("dropped %d closed %d, want 0 and 200", res.Dropped, res.Closed)
	}
	if res.HoldSeconds < 0.8 {
		t.Errorf("held %v s, want at least 0.8", res.HoldSeconds)
	}
	// About 8 pings per connection were sent while held; every one that reached a client was answered.
	if res.PingsAnswered < 200 {
		t.Errorf("pings answered %d, want at least one per connection", res.PingsAnswered)
	}
	if res.Server == nil || res.Server.PID != os.Getpid() || res.Server.RSSBefore <= 0 || res.Server.RSSAfter <= 0 ||
		res.Server.Threads <= 0 {
		t.Errorf("server figures %+v", res.Server)
	}
	if res.Generator.CPUSeconds <= 0 || res.Generator.RSS <= 0 {
		t.Errorf("generator figures %+v", res.Generator)
	}

	// The server's side of the story.
	if got := fs.upgrades.Load(); got != 200 {
		t.Errorf("server saw %d upgrades, want 200", got)
	}
	if got := fs.sioConnects.Load(); got != 200 {
		t.Errorf("server saw %d Socket.IO CONNECTs, want 200", got)
	}
	if p := fs.pongs.Load(); p < 200 || p > res.PingsAnswered {
		t.Errorf("server got %d pongs; clients answered %d", p, res.PingsAnswered)
	}
	if peers := fs.peerCounts(); peers["127.0.0.1"] != 100 || peers["127.0.0.2"] != 100 || len(peers) != 2 {
		t.Errorf("server saw peers %v", peers)
	}
	waitFor(t, 5*time.Second, "the server to see every connection closed", func() bool { return fs.open.Load() == 0 })
	if !strings.Contains(stderr, "connections opened") || !strings.Contains(stderr, "bytes per connection") {
		t.Errorf("no result table on stderr")
	}
}

// TestIdleEngineIOInProcess runs the Engine.IO-only mode with the worker inside the test process.
func TestIdleEngineIOInProcess(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pingInterval: 50 * time.Millisecond})
	res, _ := runIdle(t, "--url", fs.url(), "--engineio", "--conns", "50", "--procs", "0", "--rate", "0",
		"--hold", "200ms", "--settle", "100ms", "--server-pid", "none")
	if res.Mode != "engine.io" || res.Opened != 50 || res.Failed != 0 || res.Closed != 50 || res.Procs != 0 {
		t.Errorf("mode %q opened %d failed %d closed %d procs %d", res.Mode, res.Opened, res.Failed, res.Closed, res.Procs)
	}
	if len(res.WorkerPIDs) != 1 || res.WorkerPIDs[0] != os.Getpid() {
		t.Errorf("worker pids %v, want this process", res.WorkerPIDs)
	}
	if res.Server != nil || !strings.Contains(res.ServerNote, "none") {
		t.Errorf("server sampled although --server-pid none: %+v %q", res.Server, res.ServerNote)
	}
	if fs.upgrades.Load() != 50 || fs.sioConnects.Load() != 0 {
		t.Errorf("server saw %d upgrades and %d CONNECTs, want 50 and 0", fs.upgrades.Load(), fs.sioConnects.Load())
	}
	waitFor(t, 5*time.Second, "all closed", func() bool { return fs.open.Load() == 0 })
}

// TestIdleFailures checks that failures are counted by kind: a refused port, and a CONNECT_ERROR.
func TestIdleFailures(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{})
	dead := startFakeServer(t, fakeOptions{})
	deadURL := dead.url()
	dead.ln.Close()
	res, _ := runIdle(t, "--url", deadURL, "--conns", "20", "--procs", "0", "--hold", "0s", "--settle", "0s",
		"--server-pid", "none")
	if res.Opened != 0 || res.Failed != 20 || res.Failures["dial_refused"] != 20 {
		t.Errorf("refused: opened %d failed %d failures %v", res.Opened, res.Failed, res.Failures)
	}

	reject := startFakeServer(t, fakeOptions{rejectConnect: true})
	res, _ = runIdle(t, "--url", reject.url(), "--conns", "10", "--procs", "0", "--hold", "0s", "--settle", "0s",
		"--server-pid", "none")
	if res.Opened != 0 || res.Failures["sio_connect_error"] != 10 || len(res.FirstErrors) == 0 {
		t.Errorf("rejected: opened %d failures %v errors %v", res.Opened, res.Failures, res.FirstErrors)
	}

	res, _ = runIdle(t, "--url", fs.url(), "--path", "/nothing/", "--conns", "5", "--procs", "0", "--hold", "0s",
		"--settle", "0s", "--server-pid", "none")
	if res.Opened != 0 || res.Failures["ws_status_400"] != 5 {
		t.Errorf("bad path: opened %d failures %v", res.Opened, res.Failures)
	}
}

func TestMainUsage(t *testing.T) {
	var out, errb syncBuffer
	if err := Main(context.Background(), nil, &out, &errb); err == nil || !strings.Contains(errb.String(), "idle") {
		t.Errorf("no scenario: err %v, usage %q", err, errb.String())
	}
	if err := Main(context.Background(), []string{"nope"}, &out, &errb); err == nil {
		t.Error("unknown scenario accepted")
	}
	if err := Main(context.Background(), []string{"idle", "--conns", "0"}, &out, &errb); err == nil {
		t.Error("--conns 0 accepted")
	}
	if err := Main(context.Background(), []string{"idle", "--procs", "0", "--conns", "1000000"}, &out, &errb); err == nil {
		t.Error("a million connections in one process accepted")
	}
	if err := Main(context.Background(), []string{"idle", "--source-ips", "127.0.0.9-127.0.0.1"}, &out, &errb); err == nil {
		t.Error("reversed range accepted")
	}
}

// TestIdleInterrupted cancels the run during the connect phase: the workers stop opening, close what they opened,
// and the result accounts for every connection asked.
func TestIdleInterrupted(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // interrupt once some connections are open
		for fs.sioConnects.Load() < 10 && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	var stdout, stderr syncBuffer
	start := time.Now()
	err := Main(ctx, []string{"idle", "--json", "--url", fs.url(), "--conns", "100", "--rate", "100", "--procs", "1",
		"--hold", "30s", "--server-pid", "none"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\n%s", err, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v after the interrupt", d)
	}
	var res IdleResult
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("%v: %q", err, stdout.String())
	}
	if !res.Interrupted || res.Opened == 0 || res.Opened >= 100 || res.Opened+res.Failed != 100 ||
		res.Failures["interrupted"] == 0 || res.Closed != int64(res.Opened) {
		t.Errorf("interrupted %v opened %d failed %d failures %v closed %d", res.Interrupted, res.Opened, res.Failed,
			res.Failures, res.Closed)
	}
	waitFor(t, 5*time.Second, "all closed", func() bool { return fs.open.Load() == 0 })
}
