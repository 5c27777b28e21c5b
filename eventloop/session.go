package eventloop

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/codec/wsframe"
	"github.com/fastio/fastio/internal/wheel"
)

// Transport names, as they appear in the `transport` query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Reasons a session closes with, as the Node.js engine.io server spells them.
const (
	ReasonTransportClose = "transport close" // the client closed the connection or sent a close packet
	ReasonTransportError = "transport error" // a broken transport: aborted or overlapping polls, bad frames
	ReasonParseError     = "parse error"     // the client sent a packet that does not parse
	ReasonPingTimeout    = "ping timeout"    // no pong within pingTimeout
	ReasonForcedClose    = "forced close"    // the server closed the session
	ReasonServerClose    = "server shutting down"
	ReasonSlowConsumer   = "slow consumer" // more than MaxBacklog bytes waited for the client
)

// ErrSessionClosed is returned by Send on a session that is closing or closed.
var ErrSessionClosed = errors.New("eventloop: session closed")

// ErrSlowConsumer is returned by Send when the packet made the session's queue exceed MaxBacklog: the session is
// closed.
var ErrSlowConsumer = errors.New("eventloop: slow consumer: backlog over MaxBacklog, session closed")

type sessionState uint8

const (
	stateOpen sessionState = iota
	stateClosing
	stateClosed
)

// Session is one Engine.IO session. Its methods are safe for concurrent use from any goroutine.
//
// A session starts on HTTP long-polling or on WebSocket; a polling session may be upgraded to WebSocket, after
// which everything queued and everything sent later leaves on the WebSocket, in order.
type Session struct {
	id  string
	ep  *Endpoint
	req *Request

	// mu guards every field below it, and is held when the links the session points to are woken.
	mu        sync.Mutex
	state     sessionState
	websocket bool // the current transport is WebSocket
	ws        link // the WebSocket connection, when websocket is true
	probe     link // a WebSocket being upgraded to (polling sessions only)
	probed    bool // the probe ping was answered: the polling side is being drained
	poll      link // the connection holding the pending polling GET, if any
	pollOut   *bytebufferpool.ByteBuffer
	wsOut     *bytebufferpool.ByteBuffer
	ctx       any

	awaitPong bool  // a ping was sent and its pong has not arrived
	pingAt    int64 // monotonic ns at which the outstanding (or next) ping is due
	lastRecv  int64 // monotonic ns of the last packet received
	hbTimer   wheel.Timer
	upTimer   *wheel.Timer // armed while an upgrade is under way; allocated by the first upgrade

	closeReason string
}

// ID returns the session id (the Engine.IO `sid`).
func (s *Session) ID() string { return s.id }

// Request returns the request that opened the session.
func (s *Session) Request() *Request { return s.req }

// Endpoint returns the endpoint the session belongs to.
func (s *Session) Endpoint() *Endpoint { return s.ep }

// SetContext attaches a value to the session, for the layer above (the Socket.IO client of this session).
func (s *Session) SetContext(v any) {
	s.mu.Lock()
	s.ctx = v
	s.mu.Unlock()
}

// Context returns the value set with SetContext.
func (s *Session) Context() any {
	s.mu.Lock()
	v := s.ctx
	s.mu.Unlock()
	return v
}

// Transport returns the name of the current transport: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.websocket {
		return TransportWebSocket
	}
	return TransportPolling
}

// Closed reports whether the session is closing or closed.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateOpen
}

// Send queues a message packet: text when binary is false, binary otherwise. The data is copied before Send
// returns. Packets leave in the order Send was called.
func (s *Session) Send(data []byte, binary bool) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	s.queueLocked(eio.Message, data, binary)
	return s.checkBacklogAndUnlock()
}

// checkBacklogAndUnlock unlocks s.mu and ends the session as a slow consumer if its queue outgrew MaxBacklog.
func (s *Session) checkBacklogAndUnlock() error {
	n := 0
	if s.wsOut != nil {
		n += len(s.wsOut.B)
	}
	if s.pollOut != nil {
		n += len(s.pollOut.B)
	}
	s.mu.Unlock()
	if n <= s.ep.cfg.MaxBacklog {
		return nil
	}
	s.ep.metrics.SlowConsumers.Add(1)
	s.finish(ReasonSlowConsumer, true)
	return ErrSlowConsumer
}

// SendText queues a text message packet.
func (s *Session) SendText(text string) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	// queueLocked only copies the data: viewing the string as bytes spares converting (copying) it first.
	s.queueLocked(eio.Message, unsafe.Slice(unsafe.StringData(text), len(text)), false)
	return s.checkBacklogAndUnlock()
}

// Packet is one message packet for SendBatch.
type Packet struct {
	Data   []byte
	Binary bool
}

// SendBatch queues several message packets atomically: no packet sent concurrently by another goroutine lands
// between them (Socket.IO needs this for a packet and its binary attachments).
func (s *Session) SendBatch(packets ...Packet) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	for _, p := range packets {
		s.queueLocked(eio.Message, p.Data, p.Binary)
	}
	return s.checkBacklogAndUnlock()
}

// Close closes the session from the server side, after what is already queued has been sent.
func (s *Session) Close() {
	s.closeWith(ReasonForcedClose)
}

func (s *Session) closeWith(reason string) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if s.websocket {
		s.mu.Unlock()
		s.finish(reason, true)
		return
	}
	// Polling: what is queued goes out first, then the close packet in a GET of its own (see takePayloadLocked).
	// The session is finished once that GET is answered, or when the linger time runs out.
	s.state = stateClosing
	s.closeReason = reason
	if s.poll != nil {
		s.scheduleLocked(s.poll)
	}
	s.hbTimer.Reset(s.ep.cfg.closeLinger())
	s.mu.Unlock()
}

// takePayloadLocked hands out what a GET should carry, or nil when there is nothing yet. While the session
// closes, the close packet travels alone, in the GET after the last payload: the client handles a payload's
// packets asynchronously but its close packet at once, so a close in the same payload would overtake them (the
// Node.js server sends it separately too). finished reports that the close packet was handed out.
func (s *Session) takePayloadLocked() (out *bytebufferpool.ByteBuffer, finished bool) {
	if s.pollOut != nil && len(s.pollOut.B) > 0 {
		out = s.pollOut
		s.pollOut = nil
		return out, false
	}
	if s.state != stateClosing {
		return nil, false
	}
	out = bytebufferpool.Get()
	out.B = append(out.B, byte(eio.Close))
	return out, true
}

// queueLocked appends one packet to the output of the current transport and makes sure a flush is scheduled.
func (s *Session) queueLocked(t eio.PacketType, data []byte, binary bool) {
	s.ep.metrics.PacketsOut.Add(1)
	p := eio.Packet{Type: t, Data: data, Binary: binary}
	if s.websocket {
		if s.wsOut == nil {
			s.wsOut = bytebufferpool.Get()
		}
		s.wsOut.B = appendWSPacket(s.wsOut.B, p)
		s.scheduleLocked(s.ws)
		return
	}
	if s.pollOut == nil {
		s.pollOut = bytebufferpool.Get()
	}
	s.pollOut.B = eio.AppendPayloadPacket(s.pollOut.B, 0, p)
	if s.poll != nil && !s.probed {
		s.scheduleLocked(s.poll)
	}
}

// link is a connection a session writes through: a connection of an event loop (*conn), or one served by
// net/http (*stdConn). The session calls wake and woken with its mu held; neither may block.
type link interface {
	// wake asks the connection's writer (its event loop, or a goroutine) to collect the output of s with takeWS
	// or takePoll, unless it was already asked.
	wake(s *Session)
	// woken tells the connection that its writer is collecting the output: the next wake must ask again.
	woken()
	// abandon ends a WebSocket with a close frame and the closing handshake (an upgrade given up). It is
	// called without the session's mu.
	abandon()
}

// scheduleLocked asks l's writer to flush the session's output.
func (s *Session) scheduleLocked(l link) {
	if l != nil {
		l.wake(s)
	}
}

// setInServe marks c as being served by its loop (see conn.inServe). s may be nil (c serves no session).
func (s *Session) setInServe(c *conn, on bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	c.inServe = on
	s.mu.Unlock()
}

// takeWS hands the pending WebSocket output to l if l is the session's WebSocket. The caller writes it and
// returns the buffer to the pool. closeAfter tells the caller to start the closing handshake after writing.
func (s *Session) takeWS(l link) (out *bytebufferpool.ByteBuffer, closeAfter bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.woken()
	if l != s.ws {
		return nil, false
	}
	out = s.wsOut
	s.wsOut = nil
	if s.state == stateClosed {
		s.ws = nil
		closeAfter = true
	}
	return out, closeAfter
}

// takePoll hands the pending polling payload to l if l holds the session's pending GET and there is something
// to send. The GET is then no longer pending. finished reports that the payload carries the close packet and
// the session is over once it is written.
func (s *Session) takePoll(l link) (out *bytebufferpool.ByteBuffer, finished bool) {
	s.mu.Lock()
	l.woken()
	if l != s.poll {
		s.mu.Unlock()
		return nil, false
	}
	if s.state == stateOpen && (s.probed || s.websocket) {
		// Upgrading or upgraded: the GET is ended with a noop so that the client can pause polling; the queue
		// waits for the WebSocket.
		s.poll = nil
		s.mu.Unlock()
		out = bytebufferpool.Get()
		out.B = append(out.B, byte(eio.Noop))
		return out, false
	}
	out, finishNow := s.takePayloadLocked()
	if out == nil {
		s.mu.Unlock()
		return nil, false
	}
	s.poll = nil
	reason := s.closeReason
	s.mu.Unlock()
	if finishNow {
		s.finish(reason, false)
	}
	return out, finishNow
}

// onPacket handles one packet received on the session's current transport (a polling POST or the WebSocket).
// It runs on an event loop and reports whether the session is still open.
func (s *Session) onPacket(p eio.Packet) bool {
	s.ep.metrics.PacketsIn.Add(1)
	now := monotime()
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	s.lastRecv = now
	switch p.Type {
	case eio.Message:
		s.mu.Unlock()
		s.ep.cfg.Handler.OnMessage(s, p.Data, p.Binary)
		return true
	case eio.Pong:
		if s.awaitPong {
			s.awaitPong = false
			s.pingAt = now + int64(s.ep.cfg.PingInterval)
			s.hbTimer.Reset(s.ep.cfg.PingInterval)
		}
		s.mu.Unlock()
		return true
	case eio.Close:
		s.mu.Unlock()
		s.finish(ReasonTransportClose, false)
		return false
	case eio.Ping:
		// In protocol v4 the server pings and the client answers: a ping from the client is an error.
		s.mu.Unlock()
		s.finish(ReasonTransportError, true)
		return false
	default:
		// open, upgrade and noop packets carry no meaning on an established transport.
		s.mu.Unlock()
		return true
	}
}

// onHeartbeat runs on the wheel goroutine when the heartbeat timer fires.
func (s *Session) onHeartbeat() {
	now := monotime()
	s.mu.Lock()
	switch s.state {
	case stateClosed:
		s.mu.Unlock()
		return
	case stateClosing:
		// The close packet was never collected by a GET.
		reason := s.closeReason
		s.mu.Unlock()
		s.finish(reason, false)
		return
	}
	if !s.awaitPong {
		s.awaitPong = true
		s.queueLocked(eio.Ping, nil, false)
		s.hbTimer.Reset(time.Duration(s.pingAt + int64(s.ep.cfg.PingTimeout) - now))
		s.mu.Unlock()
		return
	}
	if wait := s.pongWaitLocked(now); wait > 0 {
		s.hbTimer.Reset(wait)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.finish(ReasonPingTimeout, true)
}

// pongWaitLocked returns how much longer the session may wait for its pong (<= 0: the wait is over). Any packet
// received lately counts as a sign of life, as in the Node.js server.
func (s *Session) pongWaitLocked(now int64) time.Duration {
	timeout := int64(s.ep.cfg.PingTimeout)
	deadline := s.pingAt + timeout
	if alive := s.lastRecv + timeout; alive > deadline {
		deadline = alive
	}
	return time.Duration(deadline - now)
}

// expiredLocked reports whether the heartbeat deadline passed, even if the wheel has not fired yet. Requests
// check it so that a session is never served a moment after its deadline.
func (s *Session) expiredLocked(now int64) bool {
	if s.state != stateOpen {
		return true
	}
	if now < s.pingAt {
		return false
	}
	return s.pongWaitLocked(now) <= 0
}

// onUpgradeTimeout runs on the wheel goroutine when a client did not complete its upgrade in time.
func (s *Session) onUpgradeTimeout() {
	s.mu.Lock()
	probe := s.probe
	if probe == nil {
		s.mu.Unlock()
		return
	}
	s.probe = nil
	s.probed = false
	s.mu.Unlock()
	probe.abandon()
}

// finish ends the session once: it detaches every connection, tells the handler, and forgets the session.
// serverSide tells how a pending GET is answered: with a close packet when the server ends the session, with a
// noop when the client did (as the Node.js server does).
func (s *Session) finish(reason string, serverSide bool) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	wasWebSocket := s.websocket
	s.hbTimer.Stop()
	if s.upTimer != nil {
		s.upTimer.Stop()
	}
	if s.pollOut != nil {
		bytebufferpool.Put(s.pollOut)
		s.pollOut = nil
	}
	if s.poll != nil {
		s.pollOut = bytebufferpool.Get()
		if serverSide {
			s.pollOut.B = append(s.pollOut.B, byte(eio.Close))
		} else {
			s.pollOut.B = append(s.pollOut.B, byte(eio.Noop))
		}
		s.scheduleLocked(s.poll)
	}
	probe := s.probe
	s.probe = nil
	if reason == ReasonSlowConsumer && s.wsOut != nil {
		s.wsOut.B = s.wsOut.B[:0] // whole frames not written yet: dropping them keeps the stream valid
	}
	if s.ws != nil {
		// The WebSocket gets what is queued, then a close frame; takeWS tells the loop to close after writing.
		if s.wsOut == nil {
			s.wsOut = bytebufferpool.Get()
		}
		s.wsOut.B = wsframe.AppendClose(s.wsOut.B, 0, "")
		s.scheduleLocked(s.ws)
	}
	s.mu.Unlock()
	if probe != nil {
		probe.abandon()
	}
	s.ep.remove(s)
	s.ep.metrics.sessionClosed(reason, wasWebSocket)
	s.ep.cfg.Handler.OnClose(s, reason)
}

// releasePoll drops the pending GET held by l (its connection went away) and reports whether it was pending.
func (s *Session) releasePoll(l link) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.poll != l {
		return false
	}
	s.poll = nil
	l.woken()
	if s.state == stateClosed && s.pollOut != nil {
		bytebufferpool.Put(s.pollOut)
		s.pollOut = nil
	}
	return true
}

// detachWS forgets l as the session's WebSocket or probe after its connection closed; it reports which it was.
func (s *Session) detachWS(l link) (wasTransport bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l.woken()
	switch l {
	case s.ws:
		s.ws = nil
		if s.wsOut != nil {
			bytebufferpool.Put(s.wsOut)
			s.wsOut = nil
		}
		return true
	case s.probe:
		s.probe = nil
		s.probed = false
		if s.upTimer != nil {
			s.upTimer.Stop()
		}
	}
	return false
}
