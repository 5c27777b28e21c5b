package eventloop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMalformedHTTP(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	sid := ts.handshake(t) // a bystander session that must keep working

	cases := []struct {
		name   string
		input  string
		status int
	}{
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", 400},
		{"bad request line", "GET\r\n\r\n", 400},
		{"bad version", "GET / HTTP/2.0\r\n\r\n", 505},
		{"space before colon", "GET /engine.io/ HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"bad content length", "POST /engine.io/ HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
		{"chunked", "POST /engine.io/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
		{"header too large", "GET /engine.io/ HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			c.send(t, tc.input)
			resp, _ := c.readResponse(t)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			c.expectEOF(t)
		})
	}
	if got := ts.Metrics().BadRequests.Load(); got != int64(len(cases)) {
		t.Errorf("BadRequests = %d, want %d", got, len(cases))
	}
	// The bystander carries on.
	if status, body := ts.post(t, "EIO=4&transport=polling&sid="+sid, "4still here"); status != 200 || body != "ok" {
		t.Fatalf("bystander post: %d %q", status, body)
	}
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+sid); status != 200 || body != "4still here" {
		t.Fatalf("bystander poll: %d %q", status, body)
	}
}

func TestPipelinedAndPartialRequests(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialRaw(t, ts.addr)
	req := "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
	c.send(t, req+req) // two requests in one segment
	for i := 0; i < 2; i++ {
		resp, body := c.readResponse(t)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, `0{"sid":"`) {
			t.Fatalf("response %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// One request sent a few bytes at a time.
	for i := 0; i < len(req); i += 7 {
		c.send(t, req[i:min(i+7, len(req))])
		time.Sleep(time.Millisecond)
	}
	if resp, body := c.readResponse(t); resp.StatusCode != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("partial request: %d %q", resp.StatusCode, body)
	}
}

func TestPipelinedRequestWaitsForParkedPoll(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	sid := ts.handshake(t)
	c := dialRaw(t, ts.addr)
	get := fmt.Sprintf("GET /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid)
	post := fmt.Sprintf("POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n4hello", sid)
	// The GET parks; the POST behind it on the same connection must wait for the GET's answer (a ping, after
	// pingInterval), and responses must come back in request order.
	c.send(t, get+post)
	resp, body := c.readResponse(t)
	if resp.StatusCode != 200 || body != "2" {
		t.Fatalf("first response: %d %q, want the ping", resp.StatusCode, body)
	}
	resp, body = c.readResponse(t)
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("second response: %d %q", resp.StatusCode, body)
	}
}

func TestOversizedPostKeepsSession(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{MaxPayload: 1000})
	sid := ts.handshake(t)
	c := dialRaw(t, ts.addr)
	big := strings.Repeat("x", 1500)
	c.send(t, fmt.Sprintf("POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n4%s",
		sid, len(big)+1, big))
	if resp, _ := c.readResponse(t); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	// Same connection, next request: the refused body was skipped, the session is still there.
	c.send(t, fmt.Sprintf("POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n4ok", sid))
	if resp, body := c.readResponse(t); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after 413: %d %q", resp.StatusCode, body)
	}
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+sid); status != 200 || body != "4ok" {
		t.Fatalf("poll: %d %q", status, body)
	}
}

func TestSlowRequestIsClosed(t *testing.T) {
	ts := startServer(t, Config{RequestTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}, EndpointConfig{})
	slow := dialRaw(t, ts.addr)
	slow.send(t, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n") // never finished
	idle := dialRaw(t, ts.addr)                                                     // never sends anything
	start := time.Now()
	slow.expectEOF(t)
	idle.expectEOF(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if got := ts.Metrics().RequestTimeouts.Load(); got != 2 {
		t.Errorf("RequestTimeouts = %d, want 2", got)
	}
}

func TestFallbackHandlerRunsOffTheLoop(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
		}
		w.Header().Set("X-Path", r.URL.Path)
		fmt.Fprintf(w, "hello %s %s", r.Method, r.URL.Query().Get("q"))
	})
	ts := startServer(t, Config{Fallback: fallback, EventLoops: 1}, EndpointConfig{})
	defer once.Do(func() { close(release) })

	blocked := dialRaw(t, ts.addr)
	blocked.send(t, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	// With one event loop, a blocking handler would stall this request if it ran on the loop.
	if status, body := ts.get(t, "EIO=4&transport=polling"); status != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("engine.io request while fallback blocks: %d %q", status, body)
	}
	resp, err := noKeepAlive.Get("http://" + ts.addr + "/page?q=42")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Path") != "/page" {
		t.Fatalf("fallback: %d %v", resp.StatusCode, resp.Header)
	}
	once.Do(func() { close(release) })
	if resp, body := blocked.readResponse(t); resp.StatusCode != 200 || body != "hello GET " {
		t.Fatalf("blocked request: %d %q", resp.StatusCode, body)
	}
}

func TestNotFoundWithoutFallback(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	resp, err := noKeepAlive.Get("http://" + ts.addr + "/nothing/here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestCORS(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{CORS: &CORS{Origins: []string{"http://a.example"}, Credentials: true}})
	c := dialRaw(t, ts.addr)
	c.send(t, "OPTIONS /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n"+
		"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n")
	resp, _ := c.readResponse(t)
	if resp.StatusCode != 204 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "http://a.example" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	c.send(t, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n")
	resp, _ = c.readResponse(t)
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestCookieAndAllowRequest(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{
		Cookie: &Cookie{HTTPOnly: true},
		AllowRequest: func(r *Request) error {
			if r.Query().Get("token") != "ok" {
				return errors.New("no token")
			}
			if r.Header().Get("X-Test") != "yes" {
				return errors.New("no header")
			}
			return nil
		},
	})
	c := dialRaw(t, ts.addr)
	c.send(t, "GET /engine.io/?EIO=4&transport=polling&token=ok HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n")
	resp, body := c.readResponse(t)
	if resp.StatusCode != 200 {
		t.Fatalf("allowed handshake: %d %q", resp.StatusCode, body)
	}
	sid := body[strings.Index(body, `"sid":"`)+7:][:20]
	if got, want := resp.Header.Get("Set-Cookie"), "io="+sid+"; Path=/; HttpOnly; SameSite=Lax"; got != want {
		t.Fatalf("Set-Cookie = %q, want %q", got, want)
	}
	c.send(t, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.readResponse(t)
	if resp.StatusCode != 403 || body != `{"code":4,"message":"no token"}` {
		t.Fatalf("refused handshake: %d %q", resp.StatusCode, body)
	}
}

func TestEngineErrors(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{Transports: []string{TransportPolling}})
	cases := []struct {
		method, query string
		status        int
		body          string
	}{
		{"GET", "EIO=4&transport=websocket", 400, `{"code":0,"message":"Transport unknown"}`},
		{"GET", "EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST", "EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"GET", "EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, ts.url(tc.query), nil)
		resp, err := noKeepAlive.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(resp); resp.StatusCode != tc.status || body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.query, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func TestFallbackBodyCapAndSubPaths(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		fmt.Fprint(w, "fallback")
	})
	ts := startServer(t, Config{Fallback: fallback, MaxFallbackBody: 1000}, EndpointConfig{})
	// A file below the endpoint's path is not the endpoint's (Node's serveClient).
	resp, err := noKeepAlive.Get("http://" + ts.addr + "/engine.io/engine.io.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(resp); resp.StatusCode != 200 || body != "fallback" {
		t.Fatalf("sub-path: %d %q", resp.StatusCode, body)
	}
	// A body over MaxFallbackBody is refused before it is read.
	c := dialRaw(t, ts.addr)
	c.send(t, "POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
	if resp, _ := c.readResponse(t); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	c.expectEOF(t)
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 1 || paths[0] != "/engine.io/engine.io.min.js" {
		t.Fatalf("fallback saw %v", paths)
	}
}

func TestConnectionCaps(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 3, MaxConnectionsPerIP: 2}, EndpointConfig{})
	// admitted opens a connection from ip and checks that it is served.
	admitted := func(ip string) *rawConn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
		nc, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
		c.send(t, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.readResponse(t); resp.StatusCode != 200 {
			t.Fatalf("from %s: status %d", ip, resp.StatusCode)
		}
		return c
	}
	refused := func(ip string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
		nc, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		resp, body := c.readResponse(t)
		if resp.StatusCode != http.StatusServiceUnavailable || body != "too many connections" {
			t.Fatalf("from %s: %d %q, want 503", ip, resp.StatusCode, body)
		}
		c.expectEOF(t)
	}
	a := admitted("127.0.0.1")
	admitted("127.0.0.1")
	refused("127.0.0.1") // the per-address cap
	admitted("127.0.0.2")
	refused("127.0.0.3") // the total cap
	a.Close()
	waitUntil(t, func() bool { return ts.Metrics().Connections.Load() == 2 })
	admitted("127.0.0.1") // a place freed up, for the address too
	if got := ts.Metrics().ConnectionsRefused.Load(); got != 2 {
		t.Errorf("ConnectionsRefused = %d, want 2", got)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
