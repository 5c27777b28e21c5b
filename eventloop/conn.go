package eventloop

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/wsframe"
	"github.com/fastio/fastio/internal/wheel"
)

type connMode uint8

const (
	modeHTTP      connMode = iota // reading HTTP/1.1 requests
	modeWebSocket                 // reading WebSocket frames
	modeClosing                   // close frame sent: waiting for the peer's close frame or EOF
)

// closeLinger bounds the WebSocket closing handshake: after it the TCP connection is closed regardless.
const closeLinger = time.Second

// conn is the state of one TCP connection. Fields without a note are touched only on the connection's event
// loop.
type conn struct {
	srv *Server
	gc  gnet.Conn

	// HTTP
	pollSess *Session  // the session whose GET is parked here
	pollReq  *pollInfo // what answering the parked GET needs; allocated by the connection's first poll
	skip     int64     // bytes of a refused request body still to be dropped

	// deadline is the monotonic time after which the connection is closed for slowness or idleness (0: none).
	// The timer goroutine reads it, hence the atomic.
	deadline atomic.Int64
	timer    wheel.Timer

	// WebSocket
	sess     *Session // the session this WebSocket serves or probes for
	dec      wsframe.Decoder
	lastNeed int // bytes the next WebSocket frame needs, when known (to skip parsing until they are there)

	// Broadcasts: the event loop the connection belongs to, and the frames staged for its next writev.
	loop      *loopState
	staged    [][]byte
	stagedOwn []*bytebufferpool.ByteBuffer // session buffers among staged, returned to the pool after the write

	// The flags sit together so that the struct has no padding between them (an idle connection stays small).
	mode    connMode
	closed  bool // gnet closed the connection
	parked  bool // a polling GET waits here for data: later requests stay buffered
	busy    bool // the fallback handler is running: later requests stay buffered
	probing bool // this WebSocket is upgrading sess, which still runs on polling
	inSync  bool // in modeClosing: the frame stream can still be parsed
	// flushQueued and inServe are guarded by the mutex of the session the conn serves. inServe: the loop is
	// handling the connection's frames and flushes at the end, so a wake needs no task of its own.
	flushQueued bool
	inServe     bool
}

// pollInfo is what the answer to a parked polling GET needs from its request.
type pollInfo struct {
	ep        *Endpoint
	origin    []byte // Origin of the GET, for its CORS headers
	keepAlive bool
}

// serve handles what arrived on the connection.
func (c *conn) serve() gnet.Action {
	for {
		switch c.mode {
		case modeHTTP:
			act, switched := c.serveHTTP()
			if act != gnet.None || !switched {
				return act
			}
		case modeWebSocket:
			return c.serveWebSocket()
		default:
			return c.serveClosing()
		}
	}
}

// Run flushes the output of the connection's session. The session schedules it on the connection's event loop
// with gnet's EventLoop.Execute; it is part of gnet.Runnable.
func (c *conn) Run(context.Context) error {
	c.flush()
	return nil
}

func (c *conn) schedule() {
	if err := c.gc.EventLoop().Execute(context.Background(), c); err != nil {
		// The engine is stopping: the connection is about to be closed anyway.
		c.srv.cfg.Logger.Debug("cannot schedule a flush", "err", err)
	}
}

// flush writes what the connection's session has queued.
func (c *conn) flush() {
	if c.closed {
		return
	}
	switch c.mode {
	case modeWebSocket:
		if c.sess == nil {
			return
		}
		if c.loop.pending() {
			// Broadcasts queued earlier must not be overtaken by what the session queued after them.
			_ = c.loop.Run(context.Background())
		}
		s := c.sess
		if c.closed || s == nil {
			return // writing the broadcasts failed, or dropped the connection as a slow consumer
		}
		out, closeAfter := s.takeWS(c)
		if out != nil {
			c.write(out.B)
			bytebufferpool.Put(out)
		}
		if closeAfter {
			c.startClosing(true)
			return
		}
		c.dropIfSlow()
	case modeHTTP:
		if !c.parked || c.pollSess == nil {
			return
		}
		out, _ := c.pollSess.takePoll(c)
		if out == nil {
			return
		}
		c.answerPoll(out.B)
		bytebufferpool.Put(out)
		if act := c.resume(); act == gnet.Close {
			_ = c.gc.Close()
		}
	}
}

// dropIfSlow closes the WebSocket of a slow consumer: the kernel does not take what the client does not read,
// and once more than MaxBacklog bytes wait in gnet's outbound buffer the client is dropped rather than the buffer
// grown.
func (c *conn) dropIfSlow() {
	if c.closed || c.sess == nil || c.gc.OutboundBuffered() <= c.sess.ep.cfg.MaxBacklog {
		return
	}
	c.srv.metrics.SlowConsumers.Add(1)
	c.detach(ReasonSlowConsumer)
	_ = c.gc.Close()
}

// resume parses requests that arrived while the connection was parked or busy.
func (c *conn) resume() gnet.Action {
	if c.gc.InboundBuffered() == 0 {
		return gnet.None
	}
	return c.serve()
}

// discard drops n bytes from the inbound buffer, counted as read. It exists because gnet's Discard(0) drops
// everything.
func (c *conn) discard(n int) {
	if n > 0 {
		c.srv.metrics.BytesIn.Add(int64(n))
		_, _ = c.gc.Discard(n)
	}
}

// write writes b (gnet buffers what the kernel does not take), counted.
func (c *conn) write(b []byte) {
	c.srv.metrics.BytesOut.Add(int64(len(b)))
	_, _ = c.gc.Write(b)
}

// closeAsync closes the connection from any goroutine.
func (c *conn) closeAsync() { _ = c.gc.Close() }

// closeWebSocketAsync ends a WebSocket from any goroutine with a close frame and the closing handshake, as the
// Node.js server closes an abandoned upgrade.
func (c *conn) closeWebSocketAsync() {
	err := c.gc.EventLoop().Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if !c.closed && c.mode == modeWebSocket {
			c.writeFrame(wsframe.AppendClose(nil, 0, ""))
			c.startClosing(true)
		}
		return nil
	}))
	if err != nil {
		c.closeAsync()
	}
}

// setDeadline arms the slowness/idleness timer: the connection is closed if it is still in the same state after d.
func (c *conn) setDeadline(d time.Duration) {
	c.deadline.Store(monotime() + int64(d))
	c.timer.Reset(d)
}

// keepDeadline arms the timer unless it is already armed (a request in progress keeps its first deadline).
func (c *conn) keepDeadline(d time.Duration) {
	if c.deadline.Load() == 0 {
		c.setDeadline(d)
	}
}

func (c *conn) clearDeadline() {
	if c.deadline.Swap(0) != 0 {
		c.timer.Stop()
	}
}

// onTimer runs on the timer goroutine.
func (c *conn) onTimer() {
	d := c.deadline.Load()
	if d == 0 {
		return
	}
	if now := monotime(); now < d {
		c.timer.Reset(time.Duration(d - now))
		return
	}
	c.srv.metrics.RequestTimeouts.Add(1)
	c.closeAsync()
}

// onClose runs when gnet closed the connection.
func (c *conn) onClose() {
	c.closed = true
	c.clearDeadline()
	c.dec.Reset()
	if s := c.pollSess; s != nil {
		c.pollSess = nil
		if s.releasePoll(c) {
			// An aborted long-poll ends the session, as in the Node.js server.
			s.finish(ReasonTransportError, true)
		}
	}
	if s := c.sess; s != nil {
		c.sess = nil
		if s.detachWS(c) {
			s.finish(ReasonTransportClose, false)
		}
	}
}

// wake schedules a flush on the connection's event loop, unless one is already on its way. It is part of
// link; the session's mu is held.
func (c *conn) wake(*Session) {
	if c.flushQueued {
		return
	}
	c.flushQueued = true
	if c.inServe {
		return // serveWebSocket flushes when it is done with what arrived
	}
	c.schedule()
}

// woken clears the flag wake sets. It is part of link; the session's mu is held.
func (c *conn) woken() { c.flushQueued = false }

// abandon ends the WebSocket with a close frame. It is part of link.
func (c *conn) abandon() { c.closeWebSocketAsync() }
