package eventloop

import (
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
	c.write(b.B)
	bytebufferpool.Put(body)
	bytebufferpool.Put(b)
	s.started()
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}

// poll handles a polling GET: it is answered at once when something is queued, or parked until something is.
func (c *conn) poll(ep *Endpoint, s *Session, req *http1.Request) gnet.Action {
	outcome, out, finishReason := s.startPoll(c)
	switch outcome {
	case pollUnknownSID:
		return c.refuse(ep, req, false, eio.CodeUnknownSID, "")
	case pollOverlap:
		return c.refuse(ep, req, false, eio.CodeBadRequest, "")
	}
	if c.pollReq == nil {
		c.pollReq = new(pollInfo)
	}
	c.pollReq.keepAlive = req.KeepAlive
	c.pollReq.ep = ep
	c.pollReq.origin = append(c.pollReq.origin[:0], req.Header("Origin")...)
	if outcome == pollParked {
		// The session may already have asked for a flush: it runs on this loop, after this returns.
		c.parked = true
		c.pollSess = s
		c.clearDeadline()
		return gnet.None
	}
	c.writePayload(out.B)
	bytebufferpool.Put(out)
	if finishReason != "" {
		s.finish(finishReason, false)
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
	c.write(b.B)
	bytebufferpool.Put(b)
}

// post handles a polling POST: the packets of the payload are delivered in order and the request is answered
// with "ok". A payload that does not parse ends the session.
func (c *conn) post(ep *Endpoint, s *Session, req *http1.Request, body []byte) gnet.Action {
	if code := s.receivePayload(body); code != 0 {
		return c.refuse(ep, req, false, code, "")
	}
	b := bytebufferpool.Get()
	b.B = c.appendHead(b.B, ep, req.Header("Origin"), http.StatusOK, "text/html", 2, req.KeepAlive)
	b.B = append(b.B, "ok"...)
	c.write(b.B)
	bytebufferpool.Put(b)
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}
