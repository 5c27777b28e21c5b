package cluster_test

// A minimal Socket.IO v5 client over Engine.IO v4 WebSocket, enough to see the exact packets a server writes:
// the raw text of each event (key order included) and its binary attachments.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

type received struct {
	Name        string
	Text        string            // the Socket.IO packet text, e.g. 42["ev",1] or 451-["ev",{"_placeholder":true,"num":0}]
	Args        []json.RawMessage // the arguments' raw JSON
	Attachments [][]byte
}

type wsClient struct {
	t    testing.TB
	conn net.Conn
	nsp  string
	ID   string

	mu      sync.Mutex
	events  []received
	notify  chan struct{}
	pending *received // a binary event waiting for attachments
	missing int
	nextAck int
	acks    map[int]chan []json.RawMessage
	closed  chan struct{}
	reason  string
}

// dial connects to the namespace nsp of the server at addr, with an auth payload (JSON, may be empty) and extra
// headers and query.
func dial(t testing.TB, addr, nsp, auth string, header http.Header, query string) *wsClient {
	t.Helper()
	u := "ws://" + addr + "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	d := ws.Dialer{Timeout: 5 * time.Second}
	if header != nil {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	conn, br, _, err := d.Dial(context.Background(), u)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &wsClient{t: t, conn: conn, nsp: nsp, notify: make(chan struct{}, 1), acks: map[int]chan []json.RawMessage{}, closed: make(chan struct{})}
	t.Cleanup(c.close)
	connected := make(chan string, 1)
	go c.read(br, connected)
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	c.write(prefix + auth)
	select {
	case sid := <-connected:
		c.ID = sid
	case <-time.After(5 * time.Second):
		t.Fatalf("no CONNECT from %s%s", addr, nsp)
	}
	return c
}

func (c *wsClient) write(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = wsutil.WriteClientText(c.conn, []byte(text))
}

func (c *wsClient) close() { _ = c.conn.Close() }

func (c *wsClient) read(br *bufio.Reader, connected chan string) {
	defer close(c.closed)
	if br == nil {
		br = bufio.NewReader(c.conn)
	}
	rw := rwConn{br, c.conn}
	for {
		data, op, err := wsutil.ReadServerData(rw)
		if err != nil {
			return
		}
		if op == ws.OpBinary {
			c.attachment(data)
			continue
		}
		s := string(data)
		switch {
		case s == "2":
			c.write("3")
		case strings.HasPrefix(s, "4"):
			c.packet(s[1:], connected)
		}
	}
}

type rwConn struct {
	r *bufio.Reader
	net.Conn
}

func (c rwConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// packet handles a Socket.IO packet of our namespace.
func (c *wsClient) packet(p string, connected chan string) {
	orig := p
	typ := p[0]
	p = p[1:]
	attachments := 0
	if typ == '5' || typ == '6' {
		i := strings.IndexByte(p, '-')
		attachments, _ = strconv.Atoi(p[:i])
		p = p[i+1:]
	}
	if c.nsp != "/" {
		if !strings.HasPrefix(p, c.nsp+",") {
			return
		}
		p = p[len(c.nsp)+1:]
	}
	id := -1
	j := 0
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	if j > 0 {
		id, _ = strconv.Atoi(p[:j])
	}
	body := p[j:]
	switch typ {
	case '0':
		var v struct {
			SID string `json:"sid"`
		}
		_ = json.Unmarshal([]byte(body), &v)
		connected <- v.SID
	case '1':
		c.mu.Lock()
		c.reason = "io server disconnect"
		c.mu.Unlock()
		c.close()
	case '2', '5':
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(body), &arr); err != nil || len(arr) == 0 {
			return
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		ev := received{Name: name, Text: orig, Args: arr[1:]}
		if name == "ask" && id >= 0 { // answer as the Node.js harness clients do
			c.write(fmt.Sprintf("43%s%d[{\"from\":%q}]", nspPrefix(c.nsp), id, c.ID))
		}
		if attachments > 0 {
			c.mu.Lock()
			c.pending, c.missing = &ev, attachments
			c.mu.Unlock()
			return
		}
		c.add(ev)
	case '3', '6':
		var arr []json.RawMessage
		_ = json.Unmarshal([]byte(body), &arr)
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- arr
		}
	}
}

func nspPrefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

func (c *wsClient) attachment(data []byte) {
	c.mu.Lock()
	ev := c.pending
	if ev == nil {
		c.mu.Unlock()
		return
	}
	ev.Attachments = append(ev.Attachments, data)
	c.missing--
	done := c.missing == 0
	if done {
		c.pending = nil
	}
	c.mu.Unlock()
	if done {
		c.add(*ev)
	}
}

func (c *wsClient) add(ev received) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// emit sends an event with JSON arguments.
func (c *wsClient) emit(event string, args ...any) {
	c.write("42" + nspPrefix(c.nsp) + eventJSON(c.t, event, args))
}

// call sends an event and waits for its acknowledgement.
func (c *wsClient) call(event string, args ...any) []json.RawMessage {
	c.t.Helper()
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.mu.Unlock()
	c.write("42" + nspPrefix(c.nsp) + strconv.Itoa(id) + eventJSON(c.t, event, args))
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no acknowledgement for %s", event)
		return nil
	}
}

func eventJSON(t testing.TB, event string, args []any) string {
	b, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// all returns the events named name received so far.
func (c *wsClient) all(name string) []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []received
	for _, e := range c.events {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

// expect waits for the first event named name.
func (c *wsClient) expect(name string, timeout time.Duration) received {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if evs := c.all(name); len(evs) > 0 {
			return evs[0]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("client %s: no %q within %v", c.ID, name, timeout)
		}
		select {
		case <-c.notify:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// none checks that no event named name arrives within d.
func (c *wsClient) none(name string, d time.Duration) {
	c.t.Helper()
	time.Sleep(d)
	if evs := c.all(name); len(evs) > 0 {
		c.t.Fatalf("client %s: unexpected %q: %s", c.ID, name, evs[0].Text)
	}
}

// disconnected waits until the server closed the namespace or the connection.
func (c *wsClient) disconnected(timeout time.Duration) {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(timeout):
		c.t.Fatalf("client %s still connected", c.ID)
	}
}
