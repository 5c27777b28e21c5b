package conformance

// Engine.IO v4 conformance tests against the echo endpoint /engine.io/.
//
// The first groups mirror, behaviour by behaviour, the official Engine.IO v4
// protocol test suite (socket.io repository,
// docs/engine.io-protocol/v4-test-suite/test-suite.js), with tighter checks
// where the reference server is deterministic (error bodies, timings). The
// last group covers the "protocol behaviour" and "easy to get wrong" sections
// of shared/testserver-contract.md.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// ---------------------------------------------------------------------------
// handshake

func checkHandshake(t *testing.T, h handshakeInfo, upgrades string) {
	t.Helper()
	keys := slices.Clone(h.keys)
	sort.Strings(keys)
	wantKeys := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("handshake keys: want exactly %v, got %v (%q)", wantKeys, keys, h.raw)
	}
	if h.SID == "" {
		t.Fatalf("handshake without a sid: %q", h.raw)
	}
	if h.PingInterval != 300 || h.PingTimeout != 200 || h.MaxPayload != maxPayload {
		t.Errorf("handshake values: want pingInterval 300, pingTimeout 200, maxPayload 1000000; got %q", h.raw)
	}
	// Byte for byte, as JSON.stringify writes it.
	want := `0{"sid":"` + h.SID + `","upgrades":` + upgrades + `,"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	if h.raw != want {
		t.Errorf("open packet:\n got %s\nwant %s", h.raw, want)
	}
}

func TestHandshakePolling(t *testing.T) {
	r := mustRequest(t, http.MethodGet, engineURL(t, "EIO=4&transport=polling"), "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("want 200, got %d %q", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type: want text/plain..., got %q", ct)
	}
	h := parseOpenPacket(t, r.body)
	checkHandshake(t, h, `["websocket"]`)
	if !slices.Equal(h.Upgrades, []string{"websocket"}) {
		t.Errorf("upgrades: want [websocket], got %v", h.Upgrades)
	}

	// Every handshake creates a new session.
	if sid2 := openPolling(t); sid2 == h.SID {
		t.Errorf("two handshakes returned the same sid %q", sid2)
	}
}

func TestHandshakeLocalhostName(t *testing.T) {
	// The contract: 127.0.0.1 and localhost must both work.
	r := mustRequest(t, http.MethodGet,
		fmt.Sprintf("http://localhost:%d%s?EIO=4&transport=polling", serverPortFor(t), enginePath), "", nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, `0{"sid":"`) {
		t.Fatalf("handshake via localhost: %d %q", r.status, r.body)
	}
}

func serverPortFor(t testing.TB) int {
	server(t)
	return serverPort
}

func expectError(t *testing.T, method, query, wantBody string) {
	t.Helper()
	r := mustRequest(t, method, engineURL(t, query), "", nil)
	if r.status != http.StatusBadRequest || r.body != wantBody {
		t.Errorf("%s ?%s: want 400 %s, got %d %q", method, query, wantBody, r.status, r.body)
	}
	if r.status == http.StatusBadRequest {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s ?%s: Content-Type: want application/json, got %q", method, query, ct)
		}
	}
}

const (
	errTransportUnknown   = `{"code":0,"message":"Transport unknown"}`
	errBadHandshakeMethod = `{"code":2,"message":"Bad handshake method"}`
	errBadRequest         = `{"code":3,"message":"Bad request"}`
	errUnsupportedVersion = `{"code":5,"message":"Unsupported protocol version"}`
)

func TestHandshakePollingInvalidEIO(t *testing.T) {
	expectError(t, http.MethodGet, "transport=polling", errUnsupportedVersion)
	expectError(t, http.MethodGet, "EIO=abc&transport=polling", errUnsupportedVersion)
	expectError(t, http.MethodGet, "EIO=3&transport=polling", errUnsupportedVersion)
}

func TestHandshakePollingInvalidTransport(t *testing.T) {
	expectError(t, http.MethodGet, "EIO=4", errTransportUnknown)
	expectError(t, http.MethodGet, "EIO=4&transport=abc", errTransportUnknown)
	// A plain GET (no Upgrade header) asking for the websocket transport.
	expectError(t, http.MethodGet, "EIO=4&transport=websocket", errBadRequest)
}

func TestHandshakePollingInvalidMethod(t *testing.T) {
	expectError(t, http.MethodPost, "EIO=4&transport=polling", errBadHandshakeMethod)
	expectError(t, http.MethodPut, "EIO=4&transport=polling", errBadHandshakeMethod)
}

func TestHandshakeWebSocket(t *testing.T) {
	c, h := openWS(t)
	defer c.close()
	checkHandshake(t, h, `[]`)
	if h.Upgrades == nil || len(h.Upgrades) != 0 {
		t.Errorf("upgrades: want [], got %v", h.Upgrades)
	}
}

func TestHandshakeWebSocketInvalidEIO(t *testing.T) {
	expectWSRejected(t, enginePath, "transport=websocket")
	expectWSRejected(t, enginePath, "EIO=abc&transport=websocket")
	expectWSRejected(t, enginePath, "EIO=3&transport=websocket")
}

func TestHandshakeWebSocketInvalidTransport(t *testing.T) {
	expectWSRejected(t, enginePath, "EIO=4")
	expectWSRejected(t, enginePath, "EIO=4&transport=abc")
}

// ---------------------------------------------------------------------------
// messages over HTTP long-polling

func expectPollEcho(t *testing.T, payload string) {
	t.Helper()
	sid := openPolling(t)
	r := pollPOST(t, sid, payload)
	if r.status != http.StatusOK || r.body != "ok" {
		t.Fatalf("POST %q: want 200 \"ok\", got %d %q", payload, r.status, r.body)
	}
	r = pollGET(t, sid)
	if r.status != http.StatusOK || r.body != payload {
		t.Fatalf("GET: want 200 %q, got %d %q", payload, r.status, r.body)
	}
}

func TestPollingOneTextPacket(t *testing.T) {
	expectPollEcho(t, "4hello")
}

func TestPollingSeveralTextPackets(t *testing.T) {
	expectPollEcho(t, "4test1\x1e4test2\x1e4test3")
}

func TestPollingUTF8Packets(t *testing.T) {
	expectPollEcho(t, "4€uro\x1e4héllo wörld 😀")
}

func TestPollingTextAndBinaryPackets(t *testing.T) {
	// "b" + base64 of the bytes 01 02 03 04
	expectPollEcho(t, "4hello\x1ebAQIDBA==")
}

func TestPollingInvalidPacketClosesSession(t *testing.T) {
	for _, body := range []string{"abc", "9hello"} {
		t.Run(body, func(t *testing.T) {
			sid := openPolling(t)
			r := doRequest(t, http.MethodPost, engineURL(t, pollingQuery(sid)), body, nil)
			// Node answers 200 "ok" and closes the session; 400 is allowed too.
			switch {
			case r.err != nil:
				t.Logf("POST %q: connection error %v", body, r.err)
			case r.status == http.StatusOK && r.body == "ok", r.status == http.StatusBadRequest:
				t.Logf("POST %q: %d %q", body, r.status, r.body)
			default:
				t.Errorf("POST %q: want 200 \"ok\" or 400, got %d %q", body, r.status, r.body)
			}
			expectSessionGone(t, pollGET(t, sid), "GET after an invalid packet")
		})
	}
}

func TestPollingDuplicateGetClosesSession(t *testing.T) {
	retryIfLate(t, func() string {
		sid := openPolling(t)
		first := asyncGET(t, sid)
		time.Sleep(50 * time.Millisecond) // let the first GET become pending

		second := doRequest(t, http.MethodGet, engineURL(t, pollingQuery(sid)+"&t=burst"), "", nil)
		var r httpResult
		select {
		case r = <-first:
		case <-time.After(3 * time.Second):
			t.Fatal("first GET still pending 3s after the duplicate GET")
		}
		if r.err == nil && r.status == http.StatusOK && r.body == "2" {
			// The first GET was answered by the ping before the second one
			// arrived: the two did not overlap.
			return fmt.Sprintf("first GET got the ping; second GET got %d %q", second.status, second.body)
		}
		if second.err != nil {
			t.Fatalf("second GET: %v", second.err)
		}
		if second.status != http.StatusBadRequest && second.status != http.StatusInternalServerError {
			t.Errorf("second GET: want 400 or 500, got %d %q", second.status, second.body)
		}
		t.Logf("second GET: %d %q", second.status, second.body)
		if r.err != nil || r.status != http.StatusOK || r.body != "1" {
			t.Errorf("first GET: want 200 \"1\", got %d %q (err %v)", r.status, r.body, r.err)
		}
		expectSessionGone(t, pollGET(t, sid), "GET after duplicate GETs")
		return ""
	})
}

// retryIfLate runs a timing-dependent scenario up to three times. The
// scenario returns a non-empty description when the machine was too slow for
// its timing assumptions to hold (nothing is wrong with the server then).
func retryIfLate(t *testing.T, scenario func() string) {
	t.Helper()
	const attempts = 3
	for i := 1; i <= attempts; i++ {
		why := scenario()
		if why == "" {
			return
		}
		if i == attempts {
			t.Fatalf("timing assumptions failed %d times in a row (last: %s)", attempts, why)
		}
		t.Logf("attempt %d inconclusive, retrying: %s", i, why)
	}
}

// asyncGET starts a GET on the session and returns its future result.
func asyncGET(t *testing.T, sid string) <-chan httpResult {
	url := engineURL(t, pollingQuery(sid))
	ch := make(chan httpResult, 1)
	go func() { ch <- doRequest(t, http.MethodGet, url, "", nil) }()
	return ch
}

func TestPollingAbortedGetClosesSession(t *testing.T) {
	sid := openPolling(t)
	conn, err := net.DialTimeout("tcp", server(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s?%s HTTP/1.1\r\nHost: %s\r\n\r\n", enginePath, pollingQuery(sid), server(t))
	time.Sleep(50 * time.Millisecond) // the GET is now pending
	conn.Close()
	time.Sleep(50 * time.Millisecond)

	// A server that missed the abort would accept this POST.
	expectSessionGone(t, pollPOST(t, sid, "4hello"), "POST after an aborted GET")
	expectSessionGone(t, pollGET(t, sid), "GET after an aborted GET")
}

// ---------------------------------------------------------------------------
// messages over WebSocket

func TestWebSocketTextPacket(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	for _, msg := range []string{"4hello", "4€uro héllo 😀", "4"} {
		c.sendText(t, msg)
		c.expectText(t, msg, 2*time.Second)
	}
}

func TestWebSocketBinaryPacket(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	c.sendBinary(t, []byte{1, 2, 3, 4})
	m := c.next(t, 2*time.Second)
	if !m.binary || !bytes.Equal(m.data, []byte{1, 2, 3, 4}) {
		t.Fatalf("want binary [1 2 3 4], got %v", m)
	}
}

func TestWebSocketInvalidPacketClosesConnection(t *testing.T) {
	for _, body := range []string{"abc", "9hello"} {
		t.Run(body, func(t *testing.T) {
			c, _ := openWS(t) // pings are answered, so only the bad packet can close it
			defer c.close()
			c.sendText(t, body)
			end := c.expectEnd(t, 2*time.Second)
			t.Logf("after %q: %v", body, end)
		})
	}
}

// ---------------------------------------------------------------------------
// heartbeat

// pingWindow is when a ping may arrive, measured from the previous pong or
// handshake: pingInterval 300 ms, with slack for a loaded machine.
const (
	pingEarliest = 150 * time.Millisecond
	pingLatest   = 1000 * time.Millisecond
)

func TestHeartbeatPolling(t *testing.T) {
	sid := openPolling(t)
	for i := 0; i < 3; i++ {
		start := time.Now()
		r := pollGET(t, sid)
		waited := time.Since(start)
		if r.status != http.StatusOK || r.body != "2" {
			t.Fatalf("round %d: GET: want 200 \"2\", got %d %q", i, r.status, r.body)
		}
		if waited < pingEarliest || waited > pingLatest {
			t.Errorf("round %d: ping after %v, want about pingInterval (300ms)", i, waited)
		}
		r = pollPOST(t, sid, "3")
		if r.status != http.StatusOK || r.body != "ok" {
			t.Fatalf("round %d: POST pong: want 200 \"ok\", got %d %q", i, r.status, r.body)
		}
	}
	expectPollEcho2(t, sid, "4still-alive")
}

// expectPollEcho2 posts a message on an existing session and polls until it
// comes back, answering pings on the way.
func expectPollEcho2(t *testing.T, sid, payload string) {
	t.Helper()
	r := pollPOST(t, sid, payload)
	if r.status != http.StatusOK || r.body != "ok" {
		t.Fatalf("POST %q: want 200 \"ok\", got %d %q", truncate(payload), r.status, truncate(r.body))
	}
	var got []string
	for i := 0; i < 5 && len(got) == 0; i++ {
		r := pollGET(t, sid)
		if r.status != http.StatusOK {
			t.Fatalf("GET: want 200, got %d %q", r.status, truncate(r.body))
		}
		for _, p := range strings.Split(r.body, packetSep) {
			if p == "2" {
				if r := pollPOST(t, sid, "3"); r.status != http.StatusOK {
					t.Fatalf("POST pong: %d %q", r.status, r.body)
				}
				continue
			}
			got = append(got, p)
		}
	}
	if len(got) != 1 || got[0] != payload {
		short := make([]string, len(got))
		for i, g := range got {
			short[i] = truncate(g)
		}
		t.Fatalf("want exactly the packet %q back, got %q", truncate(payload), short)
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s...(%d bytes)", s[:60], len(s))
	}
	return s
}

func TestHeartbeatPollingTimeout(t *testing.T) {
	sid := openPolling(t)
	// No GET, so no pong: the session must be gone after
	// pingInterval + pingTimeout (500 ms); 200 ms of slack.
	time.Sleep(pingInterval + pingTimeout + 200*time.Millisecond)
	expectSessionGone(t, pollGET(t, sid), "GET after the ping timeout")
}

func TestHeartbeatWebSocket(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	c.autoPong.Store(false)
	last := time.Now()
	for i := 0; i < 3; i++ {
		m := c.next(t, 2*time.Second)
		waited := time.Since(last)
		if m.binary || string(m.data) != "2" {
			t.Fatalf("round %d: want ping \"2\", got %v", i, m)
		}
		if waited < pingEarliest || waited > pingLatest {
			t.Errorf("round %d: ping after %v, want about pingInterval (300ms)", i, waited)
		}
		c.sendText(t, "3")
		last = time.Now()
	}
	c.autoPong.Store(true)
	c.sendText(t, "4still-alive")
	c.expectText(t, "4still-alive", 2*time.Second)
}

func TestHeartbeatWebSocketTimeout(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	c.autoPong.Store(false)
	start := time.Now()
	m := c.next(t, 2*time.Second)
	if m.binary || string(m.data) != "2" {
		t.Fatalf("want ping \"2\", got %v", m)
	}
	if d := time.Since(start); d < pingEarliest || d > pingLatest {
		t.Errorf("ping after %v, want about pingInterval (300ms)", d)
	}
	end := c.expectEnd(t, 3*time.Second)
	d := time.Since(start)
	t.Logf("closed %v after the handshake: %v", d, end)
	// Closed at pingInterval + pingTimeout = 500 ms after the handshake.
	if d < 400*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed %v after the handshake, want about 500ms", d)
	}
}

// ---------------------------------------------------------------------------
// close

func TestClosePolling(t *testing.T) {
	retryIfLate(t, func() string {
		sid := openPolling(t)
		pending := asyncGET(t, sid)
		time.Sleep(50 * time.Millisecond)

		r := pollPOST(t, sid, "1")
		var g httpResult
		select {
		case g = <-pending:
		case <-time.After(3 * time.Second):
			t.Fatal("pending GET not answered 3s after the close packet")
		}
		if g.err == nil && (g.status == http.StatusOK && g.body == "2" ||
			g.status == http.StatusBadRequest && g.body == sessionUnknownBody) {
			// The GET was answered by a ping before the POST, or reached the
			// server after it.
			return fmt.Sprintf("GET got %d %q", g.status, g.body)
		}
		if r.status != http.StatusOK || r.body != "ok" {
			t.Errorf("POST \"1\": want 200 \"ok\", got %d %q", r.status, r.body)
		}
		if g.err != nil || g.status != http.StatusOK || g.body != "6" {
			t.Errorf("pending GET: want 200 \"6\", got %d %q (err %v)", g.status, g.body, g.err)
		}
		expectSessionGone(t, pollGET(t, sid), "GET after close")
		return ""
	})
}

func TestCloseWebSocket(t *testing.T) {
	// The Node reference ignores a close packet ("1") received over a
	// WebSocket: the official suite's "forcefully closes the session" passes
	// there only because its client never answers pings, so the session ends
	// by ping timeout. This test does the same: pings are not answered, and
	// the connection must end by pingInterval + pingTimeout (with slack); a
	// server may also close it right away on "1".
	c, _ := openWS(t)
	defer c.close()
	c.autoPong.Store(false)
	start := time.Now()
	c.sendText(t, "1")
	deadline := start.Add(1500 * time.Millisecond)
	for {
		m, ok, end := c.tryNext(time.Until(deadline))
		if end != nil {
			t.Logf("closed %v after \"1\": %v", time.Since(start), *end)
			return
		}
		if !ok {
			t.Fatalf("WebSocket still open 1.5s after \"1\" with pings unanswered")
		}
		if m.binary || string(m.data) != "2" {
			t.Fatalf("unexpected message after \"1\": %v", m)
		}
	}
}

// ---------------------------------------------------------------------------
// upgrade

// startUpgrade opens a polling session and a WebSocket for it, and exchanges
// the probe. The upgrade is not completed ("5" not sent).
func startUpgrade(t *testing.T) (string, *wsConn) {
	t.Helper()
	sid := openPolling(t)
	c := probe(t, sid)
	return sid, c
}

func probe(t *testing.T, sid string) *wsConn {
	t.Helper()
	c, err := dialWS(t, enginePath, "EIO=4&transport=websocket&sid="+sid)
	if err != nil {
		t.Fatalf("WebSocket for sid %s: %v", sid, err)
	}
	c.autoPong.Store(true)
	c.sendText(t, "2probe")
	c.expectText(t, "3probe", 2*time.Second)
	return c
}

// completeUpgrade sends "5" and gives the server a moment to switch.
func completeUpgrade(t *testing.T, c *wsConn) {
	t.Helper()
	c.sendText(t, "5")
	time.Sleep(50 * time.Millisecond)
}

func TestUpgrade(t *testing.T) {
	sid, c := startUpgrade(t)
	defer c.close()

	r := pollGET(t, sid)
	if r.status != http.StatusOK || r.body != "6" {
		t.Fatalf("GET during the upgrade: want 200 \"6\" (noop), got %d %q", r.status, r.body)
	}
	c.sendText(t, "5")
	c.sendText(t, "4hello")
	c.expectText(t, "4hello", 2*time.Second)
}

func TestUpgradePendingGetGetsNoop(t *testing.T) {
	sid := openPolling(t)
	pending := asyncGET(t, sid)
	time.Sleep(50 * time.Millisecond)

	c := probe(t, sid)
	defer c.close()
	select {
	case g := <-pending:
		if g.err != nil || g.status != http.StatusOK || g.body != "6" {
			t.Fatalf("pending GET: want 200 \"6\", got %d %q", g.status, g.body)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("pending GET not answered 2s after the probe")
	}
	c.sendText(t, "5")
	c.sendText(t, "4hello")
	c.expectText(t, "4hello", 2*time.Second)
}

func TestUpgradePollingRefusedAfterUpgrade(t *testing.T) {
	sid, c := startUpgrade(t)
	defer c.close()
	completeUpgrade(t, c)

	r := pollGET(t, sid)
	if r.status != http.StatusBadRequest || r.body != errBadRequest {
		t.Errorf("GET after upgrade: want 400 %s, got %d %q", errBadRequest, r.status, r.body)
	}
	r = pollPOST(t, sid, "4hello")
	if r.status != http.StatusBadRequest || r.body != errBadRequest {
		t.Errorf("POST after upgrade: want 400 %s, got %d %q", errBadRequest, r.status, r.body)
	}
	c.sendText(t, "4hello")
	c.expectText(t, "4hello", 2*time.Second)
}

func TestUpgradeSecondWebSocketClosed(t *testing.T) {
	sid, c := startUpgrade(t)
	defer c.close()
	completeUpgrade(t, c)

	expectWSRejected(t, enginePath, "EIO=4&transport=websocket&sid="+sid)

	c.sendText(t, "4hello")
	c.expectText(t, "4hello", 2*time.Second)
}

func TestUpgradeKeepsHeartbeat(t *testing.T) {
	// Pings continue on the WebSocket after the upgrade; answering them keeps
	// the session open well past pingInterval + pingTimeout.
	sid, c := startUpgrade(t)
	defer c.close()
	completeUpgrade(t, c)
	c.autoPong.Store(false)
	for i := 0; i < 2; i++ {
		m := c.next(t, 2*time.Second)
		if m.binary || string(m.data) != "2" {
			t.Fatalf("sid %s: want ping \"2\" over the WebSocket, got %v", sid, m)
		}
		c.sendText(t, "3")
	}
	c.autoPong.Store(true)
	c.sendText(t, "4hello")
	c.expectText(t, "4hello", 2*time.Second)
}

// ---------------------------------------------------------------------------
// limits and broken input (testserver contract)

// rawPost sends a POST with the given body over its own TCP connection and
// returns the response status, without waiting for the body to be fully sent
// (the server may answer early).
func rawPost(t *testing.T, sid string, body []byte) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", server(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\n"+
		"Content-Length: %d\r\nConnection: close\r\n\r\n", enginePath, pollingQuery(sid), server(t), len(body))
	go func() {
		_, _ = conn.Write(append([]byte(head), body...))
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST of %d bytes: no response: %v", len(body), err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lateForPong is how long after the handshake a test may still count on
// answering the first ping in time (it is due at 300 ms, the pong at 500 ms).
const lateForPong = 250 * time.Millisecond

func TestPollingOversizedPost(t *testing.T) {
	retryIfLate(t, func() string {
		start := time.Now()
		sid := openPolling(t)
		body := append([]byte("4"), bytes.Repeat([]byte("a"), maxPayload)...) // maxPayload + 1 bytes
		if st := rawPost(t, sid, body); st != http.StatusRequestEntityTooLarge {
			t.Fatalf("POST of %d bytes: want 413, got %d", len(body), st)
		}
		if d := time.Since(start); d > lateForPong {
			// The session may have timed out while the body was uploading.
			return fmt.Sprintf("the 413 came %v after the handshake", d)
		}
		// The session stays open and usable.
		expectPollEcho2(t, sid, "4after")
		return ""
	})
}

func TestPollingPostAtMaxPayload(t *testing.T) {
	payload := "4" + strings.Repeat("a", maxPayload-1) // exactly maxPayload bytes
	retryIfLate(t, func() string {
		start := time.Now()
		sid := openPolling(t)
		r := pollPOST(t, sid, payload)
		if r.status != http.StatusOK || r.body != "ok" {
			t.Fatalf("POST of %d bytes: want 200 \"ok\", got %d %q", len(payload), r.status, truncate(r.body))
		}
		if d := time.Since(start); d > lateForPong {
			return fmt.Sprintf("the POST was answered %v after the handshake", d)
		}
		r = pollGET(t, sid)
		packets := strings.Split(r.body, packetSep)
		if r.status != http.StatusOK || !slices.Contains(packets, payload) {
			t.Fatalf("GET: want 200 with the %d-byte packet back, got %d %q", len(payload), r.status, truncate(r.body))
		}
		return ""
	})
}

func TestWebSocketOversizedMessage(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	payload := append([]byte("4"), bytes.Repeat([]byte("a"), maxPayload)...) // maxPayload + 1 bytes
	frame := ws.MaskFrameInPlace(ws.NewFrame(ws.OpText, true, payload))
	var buf bytes.Buffer
	if err := ws.WriteFrame(&buf, frame); err != nil {
		t.Fatal(err)
	}
	// Written without holding the frame lock: the server may stop reading
	// and close while the frame is still going out.
	go func() {
		_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.conn.Write(buf.Bytes())
	}()
	end := c.expectEnd(t, 5*time.Second)
	if !end.closeFrame || end.code != 1009 {
		t.Fatalf("want a close frame with code 1009 (message too big), got %v", end)
	}
}

func TestWebSocketMessageAtMaxPayload(t *testing.T) {
	c, _ := openWS(t)
	defer c.close()
	payload := "4" + strings.Repeat("a", maxPayload-1) // exactly maxPayload bytes
	c.sendText(t, payload)
	c.expectText(t, payload, 5*time.Second)
}

func TestWebSocketBrokenFrame(t *testing.T) {
	cases := map[string][]byte{
		// FIN + reserved opcode 0x3, masked, empty payload
		"reserved opcode": {0x83, 0x80, 0, 0, 0, 0},
		// a client text frame without the mask bit
		"unmasked frame": {0x81, 0x06, '4', 'h', 'e', 'l', 'l', 'o'},
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := openWS(t)
			defer c.close()
			if err := c.writeRaw(raw); err != nil {
				t.Fatal(err)
			}
			end := c.expectEnd(t, 2*time.Second)
			t.Logf("%s: %v", name, end)
		})
	}
}

func TestUnknownSid(t *testing.T) {
	r := pollGET(t, "doesnotexist")
	expectSessionGone(t, r, "GET with an unknown sid")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: want application/json, got %q", ct)
	}
	expectSessionGone(t, pollPOST(t, "doesnotexist", "4hello"), "POST with an unknown sid")
	expectWSRejected(t, enginePath, "EIO=4&transport=websocket&sid=doesnotexist")
}

func TestRawTCPGarbage(t *testing.T) {
	cases := map[string][]byte{
		"text":   []byte("HELLO THERE, THIS IS NOT HTTP\r\n\r\n"),
		"binary": {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0xff, 0xfe, '\r', '\n', '\r', '\n'},
	}
	for name, garbage := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", server(t), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(garbage); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			got, err := io.ReadAll(conn)
			if isTimeout(err) {
				t.Fatalf("connection still open 3s after garbage; received %q", got)
			}
			if err != nil && !isConnReset(err) {
				t.Fatalf("reading: %v", err)
			}
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 400")) && !bytes.HasPrefix(got, []byte("HTTP/1.0 400")) {
				t.Fatalf("want a 400 response or a plain close, got %q", got)
			}
			t.Logf("response %q, then closed", got)
		})
	}
	// The server is still there.
	openPolling(t)
}

// ---------------------------------------------------------------------------
// CORS

const testOrigin = "http://example.com"

func checkAllowOrigin(t *testing.T, what string, h http.Header) {
	t.Helper()
	got := h.Values("Access-Control-Allow-Origin")
	if len(got) != 1 || (got[0] != "*" && got[0] != testOrigin) {
		t.Errorf("%s: Access-Control-Allow-Origin: want \"*\" or %q, got %q", what, testOrigin, got)
	}
}

func TestCORSSimpleRequests(t *testing.T) {
	hdr := map[string]string{"Origin": testOrigin}
	r := mustRequest(t, http.MethodGet, engineURL(t, "EIO=4&transport=polling"), "", hdr)
	if r.status != http.StatusOK {
		t.Fatalf("handshake with Origin: %d %q", r.status, r.body)
	}
	checkAllowOrigin(t, "handshake", r.header)
	sid := parseOpenPacket(t, r.body).SID

	r = mustRequest(t, http.MethodPost, engineURL(t, pollingQuery(sid)), "4hello", hdr)
	if r.status != http.StatusOK || r.body != "ok" {
		t.Fatalf("POST with Origin: %d %q", r.status, r.body)
	}
	checkAllowOrigin(t, "POST", r.header)

	r = mustRequest(t, http.MethodGet, engineURL(t, pollingQuery(sid)), "", hdr)
	if r.status != http.StatusOK || r.body != "4hello" {
		t.Fatalf("GET with Origin: %d %q", r.status, r.body)
	}
	checkAllowOrigin(t, "GET", r.header)

	// Errors carry the header too, so that a browser can read them.
	r = mustRequest(t, http.MethodGet, engineURL(t, pollingQuery("doesnotexist")), "", hdr)
	if r.status != http.StatusBadRequest {
		t.Fatalf("GET unknown sid with Origin: %d %q", r.status, r.body)
	}
	checkAllowOrigin(t, "400 response", r.header)
}

func TestCORSPreflight(t *testing.T) {
	sid := openPolling(t)
	for _, query := range []string{"EIO=4&transport=polling", pollingQuery(sid)} {
		t.Run(query, func(t *testing.T) {
			r := mustRequest(t, http.MethodOptions, engineURL(t, query), "", map[string]string{
				"Origin":                         testOrigin,
				"Access-Control-Request-Method":  "POST",
				"Access-Control-Request-Headers": "content-type,x-custom",
			})
			if r.status < 200 || r.status > 299 {
				t.Fatalf("OPTIONS preflight: want 2xx, got %d %q", r.status, r.body)
			}
			checkAllowOrigin(t, "preflight", r.header)
			// The requested headers must be allowed, or the browser will not
			// send the real request (the cors middleware reflects them).
			allowed := strings.ToLower(strings.Join(r.header.Values("Access-Control-Allow-Headers"), ","))
			for _, h := range []string{"content-type", "x-custom"} {
				if allowed != "*" && !slices.Contains(splitTrim(allowed), h) {
					t.Errorf("preflight: Access-Control-Allow-Headers %q does not allow %q", allowed, h)
				}
			}
			t.Logf("preflight: %d, headers %v", r.status, r.header)
		})
	}
}

func splitTrim(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// ---------------------------------------------------------------------------
// isolation

func TestUnrelatedSessionsUnaffected(t *testing.T) {
	wsA, _ := openWS(t)
	defer wsA.close()
	pollB := startPollSession(t)

	check := func(step string) {
		t.Helper()
		msg := "still-here-after-" + strings.ReplaceAll(step, " ", "-")
		wsA.sendText(t, "4"+msg)
		wsA.expectText(t, "4"+msg, 2*time.Second)
		pollB.echo(t, msg)
	}
	check("start")

	steps := []struct {
		name    string
		breakIt func(t *testing.T)
	}{
		{"invalid ws packet", func(t *testing.T) {
			c, _ := openWS(t)
			defer c.close()
			c.sendText(t, "abc")
			c.expectEnd(t, 2*time.Second)
		}},
		{"invalid polling packet", func(t *testing.T) {
			sid := openPolling(t)
			doRequest(t, http.MethodPost, engineURL(t, pollingQuery(sid)), "abc", nil)
			expectSessionGone(t, pollGET(t, sid), "GET after an invalid packet")
		}},
		{"oversized ws message", func(t *testing.T) {
			c, _ := openWS(t)
			defer c.close()
			payload := append([]byte("4"), bytes.Repeat([]byte("x"), maxPayload)...)
			go func() { _ = c.writeFrame(ws.OpText, payload) }()
			c.expectEnd(t, 5*time.Second)
		}},
		{"oversized post", func(t *testing.T) {
			sid := openPolling(t)
			body := append([]byte("4"), bytes.Repeat([]byte("x"), maxPayload)...)
			if st := rawPost(t, sid, body); st != http.StatusRequestEntityTooLarge {
				t.Fatalf("want 413, got %d", st)
			}
		}},
		{"duplicate get", func(t *testing.T) {
			sid := openPolling(t)
			first := asyncGET(t, sid)
			time.Sleep(50 * time.Millisecond)
			doRequest(t, http.MethodGet, engineURL(t, pollingQuery(sid)), "", nil)
			<-first
		}},
		{"broken ws frame", func(t *testing.T) {
			c, _ := openWS(t)
			defer c.close()
			_ = c.writeRaw([]byte{0x83, 0x80, 0, 0, 0, 0})
			c.expectEnd(t, 2*time.Second)
		}},
		{"tcp garbage", func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", server(t), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = conn.Write([]byte("\x00\x01\x02garbage\r\n\r\n"))
			_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, _ = io.ReadAll(conn)
		}},
		{"ping timeout of another session", func(t *testing.T) {
			c, _ := openWS(t)
			defer c.close()
			c.autoPong.Store(false)
			deadline := time.Now().Add(3 * time.Second)
			for {
				_, ok, end := c.tryNext(time.Until(deadline))
				if end != nil {
					break
				}
				if !ok {
					t.Fatal("session without pongs not closed within 3s")
				}
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.breakIt)
		check(s.name)
	}
}
