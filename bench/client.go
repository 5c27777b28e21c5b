package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// ClientConfig says how to connect. One value serves many connections; it must not change after the first Dial.
type ClientConfig struct {
	// URL is the WebSocket endpoint with its Engine.IO query: ws://host:port/socket.io/?EIO=4&transport=websocket.
	URL *url.URL
	// EngineIO stops the handshake after the Engine.IO open packet (no Socket.IO CONNECT).
	EngineIO bool
	// Namespace is the Socket.IO namespace to connect to ("" or "/" for the main one).
	Namespace string
	// Auth is the CONNECT payload, a JSON object, or nil.
	Auth []byte
	// Timeout bounds the whole handshake: TCP connect, upgrade, open packet, CONNECT reply.
	Timeout time.Duration
	// ReadBufferSize is each connection's read buffer (default 512, at least 256). Messages that fit are handed
	// over without copying; longer ones are copied into a per-connection buffer.
	ReadBufferSize int
	// MaxMessage is the largest message accepted from the server (default 16 MiB).
	MaxMessage int
	// Polling makes Dial open the session over HTTP long-polling first, as the JavaScript client does with its
	// default transports: the handshake GET, the Socket.IO CONNECT by POST and its reply by GET, then the upgrade
	// to WebSocket (2probe, 3probe, 5). The connection then runs over WebSocket. URL stays the WebSocket URL; the
	// polling requests use the same host and path.
	Polling bool
	// Insecure accepts any certificate from a wss:// server (a self-signed one, say). With a wss:// URL every
	// connection runs TLS (HTTP/1.1, as the JavaScript client's WebSocket and this generator's polling speak).
	Insecure bool

	// OnReady is called once per connection when its handshake is done, before its reader starts (so before any
	// OnMessage for it): the place to set Conn.Value.
	OnReady func(c *Conn)

	// OnMessage is called on the connection's reader goroutine for each Engine.IO message after the handshake,
	// without its type byte: in Socket.IO mode that is the Socket.IO packet (`2["event",...]`). binary is true for
	// a binary WebSocket frame. p is valid only during the call.
	OnMessage func(c *Conn, p []byte, binary bool)
	// OnClose is called once when a connection's reader stops: err is nil after Close, else why it ended.
	OnClose func(c *Conn, err error)
	// Stats, if set, counts traffic over all connections that share the config.
	Stats *ClientStats
	// Live, if set, counts running reader goroutines (Add before start, Done after OnClose).
	Live *sync.WaitGroup

	once      sync.Once
	dialer    ws.Dialer
	tlsConfig *tls.Config // for a wss:// URL
}

// ClientStats are counters shared by the connections of one config.
type ClientStats struct {
	PingsAnswered atomic.Int64
	MessagesIn    atomic.Int64
	BytesIn       atomic.Int64
	MessagesOut   atomic.Int64
}

func (cfg *ClientConfig) init() {
	cfg.once.Do(func() {
		if cfg.ReadBufferSize == 0 {
			cfg.ReadBufferSize = 512
		}
		cfg.ReadBufferSize = max(cfg.ReadBufferSize, 256)
		if cfg.MaxMessage <= 0 {
			cfg.MaxMessage = 16 << 20
		}
		if cfg.Timeout <= 0 {
			cfg.Timeout = 10 * time.Second
		}
		cfg.dialer = ws.Dialer{ReadBufferSize: cfg.ReadBufferSize, WriteBufferSize: 512}
		if cfg.URL != nil && cfg.URL.Scheme == "wss" {
			cfg.tlsConfig = &tls.Config{ServerName: cfg.URL.Hostname(), InsecureSkipVerify: cfg.Insecure, //nolint:gosec // opt-in, for test certificates
				NextProtos: []string{"http/1.1"}, ClientSessionCache: tls.NewLRUClientSessionCache(64)}
		}
	})
}

// Conn is one Engine.IO (and Socket.IO) client connection over WebSocket.
type Conn struct {
	cfg     *ClientConfig
	nc      net.Conn
	br      *bufio.Reader
	pending int    // bytes of the last returned message still in br
	msg     []byte // reassembly of fragmented or long messages
	mask    uint32 // xorshift state for frame masks

	wmu  sync.Mutex
	wbuf []byte

	closing atomic.Bool

	// SID is the Engine.IO session id; SocketSID the Socket.IO one (empty in Engine.IO mode).
	SID       string
	SocketSID string
	// PingInterval and PingTimeout are from the open packet.
	PingInterval, PingTimeout time.Duration
	// Value is free for the scenario's per-connection state.
	Value any
}

// Timing splits a successful handshake, each figure measured from the start of Dial.
type Timing struct {
	TCP   time.Duration // TCP connected
	WS    time.Duration // WebSocket upgrade answered
	Open  time.Duration // Engine.IO open packet read
	Ready time.Duration // ready: open (Engine.IO mode) or CONNECT answered (Socket.IO mode)
}

var (
	errServerClosed = errors.New("closed by the server")
	errProtocol     = errors.New("websocket protocol error")
	errTooLarge     = errors.New("message too large")
)

var maskSeed atomic.Uint32

func init() { maskSeed.Store(uint32(time.Now().UnixNano()) | 1) }

// Dial connects from source address src (the zero Addr lets the kernel choose), performs the WebSocket upgrade,
// reads the open packet and, unless cfg.EngineIO, connects to the Socket.IO namespace. On success the connection
// answers pings on its own reader goroutine until Close. Errors are *Error with a kind (see ErrorKind).
func Dial(ctx context.Context, cfg *ClientConfig, src netip.Addr) (*Conn, Timing, error) {
	cfg.init()
	if cfg.Polling {
		return dialPolling(ctx, cfg, src)
	}
	var tm Timing
	start := time.Now()
	nc, err := dialTCP(ctx, cfg, src)
	if err != nil {
		return nil, tm, err
	}
	tm.TCP = time.Since(start)
	c := &Conn{cfg: cfg, nc: nc, mask: maskSeed.Add(0x9e3779b9) | 1}
	fail := func(step string, err error) (*Conn, Timing, error) {
		nc.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, tm, stepError(step, err)
	}
	_ = nc.SetDeadline(start.Add(cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	br, _, err := cfg.dialer.Upgrade(nc, cfg.URL)
	if err != nil {
		return fail("ws", err)
	}
	tm.WS = time.Since(start)
	if br == nil {
		br = bufio.NewReaderSize(nc, cfg.ReadBufferSize)
	}
	c.br = br

	op, p, err := c.readMessage()
	if err != nil {
		return fail("open", err)
	}
	if op != ws.OpText {
		return fail("open", errors.New("open packet in a binary frame"))
	}
	info, err := ParseOpen(p)
	if err != nil {
		return fail("open", err)
	}
	c.SID, c.PingInterval, c.PingTimeout = info.SID, info.PingInterval, info.PingTimeout
	tm.Open = time.Since(start)

	if !cfg.EngineIO {
		ns := cfg.Namespace
		if ns == "" {
			ns = "/"
		}
		if err := c.writeFrame(ws.OpText, appendSIOConnect(make([]byte, 0, 8+len(ns)+len(cfg.Auth)), ns, cfg.Auth), nil); err != nil {
			return fail("sio", err)
		}
		for c.SocketSID == "" {
			op, p, err := c.readMessage()
			if err != nil {
				return fail("sio", err)
			}
			if op != ws.OpText || len(p) == 0 {
				continue
			}
			switch p[0] {
			case '2':
				if err := c.writeFrame(ws.OpText, pongPrefix, p[1:]); err != nil {
					return fail("sio", err)
				}
				if cfg.Stats != nil {
					cfg.Stats.PingsAnswered.Add(1)
				}
			case '1':
				return fail("sio", errServerClosed)
			case '4':
				sid, ok, err := parseSIOConnectReply(p[1:], ns)
				if err != nil {
					return fail("sio", err)
				}
				if ok {
					c.SocketSID = sid
				}
			}
		}
	}
	tm.Ready = time.Since(start)
	if !stop() && ctx.Err() != nil {
		return fail("sio", ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	c.start(nil)
	return c, tm, nil
}

// dialTCP opens the TCP connection to the server from src (the zero Addr lets the kernel choose).
func dialTCP(ctx context.Context, cfg *ClientConfig, src netip.Addr) (net.Conn, error) {
	d := net.Dialer{
		Timeout:   cfg.Timeout,
		KeepAlive: -1, // the heartbeat is the protocol's job; no kernel timer per connection
	}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		d.Control = func(_, _ string, rc syscall.RawConn) error { return rc.Control(setBindNoPort) }
	}
	nc, err := d.DialContext(ctx, "tcp", cfg.URL.Host)
	if err != nil {
		return nil, dialError(err)
	}
	if cfg.tlsConfig == nil {
		return nc, nil
	}
	tc := tls.Client(nc, cfg.tlsConfig)
	hctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		return nil, &Error{Kind: "tls", Err: err}
	}
	return tc, nil
}

// start hands a connected Conn to the scenario (OnReady, then the messages that came during the handshake) and
// starts its reader.
func (c *Conn) start(early [][]byte) {
	if c.cfg.OnReady != nil {
		c.cfg.OnReady(c)
	}
	for _, p := range early {
		if s := c.cfg.Stats; s != nil {
			s.MessagesIn.Add(1)
		}
		if c.cfg.OnMessage != nil {
			c.cfg.OnMessage(c, p, false)
		}
	}
	if c.cfg.Live != nil {
		c.cfg.Live.Add(1)
	}
	go c.readLoop()
}

var pongPrefix = []byte{'3'}

// readLoop answers pings and delivers messages until the connection ends.
func (c *Conn) readLoop() {
	stats := c.cfg.Stats
	var err error
	for err == nil {
		var op ws.OpCode
		var p []byte
		op, p, err = c.readMessage()
		if err != nil {
			break
		}
		if stats != nil {
			stats.BytesIn.Add(int64(len(p)))
		}
		if op == ws.OpBinary {
			if stats != nil {
				stats.MessagesIn.Add(1)
			}
			if c.cfg.OnMessage != nil {
				c.cfg.OnMessage(c, p, true)
			}
			continue
		}
		if len(p) == 0 {
			continue
		}
		switch p[0] {
		case '2': // ping: answer with a pong carrying the same data
			err = c.writeFrame(ws.OpText, pongPrefix, p[1:])
			if err == nil && stats != nil {
				stats.PingsAnswered.Add(1)
			}
		case '4':
			if stats != nil {
				stats.MessagesIn.Add(1)
			}
			if c.cfg.OnMessage != nil {
				c.cfg.OnMessage(c, p[1:], false)
			}
		case '1':
			err = errServerClosed
		}
	}
	if c.closing.Load() {
		err = nil
	}
	c.nc.Close()
	if c.cfg.OnClose != nil {
		c.cfg.OnClose(c, err)
	}
	if c.cfg.Live != nil {
		c.cfg.Live.Done()
	}
}

// Send sends an Engine.IO message: '4' followed by p (in Socket.IO mode p is a Socket.IO packet such as
// `2["event","data"]`).
func (c *Conn) Send(p []byte) error {
	if err := c.writeFrame(ws.OpText, messagePrefix, p); err != nil {
		return err
	}
	if s := c.cfg.Stats; s != nil {
		s.MessagesOut.Add(1)
	}
	return nil
}

var messagePrefix = []byte{'4'}

// Close closes the connection; the reader then stops and OnClose gets a nil error.
func (c *Conn) Close() error {
	c.closing.Store(true)
	return c.nc.Close()
}

// LocalAddr returns the connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// readMessage returns the next data message (reassembling fragments) and answers control frames on the way. The
// returned slice is valid until the next call.
func (c *Conn) readMessage() (ws.OpCode, []byte, error) {
	if c.pending > 0 {
		if _, err := c.br.Discard(c.pending); err != nil {
			return 0, nil, err
		}
		c.pending = 0
	}
	if cap(c.msg) > 64<<10 {
		c.msg = nil
	}
	c.msg = c.msg[:0]
	var msgOp ws.OpCode
	fragmented := false
	for {
		h, err := c.br.Peek(2)
		if err != nil {
			return 0, nil, err
		}
		fin := h[0]&0x80 != 0
		if h[0]&0x70 != 0 {
			return 0, nil, fmt.Errorf("%w: reserved bits set", errProtocol)
		}
		op := ws.OpCode(h[0] & 0x0f)
		masked := h[1]&0x80 != 0
		n := uint64(h[1] & 0x7f)
		hl := 2
		switch n {
		case 126:
			hl += 2
		case 127:
			hl += 8
		}
		if masked {
			hl += 4
		}
		if hl > 2 {
			if h, err = c.br.Peek(hl); err != nil {
				return 0, nil, err
			}
		}
		switch n {
		case 126:
			n = uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			n = binary.BigEndian.Uint64(h[2:10])
		}
		var mask [4]byte
		if masked {
			copy(mask[:], h[hl-4:hl])
		}
		if _, err := c.br.Discard(hl); err != nil {
			return 0, nil, err
		}
		if n > uint64(c.cfg.MaxMessage) || uint64(len(c.msg))+n > uint64(c.cfg.MaxMessage) {
			return 0, nil, errTooLarge
		}
		size := int(n)

		if op.IsControl() {
			if !fin || size > 125 {
				return 0, nil, fmt.Errorf("%w: bad control frame", errProtocol)
			}
			body, err := c.br.Peek(size)
			if err != nil {
				return 0, nil, err
			}
			if masked {
				ws.Cipher(body, mask, 0)
			}
			switch op {
			case ws.OpPing:
				err = c.writeFrame(ws.OpPong, body, nil)
			case ws.OpClose:
				_ = c.writeFrame(ws.OpClose, body[:min(2, len(body))], nil)
				err = errServerClosed
			case ws.OpPong:
			default:
				err = fmt.Errorf("%w: opcode %d", errProtocol, op)
			}
			if err != nil {
				return 0, nil, err
			}
			if _, err := c.br.Discard(size); err != nil {
				return 0, nil, err
			}
			continue
		}

		switch {
		case op == ws.OpContinuation:
			if !fragmented {
				return 0, nil, fmt.Errorf("%w: continuation without a start", errProtocol)
			}
		case op != ws.OpText && op != ws.OpBinary:
			return 0, nil, fmt.Errorf("%w: opcode %d", errProtocol, op)
		case fragmented:
			return 0, nil, fmt.Errorf("%w: new message inside a fragmented one", errProtocol)
		default:
			msgOp = op
		}
		if fin && !fragmented && size <= c.br.Size() {
			body, err := c.br.Peek(size)
			if err != nil {
				return 0, nil, err
			}
			if masked {
				ws.Cipher(body, mask, 0)
			}
			c.pending = size
			return msgOp, body, nil
		}
		off := len(c.msg)
		if cap(c.msg) < off+size {
			grown := make([]byte, off, off+size)
			copy(grown, c.msg)
			c.msg = grown
		}
		c.msg = c.msg[:off+size]
		if _, err := io.ReadFull(c.br, c.msg[off:]); err != nil {
			return 0, nil, err
		}
		if masked {
			ws.Cipher(c.msg[off:], mask, 0)
		}
		if fin {
			return msgOp, c.msg, nil
		}
		fragmented = true
	}
}

// writeFrame writes one masked frame whose payload is prefix followed by p.
func (c *Conn) writeFrame(op ws.OpCode, prefix, p []byte) error {
	n := len(prefix) + len(p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	if b == nil {
		b = make([]byte, 0, 32)
	}
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	// xorshift32: masks only have to differ between frames for intermediaries' sake; no secrecy is at stake here.
	x := c.mask
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	c.mask = x
	mask := [4]byte{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24)}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, prefix...)
	b = append(b, p...)
	ws.Cipher(b[start:], mask, 0)
	if cap(b) <= 4<<10 {
		c.wbuf = b
	} else {
		c.wbuf = nil
	}
	_, err := c.nc.Write(b)
	return err
}
