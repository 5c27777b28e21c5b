// Package wsframe implements server-side RFC 6455 WebSocket framing directly
// on a connection's raw inbound bytes.
//
// The event loop hands a Decoder whatever bytes it has buffered for a
// connection; the Decoder parses at most one frame per call from the start of
// that slice, unmasks the payload in place and returns a Message that aliases
// the input, so an unfragmented message costs no allocation and no copy.
// Fragmented messages are reassembled into a buffer borrowed from
// bytebufferpool only while the message is in progress.
//
// The package assumes no extension was negotiated: any RSV bit is a protocol
// error. Frames written by the server (AppendFrame, AppendHeader, AppendClose)
// are never masked.
package wsframe

import "strconv"

// Close status codes (RFC 6455 §7.4.1) used by this package and by callers
// when closing a connection.
const (
	// CloseNormal is a normal closure: the purpose of the connection is done.
	CloseNormal uint16 = 1000
	// CloseGoingAway means the endpoint is going away (server shutdown,
	// browser navigating away).
	CloseGoingAway uint16 = 1001
	// CloseProtocolError means the peer violated the WebSocket protocol.
	CloseProtocolError uint16 = 1002
	// CloseUnsupportedData means the endpoint received a data type it cannot
	// accept (for example binary where only text is understood).
	CloseUnsupportedData uint16 = 1003
	// CloseInvalidPayload means message data was inconsistent with its type,
	// such as a text message that is not valid UTF-8.
	CloseInvalidPayload uint16 = 1007
	// ClosePolicyViolation means a message violated the endpoint's policy.
	ClosePolicyViolation uint16 = 1008
	// CloseTooBig means a message was too big to process.
	CloseTooBig uint16 = 1009
	// CloseInternalError means the server hit an unexpected condition.
	CloseInternalError uint16 = 1011
)

// closeNoStatus is the code reported for a close frame without a body
// (RFC 6455 §7.1.5). It must never be sent on the wire.
const closeNoStatus uint16 = 1005

// CloseError is a protocol failure that must close the connection with Code
// (RFC 6455 §7.4). Reason is a short human-readable explanation that fits in
// a close frame.
type CloseError struct {
	Code   uint16
	Reason string
}

// Error implements error.
func (e *CloseError) Error() string {
	return "wsframe: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// The errors Decode returns. They are allocated once so that rejecting a
// hostile peer costs no allocation; callers must treat them as read-only.
var (
	errReservedBits = &CloseError{
		Code:   CloseProtocolError,
		Reason: "reserved bits set without a negotiated extension",
	}
	errReservedOpcode = &CloseError{
		Code:   CloseProtocolError,
		Reason: "reserved opcode",
	}
	errNotMasked = &CloseError{
		Code:   CloseProtocolError,
		Reason: "client frame is not masked",
	}
	errControlFragmented = &CloseError{
		Code:   CloseProtocolError,
		Reason: "fragmented control frame",
	}
	errControlTooLong = &CloseError{
		Code:   CloseProtocolError,
		Reason: "control frame payload longer than 125 bytes",
	}
	errUnexpectedContinuation = &CloseError{
		Code:   CloseProtocolError,
		Reason: "continuation frame without a message in progress",
	}
	errInterleavedData = &CloseError{
		Code:   CloseProtocolError,
		Reason: "new data frame while a fragmented message is in progress",
	}
	errLengthHighBit = &CloseError{
		Code:   CloseProtocolError,
		Reason: "64-bit payload length has its most significant bit set",
	}
	errCloseOneByte = &CloseError{
		Code:   CloseProtocolError,
		Reason: "close frame payload of 1 byte",
	}
	errCloseCode = &CloseError{
		Code:   CloseProtocolError,
		Reason: "invalid close code",
	}
	errCloseReason = &CloseError{
		Code:   CloseInvalidPayload,
		Reason: "close reason is not valid UTF-8",
	}
	errInvalidUTF8 = &CloseError{
		Code:   CloseInvalidPayload,
		Reason: "text message is not valid UTF-8",
	}
	errTooBig = &CloseError{
		Code:   CloseTooBig,
		Reason: "message exceeds the size limit",
	}
)

// validCloseCode reports whether a peer may send code in a close frame.
//
// Accepted: the codes RFC 6455 §7.4.1 defines for use on the wire (1000-1003,
// 1007-1011) and the registered/private ranges 3000-4999 (§7.4.2). Rejected:
// everything below 1000, the codes that must never be sent (1004 reserved,
// 1005, 1006, 1015), and the rest of 1000-2999, which is reserved for future
// protocol revisions. 1012-1014 are IANA-registered but not defined by any
// RFC and browsers never send them as a client, so they stay rejected.
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
