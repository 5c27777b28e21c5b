package eio

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/fastio/fastio/codec/jsonstr"
)

// AppendOpen appends the open packet that starts a session to dst and
// returns the extended slice. The JSON is written exactly as the Node.js
// server writes it (JSON.stringify, no spaces, keys in this order):
//
//	0{"sid":"...","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//
// pingInterval and pingTimeout are written in whole milliseconds (truncated).
// A nil or empty upgrades list is written as [].
func AppendOpen(dst []byte, sid string, upgrades []string, pingInterval, pingTimeout time.Duration, maxPayload int) []byte {
	dst = append(dst, byte(Open))
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, sid)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, pingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, pingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(maxPayload), 10)
	return append(dst, '}')
}

// ErrorCode is an Engine.IO error code, sent in the JSON body of an HTTP 400
// (or 403) response when a request is rejected.
type ErrorCode int

// The Engine.IO server error codes.
const (
	// CodeUnknownTransport: the transport query parameter is missing or not
	// supported.
	CodeUnknownTransport ErrorCode = 0
	// CodeUnknownSID: the sid query parameter names no live session.
	CodeUnknownSID ErrorCode = 1
	// CodeBadHandshakeMethod: a handshake request used a method other than
	// GET.
	CodeBadHandshakeMethod ErrorCode = 2
	// CodeBadRequest: the request is malformed or not allowed in the current
	// session state.
	CodeBadRequest ErrorCode = 3
	// CodeForbidden: the application refused the request.
	CodeForbidden ErrorCode = 4
	// CodeUnsupportedProtocolVersion: the EIO query parameter is not 4.
	CodeUnsupportedProtocolVersion ErrorCode = 5
)

// Message returns the standard message for the code, as the Node.js server
// sends it ("Transport unknown", ...), or "" for an unknown code.
func (c ErrorCode) Message() string {
	switch c {
	case CodeUnknownTransport:
		return "Transport unknown"
	case CodeUnknownSID:
		return "Session ID unknown"
	case CodeBadHandshakeMethod:
		return "Bad handshake method"
	case CodeBadRequest:
		return "Bad request"
	case CodeForbidden:
		return "Forbidden"
	case CodeUnsupportedProtocolVersion:
		return "Unsupported protocol version"
	}
	return ""
}

// AppendErrorJSON appends the Engine.IO HTTP error body
// {"code":N,"message":"..."} to dst and returns the extended slice. The
// message is escaped as a JSON string; pass code.Message() for the standard
// text.
func AppendErrorJSON(dst []byte, code ErrorCode, message string) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, message)
	return append(dst, '}')
}

// sidBytes is the number of random bytes in a session ID. 15 bytes encode to
// exactly 20 base64 characters with no padding, the length Node.js uses.
const sidBytes = 15

// NewSID returns a new random session ID: 20 URL-safe characters
// (A-Z a-z 0-9 - _), the base64url encoding of 15 bytes from crypto/rand.
func NewSID() string {
	var raw [sidBytes]byte
	var out [sidBytes / 3 * 4]byte
	// Since Go 1.24 crypto/rand.Read never returns an error: it aborts the
	// program if the system's random source fails.
	_, _ = rand.Read(raw[:])
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// appendJSONString appends s as a JSON string literal, escaped as JSON.stringify does (see package jsonstr).
func appendJSONString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }
