package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// Engine.IO over HTTP long-polling: a minimal HTTP/1.1 client, the polling handshake (open packet, Socket.IO
// CONNECT), the upgrade of a polling session to WebSocket, and PollClient, a session that stays on polling.

// httpConn is a minimal HTTP/1.1 client on one keep-alive connection: enough for Engine.IO long-polling (short
// text bodies; responses with Content-Length, chunked, or ending with the connection).
type httpConn struct {
	nc     net.Conn
	br     *bufio.Reader
	host   string
	wbuf   []byte
	body   []byte
	closed bool // the server said Connection: close, or the body ran to EOF
}

func newHTTPConn(nc net.Conn, host string) *httpConn {
	return &httpConn{nc: nc, br: bufio.NewReaderSize(nc, 2048), host: host}
}

var errHTTPConnClosed = errors.New("http: the server closed the keep-alive connection")

// roundTrip sends one request and reads its response. The returned body is valid until the next call.
func (h *httpConn) roundTrip(method, target string, body []byte) (int, []byte, error) {
	if h.closed {
		return 0, nil, errHTTPConnClosed
	}
	b := h.wbuf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, h.host...)
	b = append(b, "\r\nAccept: */*\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	h.wbuf = b
	if _, err := h.nc.Write(b); err != nil {
		return 0, nil, err
	}
	return h.readResponse()
}

func (h *httpConn) readLine() ([]byte, error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("http: header line too long")
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func (h *httpConn) readResponse() (int, []byte, error) {
	line, err := h.readLine()
	if err != nil {
		return 0, nil, err
	}
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, fmt.Errorf("http: bad status line %q", clip(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("http: bad status line %q", clip(line))
	}
	length, chunked := int64(-1), false
	for {
		line, err := h.readLine()
		if err != nil {
			return 0, nil, err
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "content-length"):
			if length, err = strconv.ParseInt(string(v), 10, 64); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("http: bad Content-Length %q", v)
			}
		case asciiEqualFold(k, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case asciiEqualFold(k, "connection"):
			if asciiEqualFold(v, "close") {
				h.closed = true
			}
		}
	}
	const maxBody = 16 << 20
	h.body = h.body[:0]
	switch {
	case chunked:
		for {
			line, err := h.readLine()
			if err != nil {
				return 0, nil, err
			}
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
			if err != nil || n < 0 || int64(len(h.body))+n > maxBody {
				return 0, nil, fmt.Errorf("http: bad chunk size %q", clip(line))
			}
			if n == 0 {
				for { // trailers
					line, err := h.readLine()
					if err != nil {
						return 0, nil, err
					}
					if len(line) == 0 {
						break
					}
				}
				break
			}
			if err := h.readBody(n); err != nil {
				return 0, nil, err
			}
			if _, err := h.readLine(); err != nil {
				return 0, nil, err
			}
		}
	case length >= 0:
		if length > maxBody {
			return 0, nil, fmt.Errorf("http: body of %d bytes", length)
		}
		if err := h.readBody(length); err != nil {
			return 0, nil, err
		}
	default:
		b, err := io.ReadAll(io.LimitReader(h.br, maxBody))
		if err != nil {
			return 0, nil, err
		}
		h.body = append(h.body, b...)
		h.closed = true
	}
	return status, h.body, nil
}

func (h *httpConn) readBody(n int64) error {
	off := len(h.body)
	if int64(cap(h.body)-off) < n {
		grown := make([]byte, off, off+int(n))
		copy(grown, h.body)
		h.body = grown
	}
	h.body = h.body[:off+int(n)]
	_, err := io.ReadFull(h.br, h.body[off:])
	return err
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// httpStatusError is a polling request answered with a status other than 200.
func httpStatusError(step string, status int, body []byte) *Error {
	return &Error{Kind: "http_status_" + strconv.Itoa(status), Err: fmt.Errorf("%s: HTTP %d %q", step, status, clip(body))}
}

// canceler puts a past deadline on every connection it holds once its context ends, so that blocked reads and
// writes return.
type canceler struct {
	mu    sync.Mutex
	conns []net.Conn
	done  bool
	stop  func() bool
}

func newCanceler(ctx context.Context) *canceler {
	c := &canceler{}
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.done = true
		for _, nc := range c.conns {
			_ = nc.SetDeadline(time.Unix(1, 0))
		}
	})
	return c
}

func (c *canceler) add(nc net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, nc)
	if c.done {
		_ = nc.SetDeadline(time.Unix(1, 0))
	}
}

// pollSession is a session opened over polling: the open packet read and, in Socket.IO mode, the namespace
// connected.
type pollSession struct {
	hc        *httpConn
	info      OpenInfo
	target    string   // request target with the sid
	socketSID string   // Socket.IO sid ("" in Engine.IO mode)
	early     [][]byte // Socket.IO packets (without the '4') that came after the CONNECT reply
}

// pollingTarget returns the request target of the polling transport for the endpoint URL (sid "" for the
// handshake).
func pollingTarget(cfg *ClientConfig, sid string) string {
	q := cfg.URL.Query()
	q.Set("transport", "polling")
	if sid != "" {
		q.Set("sid", sid)
	}
	return cfg.URL.Path + "?" + q.Encode()
}

// pollOpen performs the polling handshake on a new connection: GET for the open packet, then (Socket.IO mode)
// POST of the CONNECT packet and GETs until its reply. It fills tm.TCP and tm.Open (from start).
func pollOpen(ctx context.Context, cfg *ClientConfig, src netip.Addr, cn *canceler, start time.Time, tm *Timing) (*pollSession, error) {
	nc, err := dialTCP(ctx, cfg, src)
	if err != nil {
		return nil, err
	}
	tm.TCP = time.Since(start)
	cn.add(nc)
	_ = nc.SetDeadline(start.Add(cfg.Timeout))
	ps := &pollSession{hc: newHTTPConn(nc, cfg.URL.Host)}
	fail := func(step string, err error) (*pollSession, error) {
		nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, stepError(step, err)
	}
	status, body, err := ps.hc.roundTrip("GET", pollingTarget(cfg, "")+"&t=bench", nil)
	if err != nil {
		return fail("open", err)
	}
	if status != 200 {
		return fail("open", httpStatusError("handshake", status, body))
	}
	pkts := splitPayload(body)
	if len(pkts) == 0 {
		return fail("open", errors.New("empty handshake response"))
	}
	if ps.info, err = ParseOpen(pkts[0]); err != nil {
		return fail("open", err)
	}
	tm.Open = time.Since(start)
	ps.target = pollingTarget(cfg, ps.info.SID)
	if cfg.EngineIO {
		return ps, nil
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "/"
	}
	status, body, err = ps.hc.roundTrip("POST", ps.target, appendSIOConnect(nil, ns, cfg.Auth))
	if err != nil {
		return fail("sio", err)
	}
	if status != 200 {
		return fail("sio", httpStatusError("CONNECT", status, body))
	}
	for ps.socketSID == "" {
		status, body, err := ps.hc.roundTrip("GET", ps.target, nil)
		if err != nil {
			return fail("sio", err)
		}
		if status != 200 {
			return fail("sio", httpStatusError("poll", status, body))
		}
		for _, p := range splitPayload(body) {
			if len(p) == 0 {
				continue
			}
			switch p[0] {
			case '4':
				if ps.socketSID != "" {
					ps.early = append(ps.early, bytes.Clone(p[1:]))
					continue
				}
				sid, ok, err := parseSIOConnectReply(p[1:], ns)
				if err != nil {
					return fail("sio", err)
				}
				if ok {
					ps.socketSID = sid
				}
			case '2':
				if err := ps.pong(cfg); err != nil {
					return fail("sio", err)
				}
			case '1':
				return fail("sio", errServerClosed)
			}
		}
	}
	return ps, nil
}

func (ps *pollSession) pong(cfg *ClientConfig) error {
	status, body, err := ps.hc.roundTrip("POST", ps.target, []byte{'3'})
	if err != nil {
		return err
	}
	if status != 200 {
		return httpStatusError("pong", status, body)
	}
	if cfg.Stats != nil {
		cfg.Stats.PingsAnswered.Add(1)
	}
	return nil
}

var (
	probePing = []byte("2probe")
	probePong = []byte("3probe")
	upgradeP  = []byte("5")
)

// dialPolling opens a session over polling, then upgrades it to WebSocket.
func dialPolling(ctx context.Context, cfg *ClientConfig, src netip.Addr) (*Conn, Timing, error) {
	var tm Timing
	start := time.Now()
	cn := newCanceler(ctx)
	defer cn.stop()
	ps, err := pollOpen(ctx, cfg, src, cn, start, &tm)
	if err != nil {
		return nil, tm, err
	}
	defer ps.hc.nc.Close() // the polling connection is done with once upgraded
	nc, err := dialTCP(ctx, cfg, src)
	if err != nil {
		return nil, tm, err
	}
	cn.add(nc)
	fail := func(step string, err error) (*Conn, Timing, error) {
		nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, tm, stepError(step, err)
	}
	_ = nc.SetDeadline(start.Add(cfg.Timeout))
	u := *cfg.URL
	q := u.Query()
	q.Set("sid", ps.info.SID)
	u.RawQuery = q.Encode()
	br, _, err := cfg.dialer.Upgrade(nc, &u)
	if err != nil {
		return fail("ws", err)
	}
	tm.WS = time.Since(start)
	if br == nil {
		br = bufio.NewReaderSize(nc, cfg.ReadBufferSize)
	}
	c := &Conn{cfg: cfg, nc: nc, br: br, mask: maskSeed.Add(0x9e3779b9) | 1}
	if err := c.writeFrame(ws.OpText, probePing, nil); err != nil {
		return fail("upgrade", err)
	}
	early := ps.early
	for probed := false; !probed; {
		op, p, err := c.readMessage()
		if err != nil {
			return fail("upgrade", err)
		}
		if op != ws.OpText || len(p) == 0 {
			continue
		}
		switch {
		case bytes.Equal(p, probePong):
			probed = true
		case p[0] == '4':
			early = append(early, bytes.Clone(p[1:]))
		case p[0] == '2':
			if err := c.writeFrame(ws.OpText, pongPrefix, p[1:]); err != nil {
				return fail("upgrade", err)
			}
		case p[0] == '1':
			return fail("upgrade", errServerClosed)
		}
	}
	if err := c.writeFrame(ws.OpText, upgradeP, nil); err != nil {
		return fail("upgrade", err)
	}
	tm.Ready = time.Since(start)
	if ctx.Err() != nil {
		return fail("upgrade", ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	c.SID, c.SocketSID = ps.info.SID, ps.socketSID
	c.PingInterval, c.PingTimeout = ps.info.PingInterval, ps.info.PingTimeout
	c.start(early)
	return c, tm, nil
}

// PollClient is an Engine.IO session that stays on HTTP long-polling: one keep-alive connection for the GETs (a
// GET is meant to be pending most of the time) and one for the POSTs, as browsers do.
type PollClient struct {
	cfg       *ClientConfig
	get, post *httpConn
	postMu    sync.Mutex
	target    string
	SID       string
	SocketSID string
	// PingInterval and PingTimeout are from the open packet.
	PingInterval, PingTimeout time.Duration
}

// DialPollClient opens a polling session (and its Socket.IO namespace, unless cfg.EngineIO) from src. early holds
// the Socket.IO packets that came with the CONNECT reply.
func DialPollClient(ctx context.Context, cfg *ClientConfig, src netip.Addr) (pc *PollClient, tm Timing, early [][]byte, err error) {
	cfg.init()
	start := time.Now()
	cn := newCanceler(ctx)
	defer cn.stop()
	ps, err := pollOpen(ctx, cfg, src, cn, start, &tm)
	if err != nil {
		return nil, tm, nil, err
	}
	nc, err := dialTCP(ctx, cfg, src)
	if err != nil {
		ps.hc.nc.Close()
		return nil, tm, nil, err
	}
	tm.Ready = time.Since(start)
	if ctx.Err() != nil {
		ps.hc.nc.Close()
		nc.Close()
		return nil, tm, nil, &Error{Kind: "canceled", Err: ctx.Err()}
	}
	_ = ps.hc.nc.SetDeadline(time.Time{})
	pc = &PollClient{
		cfg: cfg, get: ps.hc, post: newHTTPConn(nc, cfg.URL.Host), target: ps.target,
		SID: ps.info.SID, SocketSID: ps.socketSID, PingInterval: ps.info.PingInterval, PingTimeout: ps.info.PingTimeout,
	}
	return pc, tm, ps.early, nil
}

// Poll sends one GET and returns the packets of its response (valid until the next Poll). It waits as long as the
// server holds the request, at most until deadline.
func (p *PollClient) Poll(deadline time.Time) ([][]byte, error) {
	_ = p.get.nc.SetDeadline(deadline)
	status, body, err := p.get.roundTrip("GET", p.target, nil)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, httpStatusError("poll", status, body)
	}
	if s := p.cfg.Stats; s != nil {
		s.BytesIn.Add(int64(len(body)))
	}
	return splitPayload(body), nil
}

// Post sends packets (already joined with 0x1e, or one packet) in one POST and checks that it is accepted.
func (p *PollClient) Post(payload []byte, deadline time.Time) error {
	p.postMu.Lock()
	defer p.postMu.Unlock()
	_ = p.post.nc.SetDeadline(deadline)
	status, body, err := p.post.roundTrip("POST", p.target, payload)
	if err != nil {
		return err
	}
	if status != 200 {
		return httpStatusError("post", status, body)
	}
	return nil
}

// Close closes both connections (the server then ends the session: a GET aborted, or the heartbeat).
func (p *PollClient) Close() {
	p.get.nc.Close()
	p.post.nc.Close()
}
