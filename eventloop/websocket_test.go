package eventloop

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// readOpen reads the handshake packet of a WebSocket session and returns the sid.
func readOpen(t *testing.T, c *wsClient) string {
	t.Helper()
	open := c.readText(t)
	if !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open packet %q", open)
	}
	return open[9:29]
}

func TestWebSocketEcho(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, c)
	c.writeText(t, "4héllo")
	if got := c.readText(t); got != "4héllo" {
		t.Fatalf("echo %q", got)
	}
	c.write(t, ws.OpBinary, []byte{1, 2, 3})
	if op, p := c.read(t); op != ws.OpBinary || !bytes.Equal(p, []byte{1, 2, 3}) {
		t.Fatalf("binary echo %v %v", op, p)
	}
	// A ping frame is answered with a pong carrying the same payload.
	c.write(t, ws.OpPing, []byte("hi"))
	if op, p := c.read(t); op != ws.OpPong || string(p) != "hi" {
		t.Fatalf("pong %v %q", op, p)
	}
	// A fragmented text message is reassembled.
	frames := [][]byte{
		maskedFrame(ws.OpText, false, []byte("4a")),
		maskedFrame(ws.OpContinuation, false, []byte("b")),
		maskedFrame(ws.OpContinuation, true, []byte("c")),
	}
	if _, err := c.Write(bytes.Join(frames, nil)); err != nil {
		t.Fatal(err)
	}
	if got := c.readText(t); got != "4abc" {
		t.Fatalf("fragmented echo %q", got)
	}
	// Many messages in one write come back in order.
	var batch []byte
	for i := 0; i < 100; i++ {
		batch = append(batch, maskedFrame(ws.OpText, true, []byte(fmt.Sprintf("4m%d", i)))...)
	}
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if got, want := c.readText(t), fmt.Sprintf("4m%d", i); got != want {
			t.Fatalf("message %d: %q, want %q", i, got, want)
		}
	}
}

// maskedFrame builds a client frame by hand, so that tests can send what a library refuses to.
func maskedFrame(op ws.OpCode, fin bool, payload []byte) []byte {
	return rawFrame(byte(op), fin, true, payload)
}

func rawFrame(op byte, fin, masked bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var out []byte
	out = append(out, b0)
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n <= 0xffff:
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, ch := range payload {
		out = append(out, ch^key[i%4])
	}
	return out
}

func TestWebSocketProtocolErrors(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{MaxPayload: 1000, PingInterval: 10 * time.Second, PingTimeout: 10 * time.Second})
	bystander := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, bystander)

	cases := []struct {
		name  string
		frame []byte
		code  uint16
	}{
		{"unmasked", rawFrame(byte(ws.OpText), true, false, []byte("4x")), 1002},
		{"reserved opcode", rawFrame(0x3, true, true, []byte("x")), 1002},
		{"invalid utf-8", maskedFrame(ws.OpText, true, []byte{'4', 0xff, 0xfe}), 1007},
		{"too big", maskedFrame(ws.OpText, true, bytes.Repeat([]byte("x"), 1001)), 1009},
		{"continuation without start", maskedFrame(ws.OpContinuation, true, []byte("x")), 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
			readOpen(t, c)
			if _, err := c.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			if code := c.readClose(t); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			c.expectEOF(t)
			if r := ts.h.waitClose(t); r != ReasonTransportError {
				t.Fatalf("reason %q", r)
			}
		})
	}
	if got := ts.Metrics().WebSocketProtocolErrors.Load(); got != int64(len(cases)) {
		t.Errorf("WebSocketProtocolErrors = %d", got)
	}
	bystander.writeText(t, "4alive")
	if got := bystander.readText(t); got != "4alive" {
		t.Fatalf("bystander %q", got)
	}
}

func TestWebSocketInvalidPacketAndClientClose(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, c)
	c.writeText(t, "abc")
	c.readClose(t)
	if r := ts.h.waitClose(t); r != ReasonParseError {
		t.Fatalf("reason %q", r)
	}

	c = dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, c)
	c.write(t, ws.OpClose, []byte{0x03, 0xe8}) // 1000
	if code := c.readClose(t); code != 1000 {
		t.Fatalf("echoed close code %d", code)
	}
	c.expectEOF(t)
	if r := ts.h.waitClose(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
}

func TestWebSocketHeartbeat(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	alive := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, alive)
	dead := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, dead)
	for i := 0; i < 5; i++ {
		if got := alive.readText(t); got != "2" {
			t.Fatalf("ping %d: %q", i, got)
		}
		alive.writeText(t, "3")
	}
	if r := ts.h.waitClose(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
	if got := dead.readText(t); got != "2" {
		t.Fatalf("dead client got %q", got)
	}
	dead.readClose(t)
}

func TestUpgradeKeepsOrder(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{PingInterval: 5 * time.Second, PingTimeout: 5 * time.Second})
	sid := ts.handshake(t)
	s := ts.ep.Session(sid)
	if s == nil {
		t.Fatal("session not registered")
	}
	// Packets queued on polling before and during the upgrade arrive on the WebSocket, in order, followed by
	// those sent after it.
	_ = s.SendText("before")
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket&sid="+sid)
	c.writeText(t, "2probe")
	if got := c.readText(t); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	_ = s.Send([]byte{9, 8}, true)
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+sid); status != 200 || body != "6" {
		t.Fatalf("GET during upgrade: %d %q", status, body)
	}
	c.writeText(t, "5")
	time.Sleep(50 * time.Millisecond)
	_ = s.SendText("after")
	if got := c.readText(t); got != "4before" {
		t.Fatalf("first %q", got)
	}
	if op, p := c.read(t); op != ws.OpBinary || !bytes.Equal(p, []byte{9, 8}) {
		t.Fatalf("second %v %v", op, p)
	}
	if got := c.readText(t); got != "4after" {
		t.Fatalf("third %q", got)
	}
	if s.Transport() != TransportWebSocket {
		t.Fatalf("transport %s", s.Transport())
	}
	if status, _ := ts.get(t, "EIO=4&transport=polling&sid="+sid); status != 400 {
		t.Fatalf("polling after upgrade: %d", status)
	}
}

func TestConcurrentSendsKeepPerSenderOrder(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	sid := readOpen(t, c)
	s := ts.ep.Session(sid)
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				_ = s.SendText(fmt.Sprintf("%d:%d", g, i))
			}
		}()
	}
	next := make([]int, senders)
	for n := 0; n < senders*each; n++ {
		var g, i int
		msg := c.readText(t)
		if msg == "2" {
			c.writeText(t, "3")
			n--
			continue
		}
		if _, err := fmt.Sscanf(msg, "4%d:%d", &g, &i); err != nil {
			t.Fatalf("message %q: %v", msg, err)
		}
		if i != next[g] {
			t.Fatalf("sender %d: got %d, want %d", g, i, next[g])
		}
		next[g]++
	}
	wg.Wait()
}

func TestServerCloseSession(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	sid := readOpen(t, c)
	s := ts.ep.Session(sid)
	_ = s.SendText("bye")
	s.Close()
	if got := c.readText(t); got != "4bye" {
		t.Fatalf("last message %q", got)
	}
	c.readClose(t)
	if r := ts.h.waitClose(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
	if ts.ep.Session(sid) != nil {
		t.Fatal("closed session still registered")
	}

	// Polling: the close packet follows what was queued.
	psid := ts.handshake(t)
	ps := ts.ep.Session(psid)
	_ = ps.SendText("last")
	ps.Close()
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+psid); status != 200 || body != "4last" {
		t.Fatalf("poll after close: %d %q", status, body)
	}
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+psid); status != 200 || body != "1" {
		t.Fatalf("poll after close: %d %q", status, body)
	}
	if r := ts.h.waitClose(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
}

func TestBadWebSocketHandshake(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialRaw(t, ts.addr)
	c.send(t, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, _ := c.readResponse(t); resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c.expectEOF(t)
}

func TestSlowConsumerIsClosed(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{MaxBacklog: 256 << 10})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket") // never reads after the handshake
	sid := readOpen(t, c)
	bystander := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, bystander)
	s := ts.ep.Session(sid)
	chunk := bytes.Repeat([]byte("x"), 8<<10)
	deadline := time.Now().Add(10 * time.Second)
	for !s.Closed() && time.Now().Before(deadline) {
		_ = s.Send(chunk, false)
	}
	if !s.Closed() {
		t.Fatal("a client that never reads was not closed")
	}
	if r := ts.h.waitClose(t); r != ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
	if ts.Metrics().SlowConsumers.Load() == 0 {
		t.Fatal("slow consumer not counted")
	}
	bystander.writeText(t, "4fine")
	if got := bystander.readText(t); got != "4fine" {
		t.Fatalf("bystander %q", got)
	}
}

func TestShutdown(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	wc := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	s := ts.ep.Session(readOpen(t, wc))
	sid := ts.handshake(t)
	poll := dialRaw(t, ts.addr)
	poll.send(t, "GET /engine.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the GET is parked

	_ = s.SendText("last words")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	if resp, body := poll.readResponse(t); resp.StatusCode != 200 || body != "1" {
		t.Fatalf("pending GET: %d %q, want the close packet", resp.StatusCode, body)
	}
	poll.Close()
	// The WebSocket client gets what was queued, then the close frame; it answers, and the server closes.
	if got := wc.readText(t); got != "4last words" {
		t.Fatalf("queued message %q", got)
	}
	wc.readClose(t)
	wc.write(t, ws.OpClose, nil)
	wc.expectEOF(t)
	for i := 0; i < 2; i++ {
		if r := ts.h.waitClose(t); r != ReasonServerClose {
			t.Fatalf("reason %q", r)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestUpgradeTimeoutKeepsPolling(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{UpgradeTimeout: 150 * time.Millisecond})
	sid := ts.handshake(t)
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket&sid="+sid)
	c.writeText(t, "2probe")
	if got := c.readText(t); got != "3probe" {
		t.Fatalf("probe answer %q", got)
	}
	// The client never sends "5": the probe is closed, the session stays on polling.
	c.readClose(t)
	s := ts.ep.Session(sid)
	if s == nil || s.Transport() != TransportPolling {
		t.Fatal("session lost after an abandoned upgrade")
	}
	_ = s.SendText("still polling")
	if status, body := ts.get(t, "EIO=4&transport=polling&sid="+sid); status != 200 || body != "4still polling" {
		t.Fatalf("poll after abandoned upgrade: %d %q", status, body)
	}
}

func TestTransportOptions(t *testing.T) {
	wsOnly := startServer(t, Config{}, EndpointConfig{Transports: []string{TransportWebSocket}})
	if status, body := wsOnly.get(t, "EIO=4&transport=polling"); status != 400 || body != `{"code":0,"message":"Transport unknown"}` {
		t.Fatalf("polling on a websocket-only endpoint: %d %q", status, body)
	}
	c := dialWS(t, wsOnly.addr, "EIO=4&transport=websocket")
	readOpen(t, c)

	noUpgrades := startServer(t, Config{}, EndpointConfig{DisableUpgrades: true})
	status, body := noUpgrades.get(t, "EIO=4&transport=polling")
	if status != 200 || !strings.Contains(body, `"upgrades":[]`) {
		t.Fatalf("handshake with upgrades disabled: %d %q", status, body)
	}
	sid := body[9:29]
	raw := dialRaw(t, noUpgrades.addr)
	raw.send(t, "GET /engine.io/?EIO=4&transport=websocket&sid="+sid+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, _ := raw.readResponse(t); resp.StatusCode != 400 {
		t.Fatalf("upgrade with upgrades disabled: %d", resp.StatusCode)
	}
}

func TestCORSOriginFunc(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{CORS: &CORS{AllowOrigin: func(o string) bool { return strings.HasSuffix(o, ".trusted.example") }}})
	for _, tc := range []struct{ origin, want string }{
		{"https://app.trusted.example", "https://app.trusted.example"},
		{"https://evil.example", ""},
	} {
		c := dialRaw(t, ts.addr)
		c.send(t, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: "+tc.origin+"\r\n\r\n")
		resp, _ := c.readResponse(t)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want || resp.Header.Get("Vary") != "Origin" {
			t.Fatalf("origin %s: allow-origin %q vary %q", tc.origin, got, resp.Header.Get("Vary"))
		}
	}
}

// TestWebSocketLargeAndStraddlingFrames sends frames larger than a read buffer, and frames that straddle
// read-buffer boundaries, in one write: each comes back whole and in order.
func TestWebSocketLargeAndStraddlingFrames(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	readOpen(t, c)
	sizes := []int{100_000, 3000, 3000, 3000, 5000, 1, 70_000, 2999, 4096, 4095, 4097}
	var batch []byte
	for i, n := range sizes {
		payload := append([]byte{'4'}, bytes.Repeat([]byte{byte('a' + i)}, n)...)
		batch = append(batch, maskedFrame(ws.OpText, true, payload)...)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Write(batch); done <- err }() // the echoes come back while this is written
	for i, n := range sizes {
		got := c.readText(t)
		if len(got) != n+1 || got[0] != '4' || strings.Count(got, string(rune('a'+i))) != n {
			t.Fatalf("message %d: %d bytes, want %d", i, len(got), n+1)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTrafficMetrics checks the packet, byte and broadcast counters against a known exchange.
func TestTrafficMetrics(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	m := ts.Metrics()
	c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	sid := readOpen(t, c)
	other := dialWS(t, ts.addr, "EIO=4&transport=websocket")
	otherSID := readOpen(t, other)
	in0, out0, bin0, bout0 := m.PacketsIn.Load(), m.PacketsOut.Load(), m.BytesIn.Load(), m.BytesOut.Load()
	for i := range 3 {
		c.writeText(t, fmt.Sprintf("4m%d", i)) // 3 bytes of payload, 6 of mask and header: 9 bytes a frame
		c.readText(t)
	}
	frame := NewFrame(Packet{Data: []byte("hello")})
	fan := ts.NewFanout(frame, false)
	fan.Add(ts.ep.Session(sid))
	fan.Add(ts.ep.Session(otherSID))
	fan.Flush()
	frame.Release()
	c.readText(t)
	other.readText(t)
	checks := []struct {
		name string
		got  func() int64
		want int64
	}{
		{"PacketsIn", func() int64 { return m.PacketsIn.Load() - in0 }, 3},
		{"PacketsOut", func() int64 { return m.PacketsOut.Load() - out0 }, 3 + 2},
		{"BytesIn", func() int64 { return m.BytesIn.Load() - bin0 }, 3 * 9},
		{"BytesOut", func() int64 { return m.BytesOut.Load() - bout0 }, 3*5 + 2*8},
		{"Broadcasts", m.Broadcasts.Load, 1},
		{"BroadcastRecipients", m.BroadcastRecipients.Load, 2},
	}
	// The counters may be updated a moment after the client has its answer (a reader counts what it read once
	// it has handled it): wait for them a little.
	deadline := time.Now().Add(2 * time.Second)
	for _, ck := range checks {
		for ck.got() != ck.want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := ck.got(); got != ck.want {
			t.Errorf("%s grew by %d, want %d", ck.name, got, ck.want)
		}
	}
}

// TestOneCloseFrameEachWay closes sessions from the server while their clients answer the close frame at once:
// the server must send exactly one close frame and nothing after it, even when the client's answer arrives
// while the server is still finishing its own close.
func TestOneCloseFrameEachWay(t *testing.T) {
	ts := startServer(t, Config{}, EndpointConfig{})
	for range 50 {
		c := dialWS(t, ts.addr, "EIO=4&transport=websocket")
		s := ts.ep.Session(readOpen(t, c))
		_ = s.SendText("bye")
		s.Close()
		if got := c.readText(t); got != "4bye" {
			t.Fatalf("last message %q", got)
		}
		if op, _ := c.read(t); op != ws.OpClose {
			t.Fatalf("got opcode %v, want close", op)
		}
		c.write(t, ws.OpClose, []byte{0x03, 0xe8}) // the client's answer, at once
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(c.r) // until the server closes the connection
		if len(rest) > 0 {
			t.Fatalf("%d bytes after the close frame: % x", len(rest), rest[:min(len(rest), 16)])
		}
	}
}
