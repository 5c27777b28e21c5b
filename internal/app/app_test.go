package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/internal/app/config"
	"github.com/fastio/fastio/internal/demo"
	"github.com/fastio/fastio/server"
)

// syncBuffer is a log destination the test can read while the server writes.
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

type running struct {
	app    *App
	addr   string
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
	// scheme is http, or https with TLS; client trusts the server's certificate then.
	scheme string
	client *http.Client
}

// start runs the app with the given flags on a free loopback port until the test ends.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	cfg, err := config.Load(append([]string{"--addr", "127.0.0.1:0", "--event-loops", "2"}, args...), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: a, log: logs, cancel: cancel, done: make(chan error, 1), scheme: "http", client: http.DefaultClient}
	if cfg.Certificate != nil {
		// The certificate is self-signed: it is its own root.
		roots := x509.NewCertPool()
		roots.AddCert(cfg.Certificate.Leaf)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
		t.Cleanup(tr.CloseIdleConnections)
		r.scheme, r.client = "https", &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	go func() { r.done <- a.Run(ctx) }()
	select {
	case <-a.Listening():
	case err := <-r.done:
		t.Fatalf("run: %v", err)
	}
	r.addr = a.Addr().String()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("Run did not return")
		}
	})
	waitFor(t, "ready", func() bool { code, _, _ := getWith(t, r.client, r.url("/readyz")); return code == 200 })
	return r
}

func (r *running) url(path string) string { return r.scheme + "://" + r.addr + path }

// get is getWith the default client.
func get(t *testing.T, u string) (int, http.Header, string) {
	t.Helper()
	return getWith(t, http.DefaultClient, u)
}

// getWith GETs u with client and returns the status, the header and the body.
func getWith(t *testing.T, client *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoutes(t *testing.T) {
	r := start(t)
	if code, _, body := get(t, r.url("/healthz")); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	if code, _, body := get(t, r.url("/readyz")); code != 200 || body != "ready\n" {
		t.Errorf("readyz: %d %q", code, body)
	}
	code, h, body := get(t, r.url("/"))
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, `<meta name="fastio-path" content="/socket.io/">`) ||
		!strings.Contains(body, `<script src="socket.io.min.js">`) || h.Get("Content-Security-Policy") == "" {
		t.Errorf("page: %d %v %.200s", code, h, body)
	}
	for _, p := range []string{"/app.js", "/style.css"} {
		if code, h, _ := get(t, r.url(p)); code != 200 || h.Get("ETag") == "" {
			t.Errorf("%s: %d %v", p, code, h)
		}
	}
	code, h, body = get(t, r.url("/socket.io.min.js"))
	if _, embedded := demo.ClientBundle(); embedded {
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/javascript") || !strings.Contains(body, "io") {
			t.Errorf("bundle: %d %v", code, h)
		}
	} else if code != 404 || !strings.Contains(body, "make build") {
		t.Errorf("missing bundle: %d %q", code, body)
	}
	if code, _, _ := get(t, r.url("/nothing-here")); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	code, h, body = get(t, r.url("/metrics"))
	if code != 200 || h.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" || !strings.Contains(body, "\nfastio_ready 1\n") {
		t.Errorf("metrics: %d %v\n%s", code, h, body)
	}
}

func TestSocketsInMetricsAndStats(t *testing.T) {
	r := start(t)
	c := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	c.Connect("")
	c.Send(`42["message",{"text":"hi"}]`) // relayed to everyone: one broadcast
	if got := c.MustRead(); !strings.HasPrefix(got, `42["notification"`) {
		t.Fatalf("got %s", got)
	}
	// An acknowledgement the client never sends.
	if _, err := r.app.IO().Timeout(20*time.Millisecond).EmitWithAck(context.Background(), "question"); err != server.ErrAckTimeout {
		t.Fatalf("EmitWithAck: %v", err)
	}
	_, _, body := get(t, r.url("/metrics"))
	for _, want := range []string{`fastio_sockets{namespace="/"} 1`, `fastio_sessions{transport="websocket"} 1`,
		`fastio_handshakes_total{transport="websocket"} 1`, `fastio_broadcasts_total 3`, `fastio_broadcast_recipients_total 2`, // the join notice (to nobody else), the relay, the question
		`fastio_ack_timeouts_total 1`} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	for _, prefix := range []string{`fastio_packets_total{direction="in"} `, `fastio_packets_total{direction="out"} `,
		`fastio_bytes_total{direction="in"} `, `fastio_bytes_total{direction="out"} `} {
		if !strings.Contains(body, "\n"+prefix) || strings.Contains(body, "\n"+prefix+"0\n") {
			t.Errorf("metrics lack a non-zero %s:\n%s", prefix, body)
		}
	}
	_, _, body = get(t, r.url("/api/stats"))
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("stats %s: %v", body, err)
	}
	if st.Sockets["/"] != 1 || st.Sessions["websocket"] != 1 || st.Connections < 1 || !st.Ready || st.Draining ||
		st.Counters["handshakes_websocket"] != 1 || st.UptimeSeconds <= 0 {
		t.Errorf("stats %s", body)
	}
}

func TestAPIThroughTheApp(t *testing.T) {
	r := start(t, "--api-token", "t0ken")
	c := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	c.Connect("")
	req, _ := http.NewRequest(http.MethodPost, r.url("/api/emit"), strings.NewReader(`{"event":"notification","args":[{"message":"from the backend"}]}`))
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("emit: %d", resp.StatusCode)
	}
	if got := c.MustRead(); got != `42["notification",{"message":"from the backend"}]` {
		t.Errorf("got %s", got)
	}
	_, _, metrics := get(t, r.url("/metrics"))
	if !strings.Contains(metrics, `fastio_api_requests_total{route="/api/emit",code="200"} 1`) {
		t.Errorf("api call not counted:\n%s", metrics)
	}
}

func TestCountEvent(t *testing.T) {
	r := start(t)
	a := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	a.Connect(`{"watchCount":true}`)
	if got := a.MustRead(); got != `42["count",1]` {
		t.Fatalf("a got %s", got)
	}
	// a client that does not ask gets no count, as in the seed
	plain := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	plain.Connect("")
	if got := a.MustRead(); !strings.HasPrefix(got, `42["notification",{"id":"`+plain.ID) {
		t.Fatalf("a got %s", got)
	}
	b := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	b.Connect(`{"watchCount":true}`)
	if got := b.MustRead(); got != `42["count",3]` {
		t.Fatalf("b got %s", got)
	}
	// a sees the join notification, then (within CountInterval) the latest count
	seen := map[string]bool{}
	for !seen[`42["count",3]`] {
		p := a.MustRead()
		seen[p] = true
		if strings.HasPrefix(p, `42["count",`) && p != `42["count",2]` && p != `42["count",3]` {
			t.Fatalf("a got %s", p)
		}
	}
	// plain saw b join, and nothing else
	if got := plain.MustRead(); !strings.HasPrefix(got, `42["notification",{"id":"`+b.ID) {
		t.Errorf("plain got %s", got)
	}
	plain.ExpectNothing(3 * demo.CountInterval / 2)
	b.Close()
	for p := a.MustRead(); p != `42["count",2]`; p = a.MustRead() {
	}
}

func TestShutdownTellsClientsAndFlushes(t *testing.T) {
	r := start(t, "--shutdown-grace", "5s")
	ws := apptest.DialWS(t, r.addr, "/socket.io/", nil)
	ws.Connect("")
	poll := apptest.DialPolling(t, r.addr, "/socket.io/")
	logs := shutdownWithQueuedMessages(t, r, ws, poll, 200)
	for _, want := range []string{`msg="shutting down"`, `msg="total connections" count=0`, "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// shutdownWithQueuedMessages connects poll as a second client of ws (connected), broadcasts n messages, starts
// the shutdown at once, and checks that both clients get every message and then the close (frame, packet), and
// that Run returns soon. It returns the log.
func shutdownWithQueuedMessages(t *testing.T, r *running, ws *apptest.WS, poll *apptest.Polling, n int) string {
	t.Helper()
	poll.Post("40")
	if got, err := poll.Poll(); err != nil || !strings.HasPrefix(got[0], `40{"sid":"`) {
		t.Fatalf("polling connect: %v %v", got, err)
	}
	if got := ws.MustRead(); !strings.HasPrefix(got, `42["notification"`) { // the polling client's join
		t.Fatalf("ws got %s", got)
	}
	// The polling client waits in a GET, as socket.io-client always does.
	type result struct {
		packets []string
		err     error
	}
	polled := make(chan result, 1)
	go func() {
		var all []string
		for {
			got, err := poll.Poll()
			if err != nil {
				polled <- result{all, err}
				return
			}
			all = append(all, got...)
			if got[len(got)-1] == "1" { // the close packet
				polled <- result{all, nil}
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)

	payload := strings.Repeat("x", 2000)
	for i := range n {
		if err := r.app.IO().Emit("bulk", i, payload); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	r.cancel()

	for i := range n {
		want := fmt.Sprintf(`42["bulk",%d,"%s"]`, i, payload)
		got, err := ws.Read()
		if err != nil {
			t.Fatalf("websocket: message %d: %v", i, err)
		}
		if got != want {
			t.Fatalf("websocket: message %d: %.40s", i, got)
		}
	}
	if p, err := ws.Read(); err != apptest.ErrClosed {
		t.Errorf("websocket after the messages: %q %v, want the close frame", p, err)
	}
	res := <-polled
	if res.err != nil {
		t.Fatalf("polling: %v after %d packets", res.err, len(res.packets))
	}
	if len(res.packets) != n+1 {
		t.Fatalf("polling: %d packets, want %d and the close packet", len(res.packets), n)
	}
	for i, p := range res.packets[:n] {
		if p != fmt.Sprintf(`42["bulk",%d,"%s"]`, i, payload) {
			t.Fatalf("polling: packet %d: %.40s", i, p)
		}
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within the grace period")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("shutdown took %v with every client gone", took)
	}
	return r.log.String()
}

func TestShutdownWithinGrace(t *testing.T) {
	shutdownWithinGrace(t, start(t, "--shutdown-grace", "800ms"))
}

// shutdownWithinGrace stops r, started with a grace period of 800ms, while a session it cannot tell lingers.
func shutdownWithinGrace(t *testing.T, r *running) {
	// A polling session with no GET pending: it cannot be told, and lingers until the grace period runs out.
	apptest.DialPollingWith(t, r.client, r.url("/socket.io/"))
	began := time.Now()
	r.cancel()

	// While it drains: not ready, and new handshakes are refused.
	waitFor(t, "readyz to turn 503", func() bool { code, _, _ := getWith(t, r.client, r.url("/readyz")); return code == 503 })
	if code, _, body := getWith(t, r.client, r.url("/readyz")); code != 503 || body != "shutting down\n" {
		t.Errorf("readyz: %d %q", code, body)
	}
	resp, err := r.client.Get(r.url("/socket.io/?EIO=4&transport=polling"))
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "server shutting down") {
			t.Errorf("handshake while draining: %d %s", resp.StatusCode, body)
		}
	}
	if code, _, _ := getWith(t, r.client, r.url("/healthz")); code != 200 {
		t.Errorf("healthz while draining: %d", code)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		r.done <- nil
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return")
	}
	took := time.Since(began)
	if took < 500*time.Millisecond || took > 800*time.Millisecond+600*time.Millisecond {
		t.Errorf("shutdown took %v, want about the grace period of 800ms", took)
	}
	if !strings.Contains(r.log.String(), "grace period ran out: sessions cut") {
		t.Errorf("no warning about the cut session:\n%s", r.log.String())
	}
	if n := r.app.Engine().Metrics().Sessions.Load(); n != 0 {
		t.Errorf("%d sessions left after the shutdown", n)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := config.Load([]string{"--addr", ln.Addr().String()}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if want := fmt.Sprintf("cannot listen on %s: address already in use", ln.Addr()); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestTCPConnectionCap(t *testing.T) {
	r := start(t, "--max-tcp-connections-per-ip", "2")
	// /readyz polling in start used a keep-alive connection: let it go, then hold the address's two places.
	http.DefaultClient.CloseIdleConnections()
	waitFor(t, "idle connections to close", func() bool { return r.app.Engine().Metrics().Connections.Load() == 0 })
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	waitFor(t, "two connections", func() bool { return r.app.Engine().Metrics().Connections.Load() == 2 })
	// The third is answered before it sends anything, and closed.
	third, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetDeadline(time.Now().Add(5 * time.Second))
	answer, err := io.ReadAll(third)
	if err != nil || !strings.HasPrefix(string(answer), "HTTP/1.1 503 ") {
		t.Fatalf("third connection: %q %v, want a 503 and EOF", answer, err)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the held connections to close", func() bool { return r.app.Engine().Metrics().Connections.Load() == 0 })
	if _, _, body := get(t, r.url("/metrics")); !strings.Contains(body, "\nfastio_tcp_connections_refused_total 1\n") {
		t.Errorf("metrics lack the refusal:\n%s", body)
	}
}
