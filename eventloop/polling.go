package eventloop

import (
	"errors"
	"net/http"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/eventloop/http1"
)

const payloadContentType = "text/plain; charset=UTF-8"

// openPolling answers a polling handshake with the open packet.
func (c *conn) openPolling(ep *Endpoint, req *http1.Request, raw []byte) gnet.Action {
	s := ep.newSession(newRequest(req, raw, c.remoteAddr()), false)
	body := bytebufferpool.Get()
	body.B = eio.AppendOpen(body.B, s.id, ep.cfg.upgrades(false), ep.cfg.PingInterval, ep.cfg.PingTimeout, ep.cfg.MaxPayload)
	b := bytebufferpool.Get()
	b.B = http1.AppendStatusLine(b.B, http.StatusOK)
	b.B = http1.AppendHeader(b.B, "Content-Type", payloadContentType)
	b.B = http1.AppendContentLength(b.B, len(body.B))
	b.B = ep.appendCORS(b.B, req.Header("Origin"))
	b.B = ep.appendCookie(b.B, s.id)
	if !req.KeepAlive {
		b.B = http1.AppendHeader(b.B, "Connection", "close")
	}
	b.B = append(b.B, "\r\n"...)
	b.B = append(b.B, body.B...)
	_, _ = c.gc.Write(b.B)
	bytebufferpool.Put(body)
	bytebufferpool.Put(b)
	s.hbTimer.Reset(ep.cfg.PingInterval)
	ep.cfg.Handler.OnOpen(s)
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}

// poll handles a polling GET: it is answered at once when something is queued, or parked until something is.
func (c *conn) poll(ep *Endpoint, s *Session, req *http1.Request) gnet.Action {
	now := monotime()
	s.mu.Lock()
	if s.state == stateOpen && s.expiredLocked(now) {
		s.mu.Unlock()
		s.finish(ReasonPingTimeout, true)
		return c.refuse(ep, req, false, eio.CodeUnknownSID, "")
	}
	if s.state == stateClosed || s.websocket {
		s.mu.Unlock()
		return c.refuse(ep, req, false, eio.CodeUnknownSID, "")
	}
	if s.poll != nil {
		// Two GETs at once: the second is refused and the session ends, the first GET getting a close packet.
		s.mu.Unlock()
		act := c.refuse(ep, req, false, eio.CodeBadRequest, "")
		s.finish(ReasonTransportError, true)
		return act
	}
	if c.pollReq == nil {
		c.pollReq = new(pollInfo)
	}
	c.pollReq.keepAlive = req.KeepAlive
	c.pollReq.ep = ep
	c.pollReq.origin = append(c.pollReq.origin[:0], req.Header("Origin")...)
	var out *bytebufferpool.ByteBuffer
	finished := false
	switch {
	case s.probed && s.state == stateOpen:
		// An upgrade is under way: end this GET at once so that the client can pause polling.
		out = bytebufferpool.Get()
		out.B = append(out.B, byte(eio.Noop))
	case (s.pollOut != nil && len(s.pollOut.B) > 0) || s.state == stateClosing:
		out, finished = s.takePayloadLocked()
	default:
		s.poll = c
		c.parked = true
		c.pollSess = s
		c.clearDeadline()
	}
	reason := s.closeReason
	s.mu.Unlock()
	if out == nil {
		return gnet.None
	}
	c.writePayload(out.B)
	bytebufferpool.Put(out)
	if finished {
		s.finish(reason, false)
	}
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}

// answerPoll answers the parked GET with a payload.
func (c *conn) answerPoll(payload []byte) {
	c.parked = false
	c.pollSess = nil
	c.writePayload(payload)
	if !c.pollReq.keepAlive {
		_ = c.gc.Close()
		return
	}
	c.setDeadline(c.srv.cfg.IdleTimeout)
}

func (c *conn) writePayload(payload []byte) {
	b := bytebufferpool.Get()
	b.B = c.appendHead(b.B, c.pollReq.ep, c.pollReq.origin, http.StatusOK, payloadContentType, len(payload), c.pollReq.keepAlive)
	b.B = append(b.B, payload...)
	_, _ = c.gc.Write(b.B)
	bytebufferpool.Put(b)
}

var errStopPayload = errors.New("session closed while reading a payload")

// post handles a polling POST: the packets of the payload are delivered in order and the request is answered
// with "ok". A payload that does not parse ends the session.
func (c *conn) post(ep *Endpoint, s *Session, req *http1.Request, body []byte) gnet.Action {
	s.mu.Lock()
	expired := s.state == stateOpen && s.expiredLocked(monotime())
	open := s.state == stateOpen
	s.mu.Unlock()
	if expired {
		s.finish(ReasonPingTimeout, true)
	}
	if !open || expired {
		return c.refuse(ep, req, false, eio.CodeUnknownSID, "")
	}
	err := eio.DecodePayload(body, func(p eio.Packet) error {
		if !s.onPacket(p) {
			return errStopPayload
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopPayload) {
		s.finish(ReasonParseError, true)
		return c.refuse(ep, req, false, eio.CodeBadRequest, "")
	}
	b := bytebufferpool.Get()
	b.B = c.appendHead(b.B, ep, req.Header("Origin"), http.StatusOK, "text/html", 2, req.KeepAlive)
	b.B = append(b.B, "ok"...)
	_, _ = c.gc.Write(b.B)
	bytebufferpool.Put(b)
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}
