package eventloop

import (
	"errors"
	"net/http"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/codec/wsframe"
	"github.com/fastio/fastio/eventloop/http1"
)

// appendWSPacket appends an Engine.IO packet as one WebSocket frame: a text packet as a text frame led by its
// type digit, a binary message as a binary frame of its bytes.
func appendWSPacket(dst []byte, p eio.Packet) []byte {
	if p.Binary {
		dst = wsframe.AppendHeader(dst, ws.OpBinary, true, len(p.Data))
		return append(dst, p.Data...)
	}
	dst = wsframe.AppendHeader(dst, ws.OpText, true, len(p.Data)+1)
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}

// abortUpgrade refuses a WebSocket upgrade the way the Node.js server does: a plain 400 and a closed connection.
func (c *conn) abortUpgrade(message string, extraHeader string) gnet.Action {
	c.srv.metrics.HTTPErrors.Add(1)
	b := bytebufferpool.Get()
	b.B = http1.AppendStatusLine(b.B, http.StatusBadRequest)
	b.B = http1.AppendHeader(b.B, "Connection", "close")
	b.B = http1.AppendHeader(b.B, "Content-Type", "text/html")
	if extraHeader != "" {
		b.B = append(b.B, extraHeader...)
		b.B = append(b.B, "\r\n"...)
	}
	b.B = http1.AppendContentLength(b.B, len(message))
	b.B = append(b.B, "\r\n"...)
	b.B = append(b.B, message...)
	c.write(b.B)
	bytebufferpool.Put(b)
	return gnet.Close
}

// appendSwitchingProtocols appends the 101 answer to a WebSocket opening handshake with the given key; a
// session opened on the WebSocket gets its cookie there.
func (e *Endpoint) appendSwitchingProtocols(dst []byte, key []byte, cookieSID string) []byte {
	dst = http1.AppendStatusLine(dst, http.StatusSwitchingProtocols)
	dst = http1.AppendHeader(dst, "Upgrade", "websocket")
	dst = http1.AppendHeader(dst, "Connection", "Upgrade")
	dst = append(dst, "Sec-WebSocket-Accept: "...)
	dst = wsframe.AcceptKey(dst, key)
	dst = append(dst, "\r\n"...)
	if cookieSID != "" {
		dst = e.appendCookie(dst, cookieSID)
	}
	return append(dst, "\r\n"...)
}

// acceptWebSocket validates the opening handshake (RFC 6455 §4.2.1) and writes the 101 answer. It returns
// gnet.None when the connection is now a WebSocket.
func (c *conn) acceptWebSocket(ep *Endpoint, req *http1.Request, cookieSID string) gnet.Action {
	switch {
	case string(req.Method) != http.MethodGet:
		return c.abortUpgrade("Invalid HTTP method", "")
	case !req.HasToken("Connection", "upgrade"):
		return c.abortUpgrade("Invalid Connection header", "")
	case string(req.Header("Sec-WebSocket-Version")) != "13":
		return c.abortUpgrade("Missing or invalid Sec-WebSocket-Version header", "Sec-WebSocket-Version: 13")
	case !wsframe.ValidKey(req.Header("Sec-WebSocket-Key")):
		return c.abortUpgrade("Missing or invalid Sec-WebSocket-Key header", "")
	}
	b := bytebufferpool.Get()
	b.B = ep.appendSwitchingProtocols(b.B, req.Header("Sec-WebSocket-Key"), cookieSID)
	c.write(b.B)
	bytebufferpool.Put(b)
	c.mode = modeWebSocket
	c.dec.MaxPayload = ep.cfg.MaxPayload
	c.clearDeadline()
	return gnet.None
}

// openWebSocket opens a new session directly on WebSocket.
func (c *conn) openWebSocket(ep *Endpoint, req *http1.Request, raw []byte) gnet.Action {
	sid := NewSessionID()
	if act := c.acceptWebSocket(ep, req, sid); act != gnet.None {
		return act
	}
	c.sess = ep.openWebSocketSession(sid, newRequest(req, raw, c.remoteAddr()), c)
	return gnet.None
}

// upgradeSession starts the upgrade of a polling session to this WebSocket.
func (c *conn) upgradeSession(ep *Endpoint, s *Session, req *http1.Request) gnet.Action {
	if transport, _ := req.Query("transport"); string(transport) != TransportWebSocket || ep.cfg.DisableUpgrades {
		return c.abortUpgrade(eio.CodeBadRequest.Message(), "")
	}
	if act := c.acceptWebSocket(ep, req, ""); act != gnet.None {
		return act
	}
	if !s.startProbe(c) {
		// Already upgraded, or another upgrade under way: the Node.js server accepts the WebSocket, then closes it.
		c.writeFrame(wsframe.AppendClose(nil, 0, ""))
		c.startClosing(true)
		return gnet.None
	}
	c.sess = s
	c.probing = true
	return gnet.None
}

func (c *conn) writeFrame(frame []byte) {
	c.write(frame)
}

// serveWebSocket parses the frames in the inbound buffer and handles each complete message.
func (c *conn) serveWebSocket() gnet.Action {
	if c.lastNeed > 0 && c.gc.InboundBuffered() < c.lastNeed {
		return gnet.None // the frame under way is still incomplete: do not copy the buffer just to find that out
	}
	c.lastNeed = 0
	buf, _ := c.gc.Peek(-1)
	// While the frames are handled, what the session queues (an ack's answer from an inline handler, say) waits
	// for the flush below instead of waking the loop with a task of its own.
	served := c.sess
	served.setInServe(c, true)
	off := 0
	for off < len(buf) && c.mode == modeWebSocket {
		msg, n, ok, err := c.dec.Decode(buf[off:])
		if err != nil {
			served.setInServe(c, false)
			c.discard(len(buf))
			return c.failWebSocket(err)
		}
		if n == 0 {
			c.lastNeed = c.dec.NeedBytes() // counted from buf[off:], which is all that stays buffered
			break
		}
		off += n
		if !ok {
			continue
		}
		if act := c.onFrame(msg); act != gnet.None {
			served.setInServe(c, false)
			c.discard(len(buf))
			return act
		}
	}
	c.discard(off)
	// inServe is cleared before the flush: a wake after it schedules a flush of its own.
	served.setInServe(c, false)
	c.flush()
	if c.mode == modeClosing {
		return c.serveClosing()
	}
	return gnet.None
}

// closeEcho is the close frame that answers the peer's: the same status code, or none when it sent none.
func closeEcho(payload []byte) []byte {
	code, _ := wsframe.ClosePayload(payload)
	if code == 1005 {
		code = 0 // no status received: answer with an empty close frame
	}
	return wsframe.AppendClose(nil, code, "")
}

// onFrame handles one complete message or control frame.
func (c *conn) onFrame(msg wsframe.Message) gnet.Action {
	switch msg.Op {
	case ws.OpPing:
		c.writeFrame(wsframe.AppendFrame(nil, ws.OpPong, msg.Payload))
	case ws.OpClose:
		c.writeFrame(closeEcho(msg.Payload))
		c.detach(ReasonTransportClose)
		return gnet.Close
	case ws.OpText:
		if c.probing {
			return c.onProbe(msg.Payload)
		}
		p, err := eio.DecodeText(msg.Payload)
		if err != nil {
			if s := c.sess; s != nil {
				s.finish(ReasonParseError, true)
			}
			return gnet.None
		}
		if s := c.sess; s != nil {
			s.onPacket(p)
		}
	case ws.OpBinary:
		if c.probing {
			return c.abortProbe()
		}
		if s := c.sess; s != nil {
			s.onPacket(eio.Packet{Type: eio.Message, Data: msg.Payload, Binary: true})
		}
	}
	return gnet.None
}

// detach forgets the connection's session; if this WebSocket was its transport, the session ends with reason.
func (c *conn) detach(reason string) {
	s := c.sess
	if s == nil {
		return
	}
	c.sess = nil
	c.probing = false
	if s.detachWS(c) {
		s.finish(reason, false)
	}
}

// framingErrorClose counts a WebSocket framing error and returns the close frame that answers it, with the
// RFC 6455 code of the error.
func (m *Metrics) framingErrorClose(err error) []byte {
	code, reason := uint16(wsframe.CloseProtocolError), ""
	var ce *wsframe.CloseError
	if errors.As(err, &ce) {
		code, reason = ce.Code, ce.Reason
	}
	m.WebSocketProtocolErrors.Add(1)
	if code == wsframe.CloseTooBig {
		m.PayloadTooLarge.Add(1)
	}
	return wsframe.AppendClose(nil, code, reason)
}

// failWebSocket closes the connection after a framing error, with the RFC 6455 code of the error.
func (c *conn) failWebSocket(err error) gnet.Action {
	c.writeFrame(c.srv.metrics.framingErrorClose(err))
	c.detach(ReasonTransportError)
	c.startClosing(false)
	return gnet.None
}

// onProbe handles a text frame on a WebSocket that is upgrading a polling session.
func (c *conn) onProbe(data []byte) gnet.Action {
	pong, ok := c.sess.probeFrame(c, data)
	if !ok {
		return c.abortProbe()
	}
	if pong {
		c.writeFrame(probePong)
	} else {
		c.probing = false // upgraded
	}
	return gnet.None
}

// probePong is the answer to the probe ping, as a text frame.
var probePong = appendWSPacket(nil, eio.Packet{Type: eio.Pong, Data: []byte("probe")})

// abortProbe gives up an upgrade: the probing WebSocket is closed and the session stays on polling.
func (c *conn) abortProbe() gnet.Action {
	if s := c.sess; s != nil {
		c.sess = nil
		s.detachWS(c)
	}
	c.probing = false
	c.writeFrame(wsframe.AppendClose(nil, 0, ""))
	c.startClosing(true)
	return gnet.None
}

// startClosing enters the closing handshake: the close frame is out, and the connection is closed when the
// peer answers with its own, closes, or after closeLinger. inSync tells whether the inbound stream can still be
// parsed as frames.
func (c *conn) startClosing(inSync bool) {
	c.mode = modeClosing
	c.inSync = inSync
	c.sess = nil
	c.probing = false
	if !inSync {
		c.dec.Reset()
	}
	c.setDeadline(closeLinger)
}

// serveClosing reads what arrives after the close frame was sent, looking for the peer's close frame.
func (c *conn) serveClosing() gnet.Action {
	buf, _ := c.gc.Peek(-1)
	if !c.inSync {
		c.discard(len(buf))
		return gnet.None
	}
	off := 0
	for off < len(buf) {
		msg, n, ok, err := c.dec.Decode(buf[off:])
		if err != nil {
			c.inSync = false
			c.discard(len(buf))
			return gnet.None
		}
		if n == 0 {
			break
		}
		off += n
		if ok && msg.Op == ws.OpClose {
			c.discard(len(buf))
			return gnet.Close
		}
	}
	c.discard(off)
	return gnet.None
}
