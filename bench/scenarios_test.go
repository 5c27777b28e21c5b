package bench

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runScenario runs `bench <name> --json args...` through Main and decodes the result into res.
func runScenario(t *testing.T, name string, res any, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr syncBuffer
	err := Main(ctx, append([]string{name, "--json"}, args...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("Main: %v\nstderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want one JSON object:\n%s", len(lines), stdout.String())
	}
	if err := json.Unmarshal([]byte(lines[0]), res); err != nil {
		t.Fatalf("decoding the result: %v\n%s", err, lines[0])
	}
	return stderr.String()
}

// startBaseline serves the baseline server on a loopback port for the test's duration.
func startBaseline(t *testing.T, ping time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&BaselineServer{PingInterval: ping}).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("baseline server: %v", err)
		}
	})
	return "ws://" + ln.Addr().String()
}

func checkFanoutExact(t *testing.T, res *FanoutResult, subs int) {
	t.Helper()
	if res.Ready != subs || res.Failed != 0 {
		t.Errorf("ready %d failed %d (%v), want %d ready", res.Ready, res.Failed, res.Failures, subs)
	}
	if res.Published == 0 || res.Expected != res.Published*int64(subs) || res.Delivered != res.Expected {
		t.Errorf("published %d, expected %d, delivered %d", res.Published, res.Expected, res.Delivered)
	}
	if res.Lost != 0 || res.OutOfOrder != 0 || res.Unparsed != 0 || res.Dropped != 0 || res.Stalled || res.PublisherError != "" {
		t.Errorf("lost %d out of order %d unparsed %d dropped %d stalled %v publisher %q", res.Lost, res.OutOfOrder,
			res.Unparsed, res.Dropped, res.Stalled, res.PublisherError)
	}
	if res.WindowDeliver <= 0 || res.DeliveredPerS <= 0 || res.Latency.Count == 0 || res.Latency.Count > uint64(res.Delivered) ||
		res.Latency.P99 < res.Latency.P50 {
		t.Errorf("window deliveries %d (%v/s), latency %+v", res.WindowDeliver, res.DeliveredPerS, res.Latency)
	}
	if res.Figures.Seconds <= 0 || res.Figures.ServerCPUSeconds < 0 || res.CPUPerMsg < 0 || res.Figures.Bottleneck == "" {
		t.Errorf("figures %+v, %v µs/msg", res.Figures, res.CPUPerMsg)
	}
}

// TestFanoutFixedBaseline: 30 subscribers over two worker processes, at a fixed rate, against the baseline server
// (with pings going on): every subscriber gets every message.
func TestFanoutFixedBaseline(t *testing.T) {
	u := startBaseline(t, 100*time.Millisecond)
	var res FanoutResult
	stderr := runScenario(t, "fanout", &res, "--url", u, "--subscribers", "30", "--rate", "40", "--warmup", "200ms",
		"--duration", "500ms", "--procs", "2", "--source-ips", "127.0.0.1-127.0.0.2", "--server-pid", strconv.Itoa(os.Getpid()))
	checkFanoutExact(t, &res, 30)
	if res.Mode != "fixed rate" || res.RateAsked != 40 || res.Window != 0 || len(res.WorkerPIDs) != 2 {
		t.Errorf("mode %q rate %v window %d workers %v", res.Mode, res.RateAsked, res.Window, res.WorkerPIDs)
	}
	// About 0.7 s at 40/s: 29 messages (+1), give or take the scheduling of a loaded test machine.
	if res.Published < 15 || res.Published > 40 {
		t.Errorf("published %d at 40/s over 0.7 s", res.Published)
	}
	if !strings.Contains(stderr, "delivered msgs/s") {
		t.Error("no table on stderr")
	}
}

// TestFanoutSaturationBaseline: with --rate max and a window of 3, publishing goes on only as the workers report
// completions, so many more than 3 messages mean the feedback works; still nothing is lost.
func TestFanoutSaturationBaseline(t *testing.T) {
	u := startBaseline(t, 0)
	var res FanoutResult
	runScenario(t, "fanout", &res, "--url", u, "--subscribers", "40", "--rate", "max", "--window", "3", "--warmup",
		"100ms", "--duration", "500ms", "--procs", "2", "--server-pid", "none")
	checkFanoutExact(t, &res, 40)
	if res.Mode != "saturation" || res.Window != 3 || res.Published < 20 {
		t.Errorf("mode %q window %d published %d", res.Mode, res.Window, res.Published)
	}
	if res.CPUPerMsg != 0 || !strings.Contains(res.ServerNote, "none") {
		t.Errorf("server sampled although none: %v %q", res.CPUPerMsg, res.ServerNote)
	}
}

// TestFanoutLossDetected: the fake server drops every 4th broadcast for one subscriber; the loss is counted exactly.
func TestFanoutLossDetected(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{dropEvery: 4})
	var res FanoutResult
	runScenario(t, "fanout", &res, "--url", fs.url(), "--subscribers", "8", "--rate", "50", "--warmup", "100ms",
		"--duration", "300ms", "--drain", "3s", "--procs", "0", "--server-pid", "none")
	if res.Ready != 8 || res.Published == 0 || res.Published != fs.broadcasts.Load() {
		t.Fatalf("ready %d published %d, server saw %d broadcasts", res.Ready, res.Published, fs.broadcasts.Load())
	}
	if d := fs.dropped.Load(); d == 0 || res.Lost != d || res.Delivered != res.Expected-d || res.OutOfOrder != 0 {
		t.Errorf("server dropped %d; lost %d, delivered %d of %d, out of order %d", d, res.Lost, res.Delivered, res.Expected, res.OutOfOrder)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, " "), "lost") {
		t.Errorf("warnings %v", res.Warnings)
	}
}

func TestFanoutValidate(t *testing.T) {
	var out, errb syncBuffer
	for _, args := range [][]string{
		{"fanout", "--rate", "0"},
		{"fanout", "--rate", "fast"},
		{"fanout", "--rate", "10", "--delivery-rate", "100"},
		{"fanout", "--window", "1000", "--rate", "max"},
		{"fanout", "--window", "0", "--rate", "max"},
		{"fanout", "--engineio"},
		{"fanout", "--room", ""},
	} {
		if err := Main(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	s := newFanout().(*Fanout)
	o := defaultOptions()
	s.Subscribers, s.DeliveryRate = 10000, 20000
	if err := s.Validate(&o); err != nil || s.Rate != 2 || o.Conns != 10000 || o.Auth != `{"room":"bench"}` || o.Rate != 2000 {
		t.Errorf("delivery rate: %v rate %v conns %d auth %q connect rate %v", err, s.Rate, o.Conns, o.Auth, o.Rate)
	}
	s = newFanout().(*Fanout)
	o = defaultOptions()
	_ = msgRateFlag{s}.Set("max")
	s.Subscribers = 1000
	if err := s.Validate(&o); err != nil || s.Rate != 0 || s.Window != defaultFanoutWindow {
		t.Errorf("max: %v rate %v window %d", err, s.Rate, s.Window)
	}
}

// TestEchoFake: the closed loop over WebSocket; every emit the server acked came back.
func TestEchoFake(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{})
	var res AckLoopResult
	runScenario(t, "echo", &res, "--url", fs.url(), "--clients", "6", "--warmup", "100ms", "--duration", "300ms",
		"--procs", "1", "--server-pid", strconv.Itoa(os.Getpid()))
	if res.Opened != 6 || res.Failed != 0 || res.Transport != "websocket" {
		t.Errorf("opened %d failed %d transport %q", res.Opened, res.Failed, res.Transport)
	}
	if res.Acks == 0 || res.Acks != fs.acked.Load() || res.Unanswered != 0 || res.BadAcks != 0 || res.Dropped != 0 {
		t.Errorf("acks %d (server sent %d), unanswered %d, bad %d, dropped %d", res.Acks, fs.acked.Load(), res.Unanswered,
			res.BadAcks, res.Dropped)
	}
	if res.WindowAcks <= 0 || res.WindowAcks > res.Acks || res.AcksPerSec <= 0 || res.RTT.Count == 0 || res.RTT.P50 <= 0 {
		t.Errorf("window acks %d, %v/s, rtt %+v", res.WindowAcks, res.AcksPerSec, res.RTT)
	}
	if res.Figures.ServerCPUSeconds <= 0 || res.CPUPerAck <= 0 {
		t.Errorf("server figures %+v, %v µs/ack", res.Figures, res.CPUPerAck)
	}
}

// TestPollingFake: the closed loop over long-polling.
func TestPollingFake(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pingInterval: 50 * time.Millisecond})
	var res AckLoopResult
	runScenario(t, "polling", &res, "--url", fs.url(), "--clients", "4", "--warmup", "100ms", "--duration", "300ms",
		"--procs", "0", "--server-pid", "none")
	if res.Opened != 4 || res.Failed != 0 || res.Transport != "polling" || !strings.HasPrefix(res.URL, "http://") {
		t.Errorf("opened %d failed %d transport %q url %q", res.Opened, res.Failed, res.Transport, res.URL)
	}
	if res.Acks == 0 || res.Acks != fs.acked.Load() || res.Unanswered != 0 || res.BadAcks != 0 || res.Dropped != 0 ||
		len(res.ClientErrors) != 0 {
		t.Errorf("acks %d (server sent %d), unanswered %d, bad %d, dropped %d, errors %v", res.Acks, fs.acked.Load(),
			res.Unanswered, res.BadAcks, res.Dropped, res.ClientErrors)
	}
	// Every ack took a POST and a GET; pings (every 50 ms) took a GET and a POST of the pong.
	if res.Requests < 2*res.Acks || fs.posts.Load() < res.Acks || res.RequestsPerAck < 2 {
		t.Errorf("requests %d (%v per ack), server POSTs %d, acks %d", res.Requests, res.RequestsPerAck, fs.posts.Load(), res.Acks)
	}
	if fs.pongs.Load() == 0 {
		t.Error("pings over polling not answered")
	}
	if fs.pollOpens.Load() != 4 || fs.upgrades.Load() != 0 {
		t.Errorf("server: %d polling sessions, %d WebSockets", fs.pollOpens.Load(), fs.upgrades.Load())
	}
}

// TestConnectStorm: WebSocket and polling-then-upgrade storms against the fake server.
func TestConnectStorm(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{})
	var res ConnectResult
	runScenario(t, "connect", &res, "--url", fs.url(), "--conns", "40", "--concurrency", "8", "--procs", "0",
		"--server-pid", strconv.Itoa(os.Getpid()), "--settle", "0s")
	if res.Opened != 40 || res.Failed != 0 || res.Transport != "websocket" || res.Concurrency != 8 || res.RateAsked != 0 {
		t.Errorf("opened %d failed %d transport %q concurrency %d rate %v", res.Opened, res.Failed, res.Transport,
			res.Concurrency, res.RateAsked)
	}
	if res.ConnectsPerSec <= 0 || res.Connect.Count != 40 || res.Figures.ServerCPUSeconds < 0 || res.Dropped != 0 {
		t.Errorf("connects/s %v, connect %+v, figures %+v", res.ConnectsPerSec, res.Connect, res.Figures)
	}
	if fs.upgrades.Load() != 40 || fs.sioConnects.Load() != 40 {
		t.Errorf("server: %d upgrades, %d CONNECTs", fs.upgrades.Load(), fs.sioConnects.Load())
	}
	waitFor(t, 5*time.Second, "all closed", func() bool { return fs.open.Load() == 0 })

	var pres ConnectResult
	runScenario(t, "connect", &pres, "--url", fs.url(), "--transport", "polling", "--conns", "20", "--procs", "0",
		"--server-pid", "none", "--settle", "0s")
	if pres.Opened != 20 || pres.Failed != 0 || pres.Transport != "polling" || !strings.Contains(pres.URL, "transport=polling") {
		t.Errorf("polling: opened %d failed %d (%v) transport %q url %q", pres.Opened, pres.Failed, pres.FirstErrors,
			pres.Transport, pres.URL)
	}
	// The server counts an upgrade once it has read the client's "5", which the client does not wait for: count
	// after every connection has closed (each counts before its close).
	waitFor(t, 5*time.Second, "all closed", func() bool { return fs.open.Load() == 0 })
	if fs.pollOpens.Load() != 20 || fs.pollUpgrades.Load() != 20 || fs.sioConnects.Load() != 60 {
		t.Errorf("server: %d polling sessions, %d upgraded, %d CONNECTs in all", fs.pollOpens.Load(), fs.pollUpgrades.Load(),
			fs.sioConnects.Load())
	}
}

// TestBaselineProtocol talks to the baseline server directly.
func TestBaselineProtocol(t *testing.T) {
	base := startBaseline(t, 30*time.Millisecond)
	u, _ := url.Parse(base + "/socket.io/?EIO=4&transport=websocket")
	got := make(chan string, 16)
	stats := &ClientStats{}
	sub, _, err := Dial(context.Background(), &ClientConfig{URL: u, Auth: []byte(`{"room":"r1"}`), Timeout: 5 * time.Second,
		Stats: stats, OnMessage: func(_ *Conn, p []byte, _ bool) { got <- string(p) }}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.PingInterval != 30*time.Millisecond || sub.SocketSID == "" {
		t.Errorf("interval %v socket sid %q", sub.PingInterval, sub.SocketSID)
	}
	recv := func() string {
		select {
		case p := <-got:
			return p
		case <-time.After(5 * time.Second):
			t.Fatal("nothing received")
		}
		return ""
	}
	if p := recv(); p != `2["auth",{"room":"r1"}]` {
		t.Errorf("auth event %q", p)
	}
	other, _, err := Dial(context.Background(), &ClientConfig{URL: u, Timeout: 5 * time.Second}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, p := range []string{`2["broadcast","elsewhere",1]`, `2["other","r1",1]`, `2["broadcast","r1",{"a":1},"b"]`} {
		if err := other.Send([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if p := recv(); p != `2["broadcast",{"a":1},"b"]` {
		t.Errorf("broadcast %q", p)
	}
	waitFor(t, 5*time.Second, "pings", func() bool { return stats.PingsAnswered.Load() >= 2 })

	u2 := *u
	_, _, err = Dial(context.Background(), &ClientConfig{URL: &u2, Namespace: "/custom", Timeout: 5 * time.Second}, netip.Addr{})
	if ErrorKind(err) != "sio_connect_error" || !strings.Contains(err.Error(), "Invalid namespace") {
		t.Errorf("other namespace: %v", err)
	}
}

func TestBaselineServerCommand(t *testing.T) {
	var out, errb syncBuffer
	if err := Main(context.Background(), []string{"baseline-server", "-h"}, &out, &errb); err != nil ||
		!strings.Contains(errb.String(), "measuring stick") {
		t.Errorf("help: %v %q", err, errb.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{"baseline-server", "--port", "0"}, &out, &errb) }()
	waitFor(t, 5*time.Second, "the listen line", func() bool { return strings.Contains(errb.String(), "listening on port") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("baseline-server: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("baseline-server did not stop")
	}
}
