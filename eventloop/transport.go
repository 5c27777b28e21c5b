package eventloop

import (
	"errors"

	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/internal/wheel"
)

// This file holds the session's side of each transport step. Both transports call it: the event loops (conn)
// and net/http (stdConn); each writes the HTTP answers and frames in its own way.

// pollOutcome tells how a polling GET is answered.
type pollOutcome uint8

const (
	pollAnswer     pollOutcome = iota // answer at once with the payload returned
	pollParked                        // the GET waits: the link is woken when there is something to send
	pollUnknownSID                    // the session is gone: refuse with "Session ID unknown"
	pollOverlap                       // a GET was already pending: refuse with "Bad request"; the session ended
)

// startPoll is the session's part of a polling GET arriving on l. With pollAnswer it returns the payload to
// write (the caller returns it to the pool); when finishReason is set the payload carries the close packet
// and the caller ends the session with s.finish(finishReason, false) once it is written.
func (s *Session) startPoll(l link) (outcome pollOutcome, out *bytebufferpool.ByteBuffer, finishReason string) {
	now := monotime()
	s.mu.Lock()
	if s.state == stateOpen && s.expiredLocked(now) {
		s.mu.Unlock()
		s.finish(ReasonPingTimeout, true)
		return pollUnknownSID, nil, ""
	}
	if s.state == stateClosed || s.websocket {
		s.mu.Unlock()
		return pollUnknownSID, nil, ""
	}
	if s.poll != nil {
		// Two GETs at once: the second is refused and the session ends, the first GET getting a close packet.
		s.mu.Unlock()
		s.finish(ReasonTransportError, true)
		return pollOverlap, nil, ""
	}
	finished := false
	switch {
	case s.probed && s.state == stateOpen:
		// An upgrade is under way: end this GET at once so that the client can pause polling.
		out = bytebufferpool.Get()
		out.B = append(out.B, byte(eio.Noop))
	case (s.pollOut != nil && len(s.pollOut.B) > 0) || s.state == stateClosing:
		out, finished = s.takePayloadLocked()
	default:
		s.poll = l
		s.mu.Unlock()
		return pollParked, nil, ""
	}
	if finished {
		finishReason = s.closeReason
	}
	s.mu.Unlock()
	return pollAnswer, out, finishReason
}

var errStopPayload = errors.New("session closed while reading a payload")

// receivePayload is the session's part of a polling POST: the packets of the payload are delivered in order.
// It returns 0 when the POST is answered with "ok", or the error code to refuse it with (the session is gone,
// or the payload did not parse and the session ended).
func (s *Session) receivePayload(body []byte) eio.ErrorCode {
	s.mu.Lock()
	expired := s.state == stateOpen && s.expiredLocked(monotime())
	open := s.state == stateOpen
	s.mu.Unlock()
	if expired {
		s.finish(ReasonPingTimeout, true)
	}
	if !open || expired {
		return eio.CodeUnknownSID
	}
	err := eio.DecodePayload(body, func(p eio.Packet) error {
		if !s.onPacket(p) {
			return errStopPayload
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopPayload) {
		s.finish(ReasonParseError, true)
		return eio.CodeBadRequest
	}
	return 0
}

// startProbe makes l the WebSocket that upgrades the session. It reports false when the session cannot be
// upgraded (closed, already upgraded, or another upgrade under way): the caller closes l.
func (s *Session) startProbe(l link) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || s.websocket || s.probe != nil {
		return false
	}
	s.probe = l
	if s.upTimer == nil {
		s.upTimer = new(wheel.Timer)
		s.upTimer.Init(s.ep.srv.wheel, s.onUpgradeTimeout)
	}
	s.upTimer.Reset(s.ep.cfg.UpgradeTimeout)
	return true
}

// probeFrame handles a text frame received on l while it upgrades the session: "2probe" is answered with
// "3probe" (pong is true: the caller writes it), "5" completes the upgrade. Anything else, or a frame out of
// turn, returns ok false: the caller gives the upgrade up (abortProbe).
func (s *Session) probeFrame(l link, data []byte) (pong, ok bool) {
	switch string(data) {
	case "2probe":
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.probe != l || s.state != stateOpen {
			return false, false
		}
		s.probed = true
		s.scheduleLocked(s.poll) // answers the pending GET with a noop
		return true, true
	case "5":
		s.mu.Lock()
		if s.probe != l || s.state != stateOpen || !s.probed {
			s.mu.Unlock()
			return false, false
		}
		s.upTimer.Stop() // set when the probe started
		s.probe = nil
		s.probed = false
		s.websocket = true
		s.ws = l
		if s.pollOut != nil {
			// What polling had not delivered leaves first, on the WebSocket.
			out := bytebufferpool.Get()
			_ = eio.DecodePayload(s.pollOut.B, func(p eio.Packet) error {
				out.B = appendWSPacket(out.B, p)
				return nil
			})
			if s.wsOut != nil {
				out.B = append(out.B, s.wsOut.B...)
				bytebufferpool.Put(s.wsOut)
			}
			s.wsOut = out
			bytebufferpool.Put(s.pollOut)
			s.pollOut = nil
		}
		if s.wsOut != nil && len(s.wsOut.B) > 0 {
			s.scheduleLocked(l)
		}
		s.scheduleLocked(s.poll)
		s.mu.Unlock()
		s.ep.metrics.Upgrades.Add(1)
		s.ep.metrics.WebSocketSessions.Add(1)
		return false, true
	}
	return false, false
}

// openWebSocketSession opens a session that starts on the WebSocket l: the open packet is queued on it, the
// heartbeat starts and the handler is told.
func (e *Endpoint) openWebSocketSession(sid string, req *Request, l link) *Session {
	s := e.newSessionWithID(sid, req, true)
	open := eio.AppendOpen(nil, s.id, e.cfg.upgrades(true), e.cfg.PingInterval, e.cfg.PingTimeout, e.cfg.MaxPayload)
	s.mu.Lock()
	s.ws = l
	s.queueLocked(eio.Open, open[1:], false)
	s.mu.Unlock()
	s.started()
	return s
}

// started starts the heartbeat of a session whose handshake was answered, and tells the handler.
func (s *Session) started() {
	s.hbTimer.Reset(s.ep.cfg.PingInterval)
	s.ep.cfg.Handler.OnOpen(s)
}
