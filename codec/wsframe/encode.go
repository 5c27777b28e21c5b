package wsframe

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// HeaderLen returns the size of an unmasked (server) frame header for a
// payload of length bytes: 2, 4 or 10.
func HeaderLen(length int) int {
	switch {
	case length <= maxControlPayload:
		return 2
	case length <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendHeader appends an unmasked frame header for a payload of length bytes
// to dst and returns the extended slice. The length uses the shortest
// encoding (RFC 6455 §5.2). It panics if length is negative.
func AppendHeader(dst []byte, op ws.OpCode, fin bool, length int) []byte {
	if length < 0 {
		panic("wsframe: negative payload length")
	}
	b0 := byte(op) & bitsOpcode
	if fin {
		b0 |= bitFin
	}
	switch {
	case length <= maxControlPayload:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(length))
	}
}

// AppendFrame appends a complete unmasked frame with FIN set (header and
// payload) to dst and returns the extended slice. It does not allocate when
// dst has room for HeaderLen(len(payload)) + len(payload) more bytes.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	return append(AppendHeader(dst, op, true, len(payload)), payload...)
}

// AppendClose appends a close frame to dst and returns the extended slice.
// Code 0 produces an empty payload. Otherwise the payload is the code
// followed by reason, cut at a UTF-8 boundary so that the payload fits the
// 125-byte control frame limit. The caller must pick a code that may be sent
// (not 1005, 1006 or 1015).
func AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == 0 {
		return append(dst, bitFin|byte(ws.OpClose), 0)
	}
	if len(reason) > maxControlPayload-2 {
		cut := maxControlPayload - 2
		// Back up to the start of the code point that straddles the limit.
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = append(dst, bitFin|byte(ws.OpClose), byte(2+len(reason)))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}

// ClosePayload splits a received close frame payload into its status code
// and reason. An empty payload yields code 1005 (no status received, RFC 6455
// §7.1.5) and a nil reason; so does a 1-byte payload, which Decode never
// returns. The reason aliases p.
func ClosePayload(p []byte) (code uint16, reason []byte) {
	if len(p) < 2 {
		return closeNoStatus, nil
	}
	return binary.BigEndian.Uint16(p), p[2:]
}
