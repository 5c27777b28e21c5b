package eventloop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/eventloop/http1"
)

// maxSkippedBody is the largest refused body the server reads and drops to keep the connection; a client that
// announces more is answered and disconnected.
const maxSkippedBody = 64 << 20

// serveHTTP parses and answers the requests in the inbound buffer. switched reports that the connection became
// a WebSocket and the rest of the buffer holds frames.
func (c *conn) serveHTTP() (act gnet.Action, switched bool) {
	for !c.parked && !c.busy && !c.closed {
		buf, _ := c.gc.Peek(-1)
		if c.skip > 0 {
			n := min(int64(len(buf)), c.skip)
			c.discard(int(n))
			c.skip -= n
			if c.skip > 0 {
				return gnet.None, false
			}
			continue
		}
		if len(buf) == 0 {
			c.setDeadline(c.srv.cfg.IdleTimeout)
			return gnet.None, false
		}
		req := c.srv.requests.Get().(*http1.Request)
		act, consumed, done := c.serveRequest(buf, req)
		c.srv.requests.Put(req)
		c.discard(consumed)
		if act != gnet.None || !done {
			return act, false
		}
		if c.mode != modeHTTP {
			return gnet.None, true
		}
	}
	return gnet.None, false
}

// serveRequest handles the request at the start of buf. done is false when the request is not complete yet.
func (c *conn) serveRequest(buf []byte, req *http1.Request) (act gnet.Action, consumed int, done bool) {
	n, err := http1.Parse(buf, req, c.srv.limits)
	if errors.Is(err, http1.ErrIncomplete) {
		c.keepDeadline(c.srv.cfg.RequestTimeout)
		return gnet.None, 0, false
	}
	c.srv.metrics.Requests.Add(1)
	if err != nil {
		c.srv.metrics.BadRequests.Add(1)
		c.writeError(nil, http1.StatusFor(err), nil, false)
		return gnet.Close, len(buf), true
	}
	bodyLen := max(req.ContentLength, 0)
	ep := c.srv.endpointFor(req.Target)
	if ep != nil && bodyLen > int64(ep.cfg.MaxPayload) {
		c.srv.metrics.PayloadTooLarge.Add(1)
		keep := req.KeepAlive && bodyLen <= maxSkippedBody
		c.writeEngineError(ep, req, http.StatusRequestEntityTooLarge, -1, "Payload Too Large", keep)
		if !keep {
			return gnet.Close, len(buf), true
		}
		c.skip = bodyLen
		c.clearDeadline()
		return gnet.None, n, true
	}
	if ep == nil && bodyLen > int64(c.srv.cfg.MaxFallbackBody) {
		c.srv.metrics.PayloadTooLarge.Add(1)
		c.writeError(nil, http.StatusRequestEntityTooLarge, nil, false)
		return gnet.Close, len(buf), true
	}
	total := n + int(bodyLen)
	if len(buf) < total {
		c.keepDeadline(c.srv.cfg.RequestTimeout)
		return gnet.None, 0, false
	}
	c.clearDeadline()
	body := buf[n:total]
	if ep == nil {
		return c.serveFallback(req, body), total, true
	}
	return c.serveEngine(ep, req, buf[:total]), total, true
}

// serveEngine routes an Engine.IO request: handshake, poll, post or WebSocket.
func (c *conn) serveEngine(ep *Endpoint, req *http1.Request, raw []byte) gnet.Action {
	body := raw[req.HeadLen:]
	origin := req.Header("Origin")
	if ep.cfg.CORS != nil && string(req.Method) == http.MethodOptions {
		return c.writePreflight(ep, req)
	}
	upgrade := req.HasToken("Upgrade", "websocket")
	transport, _ := req.Query("transport")
	if !ep.cfg.allows(transport) {
		return c.refuse(ep, req, upgrade, eio.CodeUnknownTransport, "")
	}
	// No validHeaderValue(origin) here, unlike ServeHTTP: http1.Parse already refused a head with such a value.
	if sid, ok := req.Query("sid"); ok && len(sid) > 0 {
		s := ep.lookup(sid)
		if s == nil {
			return c.refuse(ep, req, upgrade, eio.CodeUnknownSID, "")
		}
		if upgrade {
			return c.upgradeSession(ep, s, req)
		}
		if string(transport) != TransportPolling || s.Transport() != TransportPolling {
			return c.refuse(ep, req, upgrade, eio.CodeBadRequest, "")
		}
		switch string(req.Method) {
		case http.MethodGet:
			return c.poll(ep, s, req)
		case http.MethodPost:
			return c.post(ep, s, req, body)
		}
		return c.refuse(ep, req, upgrade, eio.CodeBadRequest, "")
	}
	if string(req.Method) != http.MethodGet {
		return c.refuse(ep, req, upgrade, eio.CodeBadHandshakeMethod, "")
	}
	if c.srv.draining.Load() {
		c.writeError(ep, http.StatusServiceUnavailable, origin, false)
		return gnet.Close
	}
	if string(transport) == TransportWebSocket && !upgrade {
		return c.refuse(ep, req, upgrade, eio.CodeBadRequest, "")
	}
	if version, _ := req.Query("EIO"); string(version) != "4" {
		return c.refuse(ep, req, upgrade, eio.CodeUnsupportedProtocolVersion, "")
	}
	if ep.cfg.AllowRequest != nil {
		if err := ep.cfg.AllowRequest(newRequest(req, raw, c.remoteAddr())); err != nil {
			return c.refuse(ep, req, upgrade, eio.CodeForbidden, err.Error())
		}
	}
	if upgrade {
		return c.openWebSocket(ep, req, raw)
	}
	return c.openPolling(ep, req, raw)
}

func (c *conn) remoteAddr() string {
	if a := c.gc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// refuse answers a request the Engine.IO server does not accept, the way the Node.js server does: a polling
// request gets the error JSON, a WebSocket upgrade gets a plain 400 and a closed connection.
func (c *conn) refuse(ep *Endpoint, req *http1.Request, upgrade bool, code eio.ErrorCode, message string) gnet.Action {
	if message == "" {
		message = code.Message()
	}
	if upgrade {
		return c.abortUpgrade(message, "")
	}
	status := http.StatusBadRequest
	if code == eio.CodeForbidden {
		status = http.StatusForbidden
	}
	c.writeEngineError(ep, req, status, code, message, req.KeepAlive)
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}

// writeEngineError writes the Engine.IO error JSON; code -1 writes a plain-text body instead.
func (c *conn) writeEngineError(ep *Endpoint, req *http1.Request, status int, code eio.ErrorCode, message string, keepAlive bool) {
	b := bytebufferpool.Get()
	body := bytebufferpool.Get()
	contentType := "text/plain; charset=utf-8"
	if code >= 0 {
		contentType = "application/json"
		body.B = eio.AppendErrorJSON(body.B, code, message)
	} else {
		body.B = append(body.B, message...)
	}
	b.B = c.appendHead(b.B, ep, req.Header("Origin"), status, contentType, len(body.B), keepAlive)
	b.B = append(b.B, body.B...)
	c.write(b.B)
	bytebufferpool.Put(body)
	bytebufferpool.Put(b)
	if status >= 400 {
		c.srv.metrics.HTTPErrors.Add(1)
	}
}

// writeError answers a request that cannot be parsed, outside any endpoint.
func (c *conn) writeError(ep *Endpoint, status int, origin []byte, keepAlive bool) {
	text := http1.StatusText(status)
	b := bytebufferpool.Get()
	b.B = c.appendHead(b.B, ep, origin, status, "text/plain; charset=utf-8", len(text), keepAlive)
	b.B = append(b.B, text...)
	c.write(b.B)
	bytebufferpool.Put(b)
	c.srv.metrics.HTTPErrors.Add(1)
}

// appendHead appends a response head up to and including the blank line.
func (c *conn) appendHead(dst []byte, ep *Endpoint, origin []byte, status int, contentType string, length int, keepAlive bool) []byte {
	dst = http1.AppendStatusLine(dst, status)
	if contentType != "" {
		dst = http1.AppendHeader(dst, "Content-Type", contentType)
	}
	dst = http1.AppendContentLength(dst, length)
	if ep != nil {
		dst = ep.appendCORS(dst, origin)
	}
	if !keepAlive {
		dst = http1.AppendHeader(dst, "Connection", "close")
	}
	return append(dst, "\r\n"...)
}

func (c *conn) writePreflight(ep *Endpoint, req *http1.Request) gnet.Action {
	b := bytebufferpool.Get()
	b.B = http1.AppendStatusLine(b.B, http.StatusNoContent)
	b.B = ep.appendPreflight(b.B, req.Header("Origin"), req.Header("Access-Control-Request-Headers"))
	b.B = http1.AppendContentLength(b.B, 0)
	if !req.KeepAlive {
		b.B = http1.AppendHeader(b.B, "Connection", "close")
	}
	b.B = append(b.B, "\r\n"...)
	c.write(b.B)
	bytebufferpool.Put(b)
	if !req.KeepAlive {
		return gnet.Close
	}
	return gnet.None
}

// validHeaderValue reports whether v has only field-value characters (the Node.js server refuses an Origin
// with others). ServeHTTP checks it; on the event loops http1.Parse already refuses any header value with others.
func validHeaderValue(v []byte) bool {
	for _, ch := range v {
		if (ch < 0x20 && ch != '\t') || ch == 0x7f {
			return false
		}
	}
	return true
}

// serveFallback runs the fallback handler off the event loop, or answers 404 when there is none.
func (c *conn) serveFallback(req *http1.Request, body []byte) gnet.Action {
	h := c.srv.cfg.Fallback
	if h == nil {
		c.writeError(nil, http.StatusNotFound, nil, req.KeepAlive)
		if !req.KeepAlive {
			return gnet.Close
		}
		return gnet.None
	}
	hreq, err := toHTTPRequest(req, body, c.remoteAddr())
	if err != nil {
		c.srv.metrics.BadRequests.Add(1)
		c.writeError(nil, http.StatusBadRequest, nil, false)
		return gnet.Close
	}
	keepAlive := req.KeepAlive
	c.busy = true
	go func() {
		resp := runHandler(h, hreq, keepAlive)
		c.srv.metrics.BytesOut.Add(int64(len(resp)))
		err := c.gc.AsyncWrite(resp, func(gc gnet.Conn, err error) error {
			c.busy = false
			if err != nil || c.closed {
				return nil
			}
			if !keepAlive {
				return gc.Close()
			}
			if act := c.resume(); act == gnet.Close {
				return gc.Close()
			}
			return nil
		})
		if err != nil {
			c.srv.cfg.Logger.Debug("fallback response not written", "err", err)
		}
	}()
	return gnet.None
}

func toHTTPRequest(req *http1.Request, body []byte, remote string) (*http.Request, error) {
	u, err := url.ParseRequestURI(string(req.Target))
	if err != nil {
		return nil, fmt.Errorf("parse request target: %w", err)
	}
	header := make(http.Header)
	req.VisitHeaders(func(name, value []byte) {
		k := http.CanonicalHeaderKey(string(name))
		header[k] = append(header[k], string(value))
	})
	hreq := &http.Request{
		Method:        string(req.Method),
		URL:           u,
		Proto:         "HTTP/1." + strconv.Itoa(req.ProtoMinor),
		ProtoMajor:    1,
		ProtoMinor:    req.ProtoMinor,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(bytes.Clone(body))),
		ContentLength: int64(len(body)),
		Host:          header.Get("Host"),
		RemoteAddr:    remote,
		RequestURI:    string(req.Target),
		Close:         !req.KeepAlive,
	}
	return hreq, nil
}

// bufferedResponse collects a fallback handler's response.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *bufferedResponse) Header() http.Header { return r.header }

func (r *bufferedResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *bufferedResponse) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func runHandler(h http.Handler, req *http.Request, keepAlive bool) []byte {
	w := &bufferedResponse{header: make(http.Header)}
	func() {
		defer func() {
			if p := recover(); p != nil {
				w.header = make(http.Header)
				w.status = http.StatusInternalServerError
				w.body.Reset()
			}
		}()
		h.ServeHTTP(w, req)
	}()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	w.header.Del("Content-Length")
	w.header.Del("Transfer-Encoding")
	out := http1.AppendStatusLine(nil, w.status)
	for k, vs := range w.header {
		for _, v := range vs {
			out = http1.AppendHeader(out, k, v)
		}
	}
	out = http1.AppendContentLength(out, w.body.Len())
	if !keepAlive {
		out = http1.AppendHeader(out, "Connection", "close")
	}
	out = append(out, "\r\n"...)
	if req.Method != http.MethodHead {
		out = append(out, w.body.Bytes()...)
	}
	return out
}
