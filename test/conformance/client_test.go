package conformance

// Minimal Engine.IO clients for the tests: HTTP long-polling over net/http
// (no keep-alive, so that every request has its own TCP connection, as
// concurrent browser requests would), and WebSocket over gobwas/ws with a
// hand-written frame reader so that close codes and raw frames are visible.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

const (
	enginePath = "/engine.io/"
	packetSep  = "\x1e"
)

var httpClient = &http.Client{
	Transport: &http.Transport{
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
	},
	Timeout: 10 * time.Second,
}

func engineURL(t testing.TB, query string) string {
	t.Helper()
	return "http://" + server(t) + enginePath + "?" + query
}

func pollingQuery(sid string) string {
	return "EIO=4&transport=polling&sid=" + sid
}

type httpResult struct {
	status int
	body   string
	header http.Header
	err    error
}

func doRequest(t testing.TB, method, url string, body string, hdr map[string]string) httpResult {
	t.Helper()
	var rd io.Reader
	if body != "" || method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, url, err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return httpResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, body: string(b), header: resp.Header, err: err}
}

// mustRequest is doRequest that fails the test on a transport error.
func mustRequest(t testing.TB, method, url, body string, hdr map[string]string) httpResult {
	t.Helper()
	r := doRequest(t, method, url, body, hdr)
	if r.err != nil {
		t.Fatalf("%s %s: %v", method, url, r.err)
	}
	return r
}

func pollGET(t testing.TB, sid string) httpResult {
	t.Helper()
	return mustRequest(t, http.MethodGet, engineURL(t, pollingQuery(sid)), "", nil)
}

func pollPOST(t testing.TB, sid, body string) httpResult {
	t.Helper()
	return mustRequest(t, http.MethodPost, engineURL(t, pollingQuery(sid)), body, nil)
}

// handshakeInfo is the decoded payload of an Engine.IO open packet.
type handshakeInfo struct {
	raw          string
	keys         []string
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpenPacket(t testing.TB, packet string) handshakeInfo {
	t.Helper()
	if !strings.HasPrefix(packet, "0") {
		t.Fatalf("open packet must start with \"0\", got %q", packet)
	}
	var h handshakeInfo
	h.raw = packet
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(packet[1:]), &m); err != nil {
		t.Fatalf("open packet payload is not a JSON object: %v: %q", err, packet)
	}
	for k := range m {
		h.keys = append(h.keys, k)
	}
	if err := json.Unmarshal([]byte(packet[1:]), &h); err != nil {
		t.Fatalf("open packet payload has unexpected types: %v: %q", err, packet)
	}
	return h
}

// openPolling performs a polling handshake and returns the session id.
func openPolling(t testing.TB) string {
	t.Helper()
	r := mustRequest(t, http.MethodGet, engineURL(t, "EIO=4&transport=polling"), "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("polling handshake: status %d, body %q", r.status, r.body)
	}
	h := parseOpenPacket(t, r.body)
	if h.SID == "" {
		t.Fatalf("polling handshake without sid: %q", r.body)
	}
	return h.SID
}

// sessionUnknownBody is what engine.io answers for a sid it does not know.
const sessionUnknownBody = `{"code":1,"message":"Session ID unknown"}`

func expectSessionGone(t testing.TB, r httpResult, what string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.body != sessionUnknownBody {
		t.Fatalf("%s: want 400 %s, got %d %q", what, sessionUnknownBody, r.status, r.body)
	}
}

// pollSession keeps a polling session alive in the background: it keeps a GET
// pending, answers pings, and delivers every other packet on msgs.
type pollSession struct {
	t      testing.TB
	sid    string
	postMu sync.Mutex // one POST at a time, as the protocol requires
	msgs   chan string
	done   chan struct{}
	closed atomic.Bool
	errMu  sync.Mutex
	err    error
	// slowest time from a GET that carried a ping to the end of its pong
	// POST; a pong later than pingTimeout explains a lost session.
	maxPongDelay atomic.Int64
}

func startPollSession(t testing.TB) *pollSession {
	t.Helper()
	s := &pollSession{t: t, sid: openPolling(t), msgs: make(chan string, 1024), done: make(chan struct{})}
	go s.loop()
	t.Cleanup(s.stop)
	return s
}

func (s *pollSession) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *pollSession) loop() {
	defer close(s.msgs)
	for !s.closed.Load() {
		r := doRequest(s.t, http.MethodGet, "http://"+serverAddr+enginePath+"?"+pollingQuery(s.sid), "", nil)
		if s.closed.Load() {
			return
		}
		got := time.Now()
		if r.err != nil || r.status != http.StatusOK {
			s.setErr(fmt.Errorf("poll GET: status %d body %q err %v", r.status, r.body, r.err))
			return
		}
		for _, p := range strings.Split(r.body, packetSep) {
			switch {
			case p == "2":
				err := s.post("3")
				if d := int64(time.Since(got)); d > s.maxPongDelay.Load() {
					s.maxPongDelay.Store(d)
				}
				if err != nil {
					s.setErr(err)
					return
				}
			case p == "6":
			case p == "1":
				s.setErr(errors.New("server closed the session"))
				return
			default:
				s.msgs <- p
			}
		}
	}
}

func (s *pollSession) post(body string) error {
	s.postMu.Lock()
	defer s.postMu.Unlock()
	r := doRequest(s.t, http.MethodPost, "http://"+serverAddr+enginePath+"?"+pollingQuery(s.sid), body, nil)
	if r.err != nil {
		return r.err
	}
	if r.status != http.StatusOK || r.body != "ok" {
		return fmt.Errorf("POST %q: status %d body %q", body, r.status, r.body)
	}
	return nil
}

// echo sends msg as a message packet and waits for the echo.
func (s *pollSession) echo(t testing.TB, msg string) {
	t.Helper()
	if err := s.post("4" + msg); err != nil {
		t.Fatalf("polling session %s: %v", s.sid, err)
	}
	select {
	case got, ok := <-s.msgs:
		if !ok {
			s.errMu.Lock()
			defer s.errMu.Unlock()
			t.Fatalf("polling session %s ended: %v (slowest pong took %v from the ping's arrival; pingTimeout is %v)",
				s.sid, s.err, time.Duration(s.maxPongDelay.Load()), pingTimeout)
		}
		if got != "4"+msg {
			t.Fatalf("polling session %s: want echo %q, got %q", s.sid, "4"+msg, got)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("polling session %s: no echo of %q within 3s", s.sid, msg)
	}
}

func (s *pollSession) stop() {
	if s.closed.Swap(true) {
		return
	}
	// Closing the session ends the pending GET.
	_ = doRequest(s.t, http.MethodPost, "http://"+serverAddr+enginePath+"?"+pollingQuery(s.sid), "1", nil)
}

// ---------------------------------------------------------------------------
// WebSocket

type wsMessage struct {
	binary bool
	data   []byte
}

func (m wsMessage) String() string {
	if m.binary {
		return fmt.Sprintf("binary %v", m.data)
	}
	if len(m.data) > 80 {
		return fmt.Sprintf("text %q... (%d bytes)", m.data[:80], len(m.data))
	}
	return fmt.Sprintf("text %q", m.data)
}

// wsEnd says how a WebSocket connection ended.
type wsEnd struct {
	closeFrame bool // a close frame was received
	code       int  // its status code; 1005 when it carried none
	reason     string
	err        error // the read error, when no close frame came
}

func (e wsEnd) String() string {
	if e.closeFrame {
		return fmt.Sprintf("close frame, code %d, reason %q", e.code, e.reason)
	}
	return fmt.Sprintf("connection ended without a close frame: %v", e.err)
}

type wsConn struct {
	t        testing.TB
	conn     net.Conn
	wmu      sync.Mutex
	msgs     chan wsMessage
	ended    chan struct{}
	closing  chan struct{} // closed when the test drops the connection
	closeMu  sync.Once
	end      wsEnd
	autoPong atomic.Bool // answer Engine.IO pings ("2") with "3" and hide them
}

// dialWS opens a WebSocket to path?query. It returns an error if the
// handshake did not succeed (for example ws.StatusError for a non-101 status).
func dialWS(t testing.TB, path, query string) (*wsConn, error) {
	t.Helper()
	d := ws.Dialer{Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, "ws://"+server(t)+path+"?"+query)
	if err != nil {
		return nil, err
	}
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	c := &wsConn{t: t, conn: conn, msgs: make(chan wsMessage, 4096), ended: make(chan struct{}), closing: make(chan struct{})}
	go c.readLoop(bufio.NewReaderSize(r, 64<<10))
	t.Cleanup(c.close)
	return c, nil
}

// openWS opens an Engine.IO WebSocket session and returns it with its
// handshake. Pings are answered automatically.
func openWS(t testing.TB) (*wsConn, handshakeInfo) {
	t.Helper()
	c, err := dialWS(t, enginePath, "EIO=4&transport=websocket")
	if err != nil {
		t.Fatalf("WebSocket handshake failed: %v", err)
	}
	m := c.next(t, 3*time.Second)
	if m.binary {
		t.Fatalf("expected the open packet as a text frame, got %v", m)
	}
	h := parseOpenPacket(t, string(m.data))
	c.autoPong.Store(true)
	return c, h
}

func (c *wsConn) readLoop(r *bufio.Reader) {
	defer close(c.ended)
	defer close(c.msgs)
	var (
		msg     []byte
		msgOp   ws.OpCode
		inFrag  bool
		payload []byte
	)
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			c.end = wsEnd{err: err}
			return
		}
		if h.Length > 64<<20 {
			c.end = wsEnd{err: fmt.Errorf("frame too large: %d", h.Length)}
			return
		}
		payload = make([]byte, int(h.Length))
		if _, err := io.ReadFull(r, payload); err != nil {
			c.end = wsEnd{err: err}
			return
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			_ = c.writeFrame(ws.OpPong, payload)
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			e := wsEnd{closeFrame: true, code: 1005}
			if len(payload) >= 2 {
				e.code = int(binary.BigEndian.Uint16(payload))
				e.reason = string(payload[2:])
			}
			c.end = e
			// Answer the close handshake, then drop the connection.
			_ = c.writeFrame(ws.OpClose, payload[:min(len(payload), 2)])
			return
		case ws.OpText, ws.OpBinary:
			if inFrag {
				c.end = wsEnd{err: errors.New("client: new data frame inside a fragmented message")}
				return
			}
			msg, msgOp, inFrag = payload, h.OpCode, true
		case ws.OpContinuation:
			if !inFrag {
				c.end = wsEnd{err: errors.New("client: continuation frame without a message")}
				return
			}
			msg = append(msg, payload...)
		default:
			c.end = wsEnd{err: fmt.Errorf("client: unknown opcode %d", h.OpCode)}
			return
		}
		if !h.Fin {
			continue
		}
		inFrag = false
		m := wsMessage{binary: msgOp == ws.OpBinary, data: msg}
		if !m.binary && string(m.data) == "2" && c.autoPong.Load() {
			_ = c.writeFrame(ws.OpText, []byte("3"))
			continue
		}
		select {
		case c.msgs <- m:
		case <-c.closing:
			c.end = wsEnd{err: net.ErrClosed}
			return
		}
	}
}

func (c *wsConn) writeFrame(op ws.OpCode, payload []byte) error {
	p := append([]byte(nil), payload...)
	f := ws.MaskFrameInPlace(ws.NewFrame(op, true, p))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ws.WriteFrame(c.conn, f)
}

// writeRaw writes bytes as they are, bypassing the framing.
func (c *wsConn) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

func (c *wsConn) sendText(t testing.TB, s string) {
	t.Helper()
	if err := c.writeFrame(ws.OpText, []byte(s)); err != nil {
		t.Fatalf("sending %q: %v", s, err)
	}
}

func (c *wsConn) sendBinary(t testing.TB, b []byte) {
	t.Helper()
	if err := c.writeFrame(ws.OpBinary, b); err != nil {
		t.Fatalf("sending binary %v: %v", b, err)
	}
}

// next returns the next data message, failing the test if none arrives.
func (c *wsConn) next(t testing.TB, timeout time.Duration) wsMessage {
	t.Helper()
	m, ok, end := c.tryNext(timeout)
	if !ok {
		if end != nil {
			t.Fatalf("WebSocket ended while waiting for a message: %v", *end)
		}
		t.Fatalf("no WebSocket message within %v", timeout)
	}
	return m
}

// tryNext waits for the next message. ok is false on timeout (end == nil)
// or when the connection has ended (end != nil).
func (c *wsConn) tryNext(timeout time.Duration) (m wsMessage, ok bool, end *wsEnd) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			<-c.ended
			e := c.end
			return wsMessage{}, false, &e
		}
		return m, true, nil
	case <-timer.C:
		return wsMessage{}, false, nil
	}
}

func (c *wsConn) expectText(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	m := c.next(t, timeout)
	if m.binary || string(m.data) != want {
		if len(want) > 80 {
			t.Fatalf("want text message of %d bytes starting %q, got %v", len(want), want[:80], m)
		}
		t.Fatalf("want text message %q, got %v", want, m)
	}
}

// expectEnd waits for the connection to end and fails on any data message
// received before that (answered pings excepted).
func (c *wsConn) expectEnd(t testing.TB, within time.Duration) wsEnd {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, ok, end := c.tryNext(time.Until(deadline))
		if end != nil {
			return *end
		}
		if !ok {
			t.Fatalf("WebSocket still open after %v", within)
		}
		t.Fatalf("unexpected message while waiting for the connection to close: %v", m)
	}
}

func (c *wsConn) close() {
	c.closeMu.Do(func() {
		close(c.closing)
		c.conn.Close()
	})
}

// expectWSRejected dials path?query and expects the server to refuse the
// WebSocket handshake, or to accept it and close the connection without
// sending any message.
func expectWSRejected(t testing.TB, path, query string) {
	t.Helper()
	c, err := dialWS(t, path, query)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			t.Logf("WebSocket %s?%s refused with HTTP %d", path, query, int(se))
		} else {
			t.Logf("WebSocket %s?%s refused: %v", path, query, err)
		}
		return
	}
	c.autoPong.Store(true)
	end := c.expectEnd(t, 3*time.Second)
	t.Logf("WebSocket %s?%s accepted, then: %v", path, query, end)
}

// isConnReset reports whether err is the peer closing or resetting a TCP
// connection.
func isConnReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
