package eventloop

import "sync/atomic"

// Metrics counts what the server does. Every field is safe to read at any time; the server only adds to them.
type Metrics struct {
	// Connections is the number of open TCP connections.
	Connections atomic.Int64
	// Sessions is the number of open Engine.IO sessions, WebSocketSessions those of them on WebSocket.
	Sessions          atomic.Int64
	WebSocketSessions atomic.Int64
	// HandshakesPolling and HandshakesWebSocket count sessions opened on each transport.
	HandshakesPolling   atomic.Int64
	HandshakesWebSocket atomic.Int64
	// Upgrades counts polling sessions upgraded to WebSocket.
	Upgrades atomic.Int64
	// Requests counts HTTP requests parsed; HTTPErrors those answered with a 4xx or 5xx status.
	Requests   atomic.Int64
	HTTPErrors atomic.Int64
	// BadRequests counts malformed HTTP (400, 431, 501, 505 on a broken request head).
	BadRequests atomic.Int64
	// PayloadTooLarge counts polling bodies and WebSocket messages over maxPayload.
	PayloadTooLarge atomic.Int64
	// WebSocketProtocolErrors counts WebSocket connections closed for a framing error (1002, 1007, 1009).
	WebSocketProtocolErrors atomic.Int64
	// ParseErrors counts sessions closed because a packet did not parse.
	ParseErrors atomic.Int64
	// PingTimeouts counts sessions closed for a missing pong.
	PingTimeouts atomic.Int64
	// ConnectionsRefused counts TCP connections closed at once for Config.MaxConnections or MaxConnectionsPerIP.
	ConnectionsRefused atomic.Int64
	// RequestTimeouts counts connections closed because a request did not arrive in time, or stayed idle.
	RequestTimeouts atomic.Int64
	// SlowConsumers counts sessions closed because their backlog exceeded MaxBacklog.
	SlowConsumers atomic.Int64
	// ClosedSessions counts ended sessions.
	ClosedSessions atomic.Int64
	// PacketsIn and PacketsOut count Engine.IO packets received and queued for sending (a broadcast counts one per
	// recipient); BytesIn and BytesOut the bytes read from and written to connections, HTTP and WebSocket
	// framing included.
	PacketsIn, PacketsOut atomic.Int64
	BytesIn, BytesOut     atomic.Int64
	// Broadcasts counts the fan-outs of a frame to many sessions (Fanout), BroadcastRecipients their recipients.
	Broadcasts, BroadcastRecipients atomic.Int64
}

func (m *Metrics) sessionOpened(websocket bool) {
	m.Sessions.Add(1)
	if websocket {
		m.WebSocketSessions.Add(1)
		m.HandshakesWebSocket.Add(1)
	} else {
		m.HandshakesPolling.Add(1)
	}
}

func (m *Metrics) sessionClosed(reason string, websocket bool) {
	m.Sessions.Add(-1)
	if websocket {
		m.WebSocketSessions.Add(-1)
	}
	m.ClosedSessions.Add(1)
	switch reason {
	case ReasonParseError:
		m.ParseErrors.Add(1)
	case ReasonPingTimeout:
		m.PingTimeouts.Add(1)
	}
}
