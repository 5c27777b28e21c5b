package eventloop

import (
	"bufio"
	"fmt"
	"io"
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

// stdConn is a WebSocket taken over from net/http. One goroutine reads it, parsing frames in place in net/http's
// read buffer; what the session queues is written by a goroutine started when there is something to write (an
// idle connection has no writer goroutine and no buffer of its own). Frames are parsed and written with the
// same codec as on the event loops.
type stdConn struct {
	ep   *Endpoint
	nc   net.Conn
	br   *bufio.Reader // net/http's read buffer of the connection: frames are parsed in it
	sess *Session      // the session the WebSocket serves or probes for; set before the reader starts

	// wmu serializes writes from the reader, the flushes and abandon. A flush takes the session's output while
	// holding it, so that flushes write in the order they took.
	wmu sync.Mutex
	// closing is set, under wmu, before our close frame is written: nothing is written after it, and the reader
	// only waits for the peer's close frame (which is not echoed: each side sends one).
	closing atomic.Bool
	// flushQueued is guarded by the session's mu: a flush goroutine is on its way.
	flushQueued bool

	// Used only by the reader.
	dec      wsframe.Decoder
	attached bool // the session still knows this connection (as its WebSocket or its probe)
	probing  bool // the connection upgrades a session that still runs on polling
	inSync   bool // while closing: the frame stream can still be parsed
}

// wake is part of link: a flush goroutine is started, unless one is on its way. The session's mu is held.
func (c *stdConn) wake(s *Session) {
	if c.flushQueued {
		return
	}
	c.flushQueued = true
	go c.flush(s)
}

// woken is part of link: the flush is taking the output. The session's mu is held.
func (c *stdConn) woken() { c.flushQueued = false }

// flush writes what the session queued for the connection, and starts the closing handshake after the close
// frame of a session that ended.
func (c *stdConn) flush(s *Session) {
	c.wmu.Lock()
	out, closeAfter := s.takeWS(c)
	if out != nil {
		if !c.closing.Load() { // nothing may follow a close frame the reader already sent
			c.closing.Store(closeAfter) // before the write: the peer's answer must not be echoed
			c.writeLocked(out.B)
		}
		bytebufferpool.Put(out)
	}
	c.wmu.Unlock()
	if closeAfter {
		c.lingerForClose()
	}
}

// abandon is part of link: the upgrade was given up, the WebSocket ends with a close frame.
func (c *stdConn) abandon() {
	go c.sendClose(wsframe.AppendClose(nil, 0, ""))
}

// openWebSocketStd opens a new session directly on a WebSocket taken over from net/http.
func (e *Endpoint) openWebSocketStd(w http.ResponseWriter, r *http.Request, req *Request) {
	if !e.validateUpgradeStd(w, r) {
		return
	}
	sid := NewSessionID()
	c, err := e.hijack(w, r, sid)
	if err != nil {
		e.srv.cfg.Logger.Debug("websocket handshake failed", "err", err)
		return
	}
	c.sess = e.openWebSocketSession(sid, req, c)
	c.attached = true
	// A goroutine of its own rather than the handler's: its stack starts small, and net/http's ends here.
	go c.readLoop()
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
		c.sendClose(wsframe.AppendClose(nil, 0, ""))
		go c.readLoop()
		return
	}
	c.attached = true
	c.probing = true
	go c.readLoop()
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
	c := &stdConn{ep: e, nc: nc, br: brw.Reader, inSync: true}
	c.dec.MaxPayload = e.cfg.MaxPayload
	return c, nil
}

// writeTimeout bounds one write: a peer that takes longer to read is dropped.
func (c *stdConn) writeTimeout() time.Duration {
	return c.ep.cfg.PingInterval + c.ep.cfg.PingTimeout
}

// write sends a frame on the connection, unless the close frame is out; a failed write closes the connection
// (the reader then ends the session).
func (c *stdConn) write(b []byte) {
	c.wmu.Lock()
	if !c.closing.Load() {
		c.writeLocked(b)
	}
	c.wmu.Unlock()
}

// writeLocked is write with wmu held.
func (c *stdConn) writeLocked(b []byte) {
	c.ep.metrics.BytesOut.Add(int64(len(b)))
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout()))
	if _, err := c.nc.Write(b); err != nil {
		_ = c.nc.Close()
	}
}

// sendClose writes a close frame, unless one was sent already (each side sends one close frame), and starts
// the closing handshake: the connection is closed when the peer answers with its own, closes, or after
// closeLinger. It reports whether it wrote the frame.
func (c *stdConn) sendClose(frame []byte) bool {
	c.wmu.Lock()
	if c.closing.Load() {
		c.wmu.Unlock()
		return false
	}
	c.closing.Store(true)
	c.writeLocked(frame)
	c.wmu.Unlock()
	c.lingerForClose()
	return true
}

// lingerForClose bounds the wait for the peer's close frame once ours is out.
func (c *stdConn) lingerForClose() {
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
}

// readLoop reads and handles frames until the connection ends, then detaches it from its session. Frames are
// parsed where net/http's bufio.Reader holds them; only a frame larger than that buffer is read into one of its
// own, dropped once handled.
func (c *stdConn) readLoop() {
	defer func() {
		c.dec.Reset()
		_ = c.nc.Close()
		c.ep.metrics.Connections.Add(-1)
		c.detach(ReasonTransportClose)
	}()
	want := 1 // bytes to wait for before parsing again
	for {
		var buf []byte
		own := want > c.br.Size()
		if !own {
			if _, err := c.br.Peek(want); err != nil {
				return
			}
			buf, _ = c.br.Peek(c.br.Buffered())
		} else {
			// A frame larger than the read buffer: it alone goes into a buffer of its own.
			buf = make([]byte, want)
			n, _ := c.br.Read(buf) // what is buffered
			if _, err := io.ReadFull(c.br, buf[n:]); err != nil {
				return
			}
		}
		consumed, stop := c.process(buf)
		if stop {
			return
		}
		if own {
			c.ep.metrics.BytesIn.Add(int64(len(buf)))
			want = 1 // the large frame was consumed whole (want was its exact size)
			continue
		}
		c.ep.metrics.BytesIn.Add(int64(consumed))
		_, _ = c.br.Discard(consumed)
		want = 1
		if rest := len(buf) - consumed; rest > 0 {
			want = max(rest+1, c.dec.NeedBytes())
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
		c.sendClose(closeEcho(msg.Payload)) // not if ours crossed the peer's
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
	c.sendClose(wsframe.AppendClose(nil, 0, ""))
}

// fail closes the connection after a framing error, with the RFC 6455 code of the error.
func (c *stdConn) fail(err error) {
	c.sendClose(c.ep.metrics.framingErrorClose(err))
	c.detach(ReasonTransportError)
	c.inSync = false // nothing more can be parsed: the reader waits for the peer to close
	c.dec.Reset()
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
