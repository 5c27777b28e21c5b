package eventloop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// echo is a Handler that sends every message back and records what happened.
type echo struct {
	mu     sync.Mutex
	opened []*Session
	closed map[string]string // sid -> reason
	closeC chan string
}

func newEcho() *echo { return &echo{closed: map[string]string{}, closeC: make(chan string, 1024)} }

func (e *echo) OnOpen(s *Session) {
	e.mu.Lock()
	e.opened = append(e.opened, s)
	e.mu.Unlock()
}

func (e *echo) OnMessage(s *Session, data []byte, binary bool) { _ = s.Send(data, binary) }

func (e *echo) OnClose(s *Session, reason string) {
	e.mu.Lock()
	e.closed[s.ID()] = reason
	e.mu.Unlock()
	e.closeC <- reason
}

func (e *echo) waitClose(t *testing.T) string {
	t.Helper()
	select {
	case r := <-e.closeC:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no session closed within 5s")
		return ""
	}
}

// servesThroughNetHTTP reports whether startServer serves through net/http (Server.ServeHTTP) rather than the
// event loops: TestNetHTTP reruns the transport tests that way, as its subtests.
func servesThroughNetHTTP(t *testing.T) bool { return strings.HasPrefix(t.Name(), "TestNetHTTP/") }

type testServer struct {
	*Server
	ep   *Endpoint
	addr string
	h    *echo
}

// startServer serves an echo endpoint at /engine.io/ on a free loopback port.
func startServer(t *testing.T, cfg Config, ep EndpointConfig) *testServer {
	t.Helper()
	return startServerOn(t, cfg, ep, servesThroughNetHTTP(t))
}

// startServerOn is startServer, served by the event loops or, with netHTTP, by an httptest server.
func startServerOn(t *testing.T, cfg Config, ep EndpointConfig, netHTTP bool) *testServer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.EventLoops == 0 {
		cfg.EventLoops = 2
	}
	h := newEcho()
	if ep.Handler == nil {
		ep.Handler = h
	}
	if ep.PingInterval == 0 {
		// Long enough that pings do not interleave with what a test reads, unless it asks for them.
		ep.PingInterval = 20 * time.Second
		ep.PingTimeout = 10 * time.Second
	}
	srv := New(cfg)
	e, err := srv.Handle(ep)
	if err != nil {
		t.Fatal(err)
	}
	if netHTTP {
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			_ = srv.Close() // ends the sessions: held polls are answered, hijacked WebSockets closed
			hs.Close()
		})
		return &testServer{Server: srv, ep: e, addr: hs.Listener.Addr().String(), h: h}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{Server: srv, ep: e, addr: srv.Addr().String(), h: h}
}

func (ts *testServer) url(query string) string {
	return "http://" + ts.addr + "/engine.io/?" + query
}

// handshake opens a polling session and returns its sid.
func (ts *testServer) handshake(t *testing.T) string {
	t.Helper()
	status, body := ts.get(t, "EIO=4&transport=polling")
	if status != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	return open.SID
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

func (ts *testServer) get(t *testing.T, query string) (int, string) {
	t.Helper()
	resp, err := noKeepAlive.Get(ts.url(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (ts *testServer) post(t *testing.T, query, body string) (int, string) {
	t.Helper()
	resp, err := noKeepAlive.Post(ts.url(query), "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rawConn is a TCP connection for byte-level tests.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// readResponse reads one HTTP response.
func (c *rawConn) readResponse(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// expectEOF checks that the server closes the connection.
func (c *rawConn) expectEOF(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1024)
	for {
		_, err := c.r.Read(buf)
		if errors.Is(err, io.EOF) || isReset(err) {
			return
		}
		if err != nil {
			t.Fatalf("expected the server to close the connection, got %v", err)
		}
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// wsClient is a minimal WebSocket client on a raw connection.
type wsClient struct {
	*rawConn
}

func dialWS(t *testing.T, addr, query string) *wsClient {
	t.Helper()
	c := dialRaw(t, addr)
	c.send(t, fmt.Sprintf("GET /engine.io/?%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", query))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("Sec-WebSocket-Accept = %q", got)
	}
	return &wsClient{c}
}

func (c *wsClient) write(t *testing.T, op ws.OpCode, payload []byte) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientMessage(c, op, payload); err != nil {
		t.Fatal(err)
	}
}

func (c *wsClient) writeText(t *testing.T, s string) { c.write(t, ws.OpText, []byte(s)) }

// read returns the next frame's opcode and payload (control frames included).
func (c *wsClient) read(t *testing.T) (ws.OpCode, []byte) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	if h.Masked {
		t.Fatal("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.r, p); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return h.OpCode, p
}

func (c *wsClient) readText(t *testing.T) string {
	t.Helper()
	op, p := c.read(t)
	if op != ws.OpText {
		t.Fatalf("got opcode %v (%q), want text", op, p)
	}
	return string(p)
}

// readClose reads frames until a close frame and returns its status code (1005 when it has none).
func (c *wsClient) readClose(t *testing.T) uint16 {
	t.Helper()
	for {
		op, p := c.read(t)
		if op != ws.OpClose {
			continue
		}
		if len(p) < 2 {
			return 1005
		}
		return uint16(p[0])<<8 | uint16(p[1])
	}
}
