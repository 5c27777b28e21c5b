package eventloop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/codec/wsframe"
)

// stdConn is a WebSocket taken over from net/http. Its reader is the goroutine of the handler that accepted
// it; a writer goroutine sends what the session queues. Frames are parsed and written with the same codec as
// on the event loops.
type stdConn struct {
	ep    *Endpoint
	nc    net.Conn
	br    *bufio.Reader // holds what net/http read past the request head
	sess  *Session      // the session the WebSocket serves or probes for; set before the goroutines start
	ready chan struct{} // wake-ups for the writer, one slot
	done  chan struct{} // closed when the reader ends

	wmu     sync.Mutex  // serializes writes from the reader, the writer and abandon
	closing atomic.Bool // a close frame was sent: the reader only waits for the peer's close frame

	// Used only by the reader.
	dec      wsframe.Decoder
	attached bool // the session still knows this connection (as its WebSocket or its probe)
	probing  bool // the connection upgrades a session that still runs on polling
	inSync   bool // while closing: the frame stream can still be parsed
}

// wake is part of link: the writer is told there is output, unless it was told already.
func (c *stdConn) wake() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

func (c *stdConn) woken() {}

// abandon is part of link: the upgrade was given up, the WebSocket ends with a close frame.
func (c *stdConn) abandon() {
	go func() {
		c.write(wsframe.AppendClose(nil, 0, ""))
		c.startClosing()
	}()
}

// openWebSocketStd opens a new session directly on a WebSocket taken over from net/http.
func (e *Endpoint) openWebSocketStd(w http.ResponseWriter, r *http.Request, req *Request) {
	if !e.validateUpgradeStd(w, r) {
		return
	}
	sid := newSID()
	c, err := e.hijack(w, r, sid)
	if err != nil {
		e.srv.cfg.Logger.Debug("websocket handshake failed", "err", err)
		return
	}
	c.sess = e.openWebSocketSession(sid, req, c)
	c.attached = true
	go c.writeLoop()
	c.readLoop()
}

// upgradeStd starts the upgrade of a polling session to a WebSocket taken over from net/http.
func (e *Endpoint) upgradeStd(w http.ResponseWriter, r *http.Request, s *Session, transport string) {
	if transport != TransportWebSocket || e.cfg.DisableUpgrades {
		abortUpgradeStd(w, e.metrics, eio.CodeBadRequest.Message(), "")
		return
	}
	if !e.validateUpgradeStd(w, r) {
		return
	}
	c, err := e.hijack(w, r, "")
	if err != nil {
		e.srv.cfg.Logger.Debug("websocket handshake failed", "err", err)
		return
	}
	c.sess = s
	if !s.startProbe(c) {
		// Already upgraded, or another upgrade under way: accepted, then closed, as by the Node.js server.
		c.write(wsframe.AppendClose(nil, 0, ""))
		c.startClosing()
		c.readLoop()
		return
	}
	c.attached = true
	c.probing = true
	go c.writeLoop()
	c.readLoop()
}

// hijack takes the connection over from net/http and writes the 101 answer.
func (e *Endpoint) hijack(w http.ResponseWriter, r *http.Request, cookieSID string) (*stdConn, error) {
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("eventloop: hijack: %w", err)
	}
	// The http.Server's read and write deadlines no longer apply: heartbeats watch the connection now.
	_ = nc.SetDeadline(time.Time{})
	b := bytebufferpool.Get()
	b.B = e.appendSwitchingProtocols(b.B, []byte(r.Header.Get("Sec-WebSocket-Key")), cookieSID)
	_, err = nc.Write(b.B)
	bytebufferpool.Put(b)
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("eventloop: write the 101 answer: %w", err)
	}
	e.metrics.Connections.Add(1)
	c := &stdConn{ep: e, nc: nc, br: brw.Reader, ready: make(chan struct{}, 1), done: make(chan struct{}), inSync: true}
	c.dec.MaxPayload = e.cfg.MaxPayload
	return c, nil
}

// writeTimeout bounds one write: a peer that takes longer to read is dropped.
func (c *stdConn) writeTimeout() time.Duration {
	return c.ep.cfg.PingInterval + c.ep.cfg.PingTimeout
}

// write sends bytes on the connection; a failed write closes it (the reader then ends the session).
func (c *stdConn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
	if _, err := c.nc.Write(b); err != nil {
		_ = c.nc.Close()
	}
}

// startClosing marks the close frame as sent: the connection is closed when the peer answers with its own,
// closes, or after closeLinger.
func (c *stdConn) startClosing() {
	c.closing.Store(true)
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
}

// writeLoop writes what the session queues until the reader ends or the session closes.
func (c *stdConn) writeLoop() {
	for {
		select {
		case <-c.ready:
		case <-c.done:
			return
		}
		out, closeAfter := c.sess.takeWS(c)
		if out != nil {
			c.write(out.B)
			bytebufferpool.Put(out)
		}
		if closeAfter {
			c.startClosing()
			return
		}
	}
}

// stdReadBuffer is the initial read buffer of a WebSocket served by net/http; it grows up to what one frame
// needs (at most maxPayload and a header) and shrinks back once a large frame is handled.
const stdReadBuffer = 4 << 10

// readLoop reads and handles frames until the connection ends, then detaches it from its session.
func (c *stdConn) readLoop() {
	defer func() {
		close(c.done)
		c.dec.Reset()
		_ = c.nc.Close()
		c.ep.metrics.Connections.Add(-1)
		c.detach(ReasonTransportClose)
	}()
	buf := make([]byte, 0, stdReadBuffer)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), max(2*cap(buf), c.dec.NeedBytes()))
			copy(grown, buf)
			buf = grown
		}
		n, err := c.br.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			consumed, stop := c.process(buf)
			if stop {
				return
			}
			buf = buf[:copy(buf, buf[consumed:])]
			if len(buf) == 0 && cap(buf) > 16*stdReadBuffer {
				buf = make([]byte, 0, stdReadBuffer)
			}
		}
		if err != nil {
			return
		}
	}
}

// process handles the complete frames at the start of buf. It returns how many bytes they took, and stop when
// the connection is to be closed now.
func (c *stdConn) process(buf []byte) (consumed int, stop bool) {
	off := 0
	for off < len(buf) {
		if c.closing.Load() && !c.inSync {
			return len(buf), false // after a framing error nothing can be parsed: wait for the peer to close
		}
		msg, n, ok, err := c.dec.Decode(buf[off:])
		if err != nil {
			if c.closing.Load() {
				return len(buf), true
			}
			c.fail(err)
			return len(buf), false
		}
		if n == 0 {
			break
		}
		off += n
		if !ok {
			continue
		}
		if c.closing.Load() {
			if msg.Op == ws.OpClose {
				return off, true
			}
			continue
		}
		if c.onFrame(msg) {
			return off, true
		}
	}
	return off, false
}

// onFrame handles one complete message or control frame; it reports whether the connection is to be closed.
func (c *stdConn) onFrame(msg wsframe.Message) (stop bool) {
	switch msg.Op {
	case ws.OpPing:
		c.write(wsframe.AppendFrame(nil, ws.OpPong, msg.Payload))
	case ws.OpClose:
		code, _ := wsframe.ClosePayload(msg.Payload)
		if code == 1005 {
			code = 0 // no status received: answer with an empty close frame
		}
		c.write(wsframe.AppendClose(nil, code, ""))
		c.detach(ReasonTransportClose)
		return true
	case ws.OpText:
		if c.probing {
			c.onProbe(msg.Payload)
			return false
		}
		if !c.attached {
			return false
		}
		p, err := eio.DecodeText(msg.Payload)
		if err != nil {
			c.sess.finish(ReasonParseError, true)
			return false
		}
		c.sess.onPacket(p)
	case ws.OpBinary:
		if c.probing {
			c.abortProbe()
			return false
		}
		if c.attached {
			c.sess.onPacket(eio.Packet{Type: eio.Message, Data: msg.Payload, Binary: true})
		}
	}
	return false
}

// onProbe handles a text frame while the connection upgrades its session.
func (c *stdConn) onProbe(data []byte) {
	pong, ok := c.sess.probeFrame(c, data)
	switch {
	case !ok:
		c.abortProbe()
	case pong:
		c.write(probePong)
	default:
		c.probing = false // upgraded: the session writes through this connection now
	}
}

// abortProbe gives the upgrade up: the session stays on polling and the WebSocket is closed.
func (c *stdConn) abortProbe() {
	if c.attached {
		c.attached = false
		c.sess.detachWS(c)
	}
	c.probing = false
	c.write(wsframe.AppendClose(nil, 0, ""))
	c.startClosing()
}

// fail closes the connection after a framing error, with the RFC 6455 code of the error.
func (c *stdConn) fail(err error) {
	code, reason := uint16(wsframe.CloseProtocolError), ""
	var ce *wsframe.CloseError
	if errors.As(err, &ce) {
		code, reason = ce.Code, ce.Reason
	}
	c.ep.metrics.WebSocketProtocolErrors.Add(1)
	if code == wsframe.CloseTooBig {
		c.ep.metrics.PayloadTooLarge.Add(1)
	}
	c.write(wsframe.AppendClose(nil, code, reason))
	c.detach(ReasonTransportError)
	c.inSync = false
	c.dec.Reset()
	c.startClosing()
}

// detach forgets the session; if this WebSocket was its transport, the session ends with reason.
func (c *stdConn) detach(reason string) {
	if !c.attached {
		return
	}
	c.attached = false
	c.probing = false
	if c.sess.detachWS(c) {
		c.sess.finish(reason, false)
	}
}
