package eventloop

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/codec/wsframe"
	"github.com/fastio/fastio/eventloop/http1"
)

// This file serves an endpoint through net/http: Endpoint implements http.Handler, so that fastio can be
// mounted into an existing net/http server, next to its routes and behind its TLS. The sessions are the same
// as on the event loops (same handler, same broadcasts, same metrics); only the transport differs: a held
// polling GET waits on its handler goroutine, a WebSocket is hijacked and served by a reader and a writer
// goroutine (stdws.go).

// ServeHTTP serves the endpoint's Engine.IO requests: handshakes, polling GETs and POSTs, and WebSocket
// upgrades. Mount it at the endpoint's path without stripping the prefix, e.g.
//
//	mux.Handle("/socket.io/", ep)
//
// Requests for other paths are answered 404. The http.Server's WriteTimeout, when set, must exceed the ping
// interval, since a polling GET is held until there is something to send; ServeHTTP lifts the deadline of the
// GETs it holds where the ResponseWriter allows it. WebSocket needs HTTP/1.1 (the connection is hijacked); over
// HTTP/2 clients fall back to polling.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != e.cfg.Path {
		http.NotFound(w, r)
		return
	}
	e.metrics.Requests.Add(1)
	origin := r.Header.Get("Origin")
	if e.cfg.CORS != nil && r.Method == http.MethodOptions {
		h := bytebufferpool.Get()
		h.B = e.appendPreflight(h.B, []byte(origin), []byte(r.Header.Get("Access-Control-Request-Headers")))
		setHeaderLines(w.Header(), h.B)
		bytebufferpool.Put(h)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	upgrade := headerHasToken(r.Header, "Upgrade", "websocket")
	query := r.URL.Query()
	transport := query.Get("transport")
	if !e.cfg.allows([]byte(transport)) {
		e.refuseStd(w, r, upgrade, eio.CodeUnknownTransport, "")
		return
	}
	if !validHeaderValue([]byte(origin)) {
		e.refuseStd(w, r, upgrade, eio.CodeBadRequest, "")
		return
	}
	if sid := query.Get("sid"); sid != "" {
		s := e.Session(sid)
		switch {
		case s == nil:
			e.refuseStd(w, r, upgrade, eio.CodeUnknownSID, "")
		case upgrade:
			e.upgradeStd(w, r, s, transport)
		case transport != TransportPolling || s.Transport() != TransportPolling:
			e.refuseStd(w, r, upgrade, eio.CodeBadRequest, "")
		case r.Method == http.MethodGet:
			e.pollStd(w, r, s)
		case r.Method == http.MethodPost:
			e.postStd(w, r, s)
		default:
			e.refuseStd(w, r, upgrade, eio.CodeBadRequest, "")
		}
		return
	}
	switch {
	case r.Method != http.MethodGet:
		e.refuseStd(w, r, upgrade, eio.CodeBadHandshakeMethod, "")
		return
	case e.srv.draining.Load() || e.srv.closing.Load():
		e.writeStd(w, r, http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(http1.StatusText(http.StatusServiceUnavailable)))
		return
	case transport == TransportWebSocket && !upgrade:
		e.refuseStd(w, r, upgrade, eio.CodeBadRequest, "")
		return
	case query.Get("EIO") != "4":
		e.refuseStd(w, r, upgrade, eio.CodeUnsupportedProtocolVersion, "")
		return
	}
	req := newStdRequest(r)
	if e.cfg.AllowRequest != nil {
		if err := e.cfg.AllowRequest(req); err != nil {
			e.refuseStd(w, r, upgrade, eio.CodeForbidden, err.Error())
			return
		}
	}
	if upgrade {
		e.openWebSocketStd(w, r, req)
		return
	}
	s := e.newSession(req, false)
	body := bytebufferpool.Get()
	body.B = eio.AppendOpen(body.B, s.id, e.cfg.upgrades(false), e.cfg.PingInterval, e.cfg.PingTimeout, e.cfg.MaxPayload)
	if e.cfg.Cookie != nil {
		h := bytebufferpool.Get()
		h.B = e.appendCookie(h.B, s.id)
		setHeaderLines(w.Header(), h.B)
		bytebufferpool.Put(h)
	}
	e.writeStd(w, r, http.StatusOK, payloadContentType, body.B)
	bytebufferpool.Put(body)
	s.started()
}

// pollWaiter is the link of a polling GET held by a net/http handler goroutine.
type pollWaiter struct {
	ready chan struct{} // one slot: a wake-up that is not collected yet
}

func (p *pollWaiter) wake(*Session) {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *pollWaiter) woken()   {}
func (p *pollWaiter) abandon() {}

// pollStd answers a polling GET at once when something is queued, or holds it until something is, the
// client goes away (which ends the session, as an aborted poll does on the event loops) or the server stops.
func (e *Endpoint) pollStd(w http.ResponseWriter, r *http.Request, s *Session) {
	waiter := &pollWaiter{ready: make(chan struct{}, 1)}
	outcome, out, finishReason := s.startPoll(waiter)
	switch outcome {
	case pollUnknownSID:
		e.refuseStd(w, r, false, eio.CodeUnknownSID, "")
		return
	case pollOverlap:
		e.refuseStd(w, r, false, eio.CodeBadRequest, "")
		return
	case pollParked:
		// The GET may wait for up to a ping interval: lift the server's write deadline where possible.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		for out == nil {
			select {
			case <-waiter.ready:
				// takePoll ends the session itself when the payload carries the close packet.
				out, _ = s.takePoll(waiter)
			case <-r.Context().Done():
				if s.releasePoll(waiter) {
					s.finish(ReasonTransportError, true)
				}
				return
			}
		}
	}
	e.writeStd(w, r, http.StatusOK, payloadContentType, out.B)
	bytebufferpool.Put(out)
	if finishReason != "" {
		s.finish(finishReason, false)
	}
}

// postStd delivers the packets of a polling POST and answers "ok".
func (e *Endpoint) postStd(w http.ResponseWriter, r *http.Request, s *Session) {
	limit := int64(e.cfg.MaxPayload)
	if r.ContentLength > limit {
		e.payloadTooLargeStd(w, r)
		return
	}
	// A body that trickles in is cut after RequestTimeout, as on the event loops (the http.Server's own
	// ReadTimeout, when the program sets one, may be shorter).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(e.srv.cfg.RequestTimeout))
	body := bytebufferpool.Get()
	defer bytebufferpool.Put(body)
	if _, err := body.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			e.metrics.RequestTimeouts.Add(1)
		} else {
			e.metrics.BadRequests.Add(1)
		}
		e.writeStd(w, r, http.StatusBadRequest, "text/plain; charset=utf-8", []byte(http1.StatusText(http.StatusBadRequest)))
		return
	}
	if int64(len(body.B)) > limit {
		e.payloadTooLargeStd(w, r)
		return
	}
	e.metrics.BytesIn.Add(int64(len(body.B)))
	if code := s.receivePayload(body.B); code != 0 {
		e.refuseStd(w, r, false, code, "")
		return
	}
	e.writeStd(w, r, http.StatusOK, "text/html", []byte("ok"))
}

func (e *Endpoint) payloadTooLargeStd(w http.ResponseWriter, r *http.Request) {
	e.metrics.PayloadTooLarge.Add(1)
	w.Header().Set("Connection", "close")
	e.writeStd(w, r, http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", []byte("Payload Too Large"))
}

// refuseStd answers a request the Engine.IO server does not accept: a polling request gets the error JSON, a
// WebSocket upgrade gets a plain 400 and a closed connection (as from the Node.js server).
func (e *Endpoint) refuseStd(w http.ResponseWriter, r *http.Request, upgrade bool, code eio.ErrorCode, message string) {
	if message == "" {
		message = code.Message()
	}
	if upgrade {
		abortUpgradeStd(w, e.metrics, message, "")
		return
	}
	status := http.StatusBadRequest
	if code == eio.CodeForbidden {
		status = http.StatusForbidden
	}
	body := eio.AppendErrorJSON(nil, code, message)
	e.writeStd(w, r, status, "application/json", body)
}

// abortUpgradeStd refuses a WebSocket upgrade with a plain 400 and closes the connection.
func abortUpgradeStd(w http.ResponseWriter, m *Metrics, message, extraHeader string) {
	m.HTTPErrors.Add(1)
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Type", "text/html")
	if name, value, ok := strings.Cut(extraHeader, ": "); ok {
		h.Set(name, value)
	}
	h.Set("Content-Length", strconv.Itoa(len(message)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, message)
}

// writeStd writes a complete response with the endpoint's CORS headers.
func (e *Endpoint) writeStd(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	h := w.Header()
	if e.cfg.CORS != nil {
		b := bytebufferpool.Get()
		b.B = e.appendCORS(b.B, []byte(r.Header.Get("Origin")))
		setHeaderLines(h, b.B)
		bytebufferpool.Put(b)
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if status >= 400 {
		e.metrics.HTTPErrors.Add(1)
	}
	w.WriteHeader(status)
	e.metrics.BytesOut.Add(int64(len(body)))
	_, _ = w.Write(body)
}

// setHeaderLines adds header lines in wire form ("Name: value\r\n"...), as the endpoint's CORS and cookie
// helpers produce them for the event loops, to a net/http header map.
func setHeaderLines(h http.Header, lines []byte) {
	for len(lines) > 0 {
		line := lines
		if i := bytes.Index(lines, []byte("\r\n")); i >= 0 {
			line, lines = lines[:i], lines[i+2:]
		} else {
			lines = nil
		}
		if name, value, ok := bytes.Cut(line, []byte(": ")); ok {
			h.Add(string(name), string(value))
		}
	}
}

// headerHasToken reports whether a comma-separated header holds token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

var errNoHijack = errors.New("the connection cannot be taken over (HTTP/2?)")

// validateUpgradeStd checks the WebSocket opening handshake (RFC 6455 §4.2.1) the way acceptWebSocket does on
// the event loops. It answers a bad one itself and returns false.
func (e *Endpoint) validateUpgradeStd(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case r.Method != http.MethodGet:
		abortUpgradeStd(w, e.metrics, "Invalid HTTP method", "")
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		abortUpgradeStd(w, e.metrics, "Invalid Connection header", "")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		abortUpgradeStd(w, e.metrics, "Missing or invalid Sec-WebSocket-Version header", "Sec-WebSocket-Version: 13")
	case !wsframe.ValidKey([]byte(r.Header.Get("Sec-WebSocket-Key"))):
		abortUpgradeStd(w, e.metrics, "Missing or invalid Sec-WebSocket-Key header", "")
	case !canHijack(w):
		abortUpgradeStd(w, e.metrics, errNoHijack.Error(), "")
	default:
		return true
	}
	return false
}

func canHijack(w http.ResponseWriter) bool {
	_, ok := w.(http.Hijacker)
	return ok
}
