package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// startIO serves a Socket.IO server on a free loopback port; configure it in setup, before it starts.
func startIO(t *testing.T, opts Options, setup func(io *Server)) (*Server, string) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	if strings.HasPrefix(t.Name(), "TestInlineHandlers/") {
		opts.InlineHandlers = true // TestInlineHandlers reruns tests with the handlers on the event loops
	}
	if opts.EventLoops == 0 {
		opts.EventLoops = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 20 * time.Second
		opts.PingTimeout = 10 * time.Second
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	select {
	case <-s.Engine().Ready():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, s.Engine().Addr().String()
}

// wsClient speaks Engine.IO over a raw WebSocket: it answers pings and hands over the other packets.
type wsClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	sid  string
}

func dial(t *testing.T, addr string) *wsClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.deadline()
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	open := c.readEIO()
	if !strings.HasPrefix(open, `0{"sid":"`) {
		t.Fatalf("open packet %q", open)
	}
	c.sid = open[9:29]
	return c
}

func (c *wsClient) deadline() { _ = c.conn.SetDeadline(time.Now().Add(5 * time.Second)) }

// send writes one Engine.IO text packet.
func (c *wsClient) send(packet string) {
	c.t.Helper()
	c.deadline()
	if err := wsutil.WriteClientMessage(c.conn, ws.OpText, []byte(packet)); err != nil {
		c.t.Fatal(err)
	}
}

// sendBinary writes one binary attachment.
func (c *wsClient) sendBinary(b []byte) {
	c.t.Helper()
	c.deadline()
	if err := wsutil.WriteClientMessage(c.conn, ws.OpBinary, b); err != nil {
		c.t.Fatal(err)
	}
}

// readFrame returns the next data frame; binary frames come back prefixed with "<bin>".
func (c *wsClient) readFrame() (string, error) {
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return "", err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return "", err
		}
		switch h.OpCode {
		case ws.OpClose:
			return "", io.EOF
		case ws.OpBinary:
			return "<bin>" + string(p), nil
		case ws.OpText:
			if string(p) == "2" {
				c.send("3")
				continue
			}
			return string(p), nil
		}
	}
}

func (c *wsClient) readEIO() string {
	c.t.Helper()
	c.deadline()
	s, err := c.readFrame()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return s
}

// read returns the next Socket.IO packet (the Engine.IO message without its "4").
func (c *wsClient) read() string {
	c.t.Helper()
	s := c.readEIO()
	if strings.HasPrefix(s, "<bin>") {
		return s
	}
	if s[0] != '4' {
		c.t.Fatalf("not a message: %q", s)
	}
	return s[1:]
}

// expectClosed checks that the server closes the connection.
func (c *wsClient) expectClosed() {
	c.t.Helper()
	c.deadline()
	for {
		if _, err := c.readFrame(); err != nil {
			return
		}
	}
}

// connect joins a namespace and returns the socket id.
func (c *wsClient) connect(nsp, auth string) string {
	c.t.Helper()
	prefix := ""
	if nsp != "/" {
		prefix = nsp + ","
	}
	c.send("40" + prefix + auth)
	got := c.read()
	want := "0" + prefix + `{"sid":"`
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("connect %s: got %q", nsp, got)
	}
	return got[len(want) : len(want)+20]
}

// silent checks that nothing arrives for a while.
func (c *wsClient) silent(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		s, err := c.readFrame()
		if err != nil {
			return
		}
		c.t.Fatalf("unexpected packet %q", s)
	}
}
