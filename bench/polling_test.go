package bench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedHTTP serves canned responses, one per request, on one end of a pipe, and records the requests.
func scriptedHTTP(t *testing.T, responses ...string) (*httpConn, <-chan *http.Request) {
	t.Helper()
	client, server := net.Pipe()
	reqs := make(chan *http.Request, len(responses))
	go func() {
		defer server.Close()
		br := bufio.NewReader(server)
		for _, resp := range responses {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(strings.NewReader(string(body)))
			reqs <- req
			if _, err := io.WriteString(server, resp); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { client.Close() })
	return newHTTPConn(client, "example:80"), reqs
}

func TestHTTPConn(t *testing.T) {
	hc, reqs := scriptedHTTP(t,
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n",
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope!",
		"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nuntil the end",
	)
	status, body, err := hc.roundTrip("POST", "/socket.io/?EIO=4&transport=polling&sid=a", []byte("40"))
	if err != nil || status != 200 || string(body) != "ok" {
		t.Fatalf("1: %d %q %v", status, body, err)
	}
	r := <-reqs
	b, _ := io.ReadAll(r.Body)
	if r.Method != "POST" || r.URL.String() != "/socket.io/?EIO=4&transport=polling&sid=a" || r.Host != "example:80" ||
		string(b) != "40" || r.Header.Get("Content-Type") != "text/plain;charset=UTF-8" {
		t.Errorf("request %s %s host %s body %q type %q", r.Method, r.URL, r.Host, b, r.Header.Get("Content-Type"))
	}
	if status, body, err = hc.roundTrip("GET", "/x", nil); err != nil || status != 200 || string(body) != "abcde" {
		t.Fatalf("chunked: %d %q %v", status, body, err)
	}
	if r := <-reqs; r.Method != "GET" || r.ContentLength != 0 {
		t.Errorf("GET request %s length %d", r.Method, r.ContentLength)
	}
	if status, body, err = hc.roundTrip("GET", "/x", nil); err != nil || status != 400 || string(body) != "nope!" {
		t.Fatalf("400: %d %q %v", status, body, err)
	}
	if status, body, err = hc.roundTrip("GET", "/x", nil); err != nil || status != 200 || string(body) != "until the end" {
		t.Fatalf("close-delimited: %d %q %v", status, body, err)
	}
	if _, _, err := hc.roundTrip("GET", "/x", nil); err != errHTTPConnClosed {
		t.Errorf("after Connection: close: %v", err)
	}
}

func TestHTTPConnBadResponses(t *testing.T) {
	for name, resp := range map[string]string{
		"status line":    "HTTP/2 200\r\n\r\n",
		"status code":    "HTTP/1.1 2x0 OK\r\n\r\n",
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"chunk size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"short body":     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
	} {
		hc, _ := scriptedHTTP(t, resp)
		if _, _, err := hc.roundTrip("GET", "/", nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func testURL(t *testing.T, fs *fakeServer) *url.URL {
	t.Helper()
	u, err := url.Parse(fs.url() + "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDialPollingUpgrade opens a session over polling with auth, and upgrades it; the "auth" event, queued for
// polling, arrives once (early or over the WebSocket).
func TestDialPollingUpgrade(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pingInterval: 30 * time.Millisecond})
	var auths atomic.Int64
	ready := make(chan *Conn, 1)
	cfg := &ClientConfig{URL: testURL(t, fs), Polling: true, Auth: []byte(`{"room":"r"}`), Timeout: 5 * time.Second,
		Stats:   &ClientStats{},
		OnReady: func(c *Conn) { c.Value = "mine"; ready <- c },
		OnMessage: func(c *Conn, p []byte, _ bool) {
			if c.Value != "mine" {
				t.Error("OnMessage before OnReady")
			}
			if isEvent(p, "auth") {
				auths.Add(1)
			}
		}}
	c, tm, err := Dial(context.Background(), cfg, netip.MustParseAddr("127.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if <-ready != c {
		t.Error("OnReady got another conn")
	}
	if !strings.HasPrefix(c.SID, "p") || c.SocketSID != "x"+c.SID || c.PingInterval != 25*time.Second {
		t.Errorf("sid %q socket sid %q interval %v", c.SID, c.SocketSID, c.PingInterval)
	}
	if tm.TCP <= 0 || tm.Open < tm.TCP || tm.WS < tm.Open || tm.Ready < tm.WS {
		t.Errorf("timing %+v", tm)
	}
	waitFor(t, 5*time.Second, "the auth event", func() bool { return auths.Load() == 1 })
	waitFor(t, 5*time.Second, "the upgrade", func() bool { return fs.pollUpgrades.Load() == 1 })
	if fs.pollOpens.Load() != 1 || fs.pollUpgrades.Load() != 1 || fs.sioConnects.Load() != 1 {
		t.Errorf("server: %d polling opens, %d upgrades, %d CONNECTs", fs.pollOpens.Load(), fs.pollUpgrades.Load(), fs.sioConnects.Load())
	}
	// After the upgrade the session runs over the WebSocket: pings are answered there.
	waitFor(t, 5*time.Second, "pongs over the upgraded connection", func() bool { return fs.pongs.Load() >= 2 })
	if peers := fs.peerCounts(); peers["127.0.0.2"] != 1 {
		t.Errorf("WebSocket peers %v", peers)
	}

	// A session refused at CONNECT, and a server that does not exist.
	rej := startFakeServer(t, fakeOptions{rejectConnect: true})
	_, _, err = Dial(context.Background(), &ClientConfig{URL: testURL(t, rej), Polling: true, Timeout: 5 * time.Second}, netip.Addr{})
	if ErrorKind(err) != "sio_connect_error" {
		t.Errorf("rejected: kind %q (%v)", ErrorKind(err), err)
	}
	u := testURL(t, fs)
	u.Path = "/nothing/"
	_, _, err = Dial(context.Background(), &ClientConfig{URL: u, Polling: true, Timeout: 5 * time.Second}, netip.Addr{})
	if ErrorKind(err) != "http_status_400" {
		t.Errorf("bad path: kind %q (%v)", ErrorKind(err), err)
	}
}

func TestPollClient(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pollHold: 200 * time.Millisecond})
	cfg := &ClientConfig{URL: testURL(t, fs), Auth: []byte(`{}`), Timeout: 5 * time.Second, Stats: &ClientStats{}}
	pc, tm, early, err := DialPollClient(context.Background(), cfg, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if tm.Ready <= 0 || pc.SocketSID == "" || len(early) != 1 || string(early[0]) != `2["auth",{}]` {
		t.Errorf("ready %v socket sid %q early %q", tm.Ready, pc.SocketSID, early)
	}
	deadline := time.Now().Add(5 * time.Second)
	if err := pc.Post(appendEventPacket([]byte("4"), 3, "message-with-ack", []byte(`"hi"`)), deadline); err != nil {
		t.Fatal(err)
	}
	pkts, err := pc.Poll(deadline)
	if err != nil || len(pkts) != 1 || string(pkts[0]) != `433["hi"]` {
		t.Fatalf("poll: %q %v", pkts, err)
	}
	// Nothing queued: the server holds the GET, then answers with a noop.
	start := time.Now()
	pkts, err = pc.Poll(deadline)
	if err != nil || len(pkts) != 1 || string(pkts[0]) != "6" || time.Since(start) < 150*time.Millisecond {
		t.Errorf("held poll: %q %v after %v", pkts, err, time.Since(start))
	}
	if fs.acked.Load() != 1 {
		t.Errorf("server acked %d", fs.acked.Load())
	}
}
