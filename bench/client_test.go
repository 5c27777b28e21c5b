package bench

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// recConn is a net.Conn whose writes are recorded; reads come from elsewhere (the Conn's bufio.Reader).
type recConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (r *recConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}
func (r *recConn) Close() error { return nil }

func frame(t *testing.T, fin bool, op ws.OpCode, p []byte, masked bool) []byte {
	t.Helper()
	var b bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: masked}
	body := append([]byte(nil), p...)
	if masked {
		h.Mask = ws.NewMask()
		ws.Cipher(body, h.Mask, 0)
	}
	if err := ws.WriteHeader(&b, h); err != nil {
		t.Fatal(err)
	}
	b.Write(body)
	return b.Bytes()
}

// readFrames decodes client frames written to a recConn.
func readFrames(t *testing.T, b []byte) (ops []ws.OpCode, payloads []string) {
	t.Helper()
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Masked {
			t.Fatal("client frame not masked")
		}
		p := make([]byte, h.Length)
		if _, err := r.Read(p); err != nil && h.Length > 0 {
			t.Fatal(err)
		}
		ws.Cipher(p, h.Mask, 0)
		ops = append(ops, h.OpCode)
		payloads = append(payloads, string(p))
	}
	return ops, payloads
}

func TestReadMessage(t *testing.T) {
	long := strings.Repeat("x", 3000)
	var in bytes.Buffer
	in.Write(frame(t, true, ws.OpText, []byte("4hello"), false))
	in.Write(frame(t, true, ws.OpPing, []byte("pp"), false))
	in.Write(frame(t, false, ws.OpText, []byte("4frag"), false))
	in.Write(frame(t, true, ws.OpPong, nil, false)) // control frame between fragments
	in.Write(frame(t, false, ws.OpContinuation, []byte("men"), true))
	in.Write(frame(t, true, ws.OpContinuation, []byte("ted"), false))
	in.Write(frame(t, true, ws.OpText, []byte("4"+long), false)) // longer than the read buffer
	in.Write(frame(t, true, ws.OpBinary, []byte{1, 2, 3}, false))
	in.Write(frame(t, true, ws.OpText, nil, false))
	in.Write(frame(t, true, ws.OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}, false))

	rc := &recConn{}
	cfg := &ClientConfig{ReadBufferSize: 256}
	cfg.init()
	c := &Conn{cfg: cfg, nc: rc, br: bufio.NewReaderSize(&in, 256), mask: 12345}
	want := []struct {
		op ws.OpCode
		p  string
	}{{ws.OpText, "4hello"}, {ws.OpText, "4fragmented"}, {ws.OpText, "4" + long}, {ws.OpBinary, "\x01\x02\x03"}, {ws.OpText, ""}}
	for i, w := range want {
		op, p, err := c.readMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if op != w.op || string(p) != w.p {
			t.Fatalf("message %d: op %v %q, want %v %q", i, op, clip(p), w.op, clip([]byte(w.p)))
		}
	}
	if _, _, err := c.readMessage(); err != errServerClosed {
		t.Fatalf("after close frame: err %v, want errServerClosed", err)
	}
	ops, payloads := readFrames(t, rc.out.Bytes())
	if len(ops) != 2 || ops[0] != ws.OpPong || payloads[0] != "pp" || ops[1] != ws.OpClose || payloads[1] != "\x03\xe8" {
		t.Fatalf("client wrote %v %q, want a pong \"pp\" and a close 1000", ops, payloads)
	}
}

func TestReadMessageProtocolErrors(t *testing.T) {
	cases := map[string][]byte{
		"continuation first": frame(t, true, ws.OpContinuation, []byte("x"), false),
		"reserved bits":      {0xC1, 0x01, 'x'},
		"long control":       frame(t, true, ws.OpPing, bytes.Repeat([]byte{'p'}, 126), false),
		"fragmented control": frame(t, false, ws.OpPing, nil, false),
		"bad opcode":         frame(t, true, ws.OpCode(3), []byte("x"), false),
		"too large":          {0x81, 127, 0x7f, 0, 0, 0, 0, 0, 0, 0},
		"new message in fragments": append(frame(t, false, ws.OpText, []byte("a"), false),
			frame(t, true, ws.OpText, []byte("b"), false)...),
	}
	for name, in := range cases {
		cfg := &ClientConfig{}
		cfg.init()
		c := &Conn{cfg: cfg, nc: &recConn{}, br: bufio.NewReaderSize(bytes.NewReader(in), 256), mask: 1}
		if _, _, err := c.readMessage(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWriteFrameSizes(t *testing.T) {
	rc := &recConn{}
	c := &Conn{cfg: &ClientConfig{}, nc: rc, mask: 99}
	sizes := []int{0, 1, 125, 126, 65535, 65536, 70000}
	for _, n := range sizes {
		if err := c.Send(bytes.Repeat([]byte{'a'}, n)); err != nil {
			t.Fatal(err)
		}
	}
	ops, payloads := readFrames(t, rc.out.Bytes())
	if len(ops) != len(sizes) {
		t.Fatalf("%d frames, want %d", len(ops), len(sizes))
	}
	for i, n := range sizes {
		if ops[i] != ws.OpText || payloads[i] != "4"+strings.Repeat("a", n) {
			t.Errorf("frame %d: op %v len %d, want text of %d", i, ops[i], len(payloads[i]), n+1)
		}
	}
}

// TestDialAndPing dials the fake server directly, checks the Socket.IO handshake, a ping answered, an echoed
// message delivered, and Close reported as a clean end.
func TestDialAndPing(t *testing.T) {
	fs := startFakeServer(t, fakeOptions{pingInterval: 20 * time.Millisecond})
	u, err := url.Parse(fs.url() + "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	closed := make(chan error, 1)
	stats := &ClientStats{}
	cfg := &ClientConfig{
		URL: u, Timeout: 5 * time.Second, Stats: stats,
		OnMessage: func(c *Conn, p []byte, binary bool) {
			select {
			case got <- string(p):
			default:
			}
		},
		OnClose: func(c *Conn, err error) { closed <- err },
	}
	c, tm, err := Dial(context.Background(), cfg, netip.MustParseAddr("127.0.0.3"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SID == "" || !strings.HasPrefix(c.SocketSID, "x") || c.PingInterval != 25*time.Second {
		t.Errorf("sid %q socket sid %q ping interval %v", c.SID, c.SocketSID, c.PingInterval)
	}
	if tm.TCP <= 0 || tm.WS < tm.TCP || tm.Open < tm.WS || tm.Ready < tm.Open {
		t.Errorf("timing %+v", tm)
	}
	if host, _, _ := net.SplitHostPort(c.LocalAddr().String()); host != "127.0.0.3" {
		t.Errorf("local address %s, want 127.0.0.3", c.LocalAddr())
	}
	if err := c.Send([]byte(`2["hi"]`)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != `2["hi"]` {
			t.Errorf("echo %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo")
	}
	waitFor(t, 5*time.Second, "pongs", func() bool { return fs.pongs.Load() >= 2 && stats.PingsAnswered.Load() >= 2 })
	c.Close()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("OnClose after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
	}
}

// TestDialTimeout: a listener that never answers the upgrade.
func TestDialTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	u, _ := url.Parse("ws://" + ln.Addr().String() + "/engine.io/?EIO=4&transport=websocket")
	_, _, err = Dial(context.Background(), &ClientConfig{URL: u, EngineIO: true, Timeout: 200 * time.Millisecond}, netip.Addr{})
	if ErrorKind(err) != "timeout_ws" {
		t.Errorf("kind %q (%v), want timeout_ws", ErrorKind(err), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, _, err = Dial(ctx, &ClientConfig{URL: u, EngineIO: true, Timeout: 10 * time.Second}, netip.Addr{})
	if ErrorKind(err) != "canceled" {
		t.Errorf("kind %q (%v), want canceled", ErrorKind(err), err)
	}
}
