package eventloop

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNetHTTP runs the transport tests again with the server mounted in net/http: the same sessions on
// goroutine transports (a held GET per poll, a hijacked WebSocket with its reader and writer).
func TestNetHTTP(t *testing.T) {
	tests := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"WebSocketEcho", TestWebSocketEcho},
		{"WebSocketLargeAndStraddlingFrames", TestWebSocketLargeAndStraddlingFrames},
		{"TrafficMetrics", TestTrafficMetrics},
		{"OneCloseFrameEachWay", TestOneCloseFrameEachWay},
		{"WebSocketProtocolErrors", TestWebSocketProtocolErrors},
		{"WebSocketInvalidPacketAndClientClose", TestWebSocketInvalidPacketAndClientClose},
		{"WebSocketHeartbeat", TestWebSocketHeartbeat},
		{"UpgradeKeepsOrder", TestUpgradeKeepsOrder},
		{"ConcurrentSendsKeepPerSenderOrder", TestConcurrentSendsKeepPerSenderOrder},
		{"ServerCloseSession", TestServerCloseSession},
		{"BadWebSocketHandshake", TestBadWebSocketHandshake},
		{"SlowConsumerIsClosed", TestSlowConsumerIsClosed},
		{"Shutdown", TestShutdown},
		{"UpgradeTimeoutKeepsPolling", TestUpgradeTimeoutKeepsPolling},
		{"TransportOptions", TestTransportOptions},
		{"CORSOriginFunc", TestCORSOriginFunc},
		{"CORS", TestCORS},
		{"CookieAndAllowRequest", TestCookieAndAllowRequest},
		{"EngineErrors", TestEngineErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

// TestNetHTTPBroadcast fans a frame out to WebSocket and polling sessions served by net/http.
func TestNetHTTPBroadcast(t *testing.T) {
	ts := startNetHTTP(t)
	var clients []*wsClient
	var sessions []*Session
	for range 3 {
		c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
		clients = append(clients, c)
		sessions = append(sessions, ts.ep.Session(readOpen(t, c)))
	}
	psid := ts.handshake(t)
	sessions = append(sessions, ts.ep.Session(psid))
	_ = sessions[0].SendText("own") // queued before the broadcasts: arrives first

	for i := range 3 {
		frame := NewFrame(Packet{Data: []byte(fmt.Sprintf("b%d", i))})
		fan := ts.NewFanout(frame, false)
		for _, s := range sessions {
			fan.Add(s)
		}
		if n := fan.Flush(); n != len(sessions) {
			t.Fatalf("fan-out to %d recipients, want %d", n, len(sessions))
		}
		frame.Release()
	}
	if got := clients[0].readText(t); got != "4own" {
		t.Fatalf("first packet %q", got)
	}
	for _, c := range clients {
		for i := range 3 {
			if got, want := c.readText(t), fmt.Sprintf("4b%d", i); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+psid); status != 200 || body != "4b0\x1e4b1\x1e4b2" {
		t.Fatalf("poll: %d %q", status, body)
	}
}

// TestNetHTTPAbortedPollEndsSession checks that a held GET whose client goes away ends the session, as an
// aborted poll does on the event loops.
func TestNetHTTPAbortedPollEndsSession(t *testing.T) {
	ts := startNetHTTP(t)
	sid := ts.handshake(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.url("EIO=4&transport=polling&sid="+sid), nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for ts.ep.Session(sid) != nil && !ts.ep.Session(sid).pollHeld() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-errc
	if r := ts.h.waitClose(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

// pollHeld reports whether a GET is pending (for tests).
func (s *Session) pollHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poll != nil
}

// TestNetHTTPOverTLS serves the endpoint with TLS (HTTP/2 for polling where the client offers it) and runs a
// polling session, its upgrade, and a WebSocket session over it.
func TestNetHTTPOverTLS(t *testing.T) {
	srv := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := newEcho()
	ep, err := srv.Handle(EndpointConfig{Handler: h, PingInterval: 20 * time.Second, PingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	client := hs.Client()
	get := func(query string) (string, *http.Response) {
		t.Helper()
		resp, err := client.Get(hs.URL + "/engine.io/?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp
	}
	body, resp := get("EIO=4&transport=polling")
	if resp.ProtoMajor != 2 || resp.TLS == nil {
		t.Fatalf("handshake over %s, TLS %v", resp.Proto, resp.TLS != nil)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	s := ep.Session(open.SID)
	if s == nil || !s.Request().Secure {
		t.Fatal("session missing, or its request not marked secure")
	}
	resp, err = client.Post(hs.URL+"/engine.io/?EIO=4&transport=polling&sid="+open.SID, "text/plain", strings.NewReader("4hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if body, _ := get("EIO=4&transport=polling&sid=" + open.SID); body != "4hello" {
		t.Fatalf("echo over polling: %q", body)
	}

	// The upgrade: a WebSocket over TLS (HTTP/1.1) takes the session over.
	c := dialTLSWS(t, hs, "EIO=4&transport=websocket&sid="+open.SID)
	c.writeText(t, "2probe")
	if got := c.readText(t); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	c.writeText(t, "5")
	c.writeText(t, "4over wss")
	if got := c.readText(t); got != "4over wss" {
		t.Fatalf("echo over wss: %q", got)
	}
	if s.Transport() != TransportWebSocket {
		t.Fatalf("transport %s after the upgrade", s.Transport())
	}
}

func dialTLSWS(t *testing.T, hs *httptest.Server, query string) *wsClient {
	t.Helper()
	addr := strings.TrimPrefix(hs.URL, "https://")
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: hs.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{&rawConn{Conn: conn, r: bufio.NewReader(conn)}}
	c.send(t, "GET /engine.io/?"+query+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade over TLS: status %d", resp.StatusCode)
	}
	return c
}

// startNetHTTP starts an echo endpoint served through net/http.
func startNetHTTP(t *testing.T) *testServer {
	t.Helper()
	return startServerOn(t, Config{}, EndpointConfig{}, true)
}

// TestNetHTTPSlowPostIsCut checks that a polling POST whose body trickles in is cut after RequestTimeout.
func TestNetHTTPSlowPostIsCut(t *testing.T) {
	ts := startServerOn(t, Config{RequestTimeout: 300 * time.Millisecond}, EndpointConfig{}, true)
	sid := ts.handshake(t)
	c := dialRaw(t, ts.addr)
	c.send(t, "POST /engine.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4ab")
	began := time.Now()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, _ := c.readResponse(t)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("cut after %v", took)
	}
	if ts.Metrics().RequestTimeouts.Load() != 1 {
		t.Errorf("RequestTimeouts = %d, want 1", ts.Metrics().RequestTimeouts.Load())
	}
}
