// Package eio encodes and decodes Engine.IO protocol version 4 packets.
//
// An Engine.IO packet is a one-byte type ('0' to '6') followed by optional
// data. Over WebSocket each packet travels in its own frame: a text packet is
// a text frame holding the type digit and the data, and a binary message is a
// binary frame holding only the raw bytes, with no type prefix. Over HTTP
// long-polling several packets are joined into one payload with the record
// separator 0x1e, and a binary message inside a payload is written as 'b'
// followed by the standard (padded) base64 encoding of its bytes.
//
// A WebSocket binary frame needs no decoding: it is
// Packet{Type: Message, Data: frame, Binary: true}, and it is sent as is.
//
// Every function here either appends to a caller-supplied slice or decodes in
// place, so that the hot paths do not allocate.
package eio

import (
	"errors"
	"fmt"
	"strconv"
)

// PacketType is the type of an Engine.IO packet. Its value is the ASCII digit
// that starts the packet on the wire, so it can be appended directly.
type PacketType byte

// The Engine.IO v4 packet types.
const (
	// Open is sent by the server to start a session; its data is the
	// handshake JSON written by AppendOpen.
	Open PacketType = '0'
	// Close asks the other side to close the transport.
	Close PacketType = '1'
	// Ping is sent by the server for the heartbeat, and by the client with
	// data "probe" when it tests a WebSocket during an upgrade.
	Ping PacketType = '2'
	// Pong answers Ping, echoing its data ("probe" during an upgrade).
	Pong PacketType = '3'
	// Message carries application data (text or binary).
	Message PacketType = '4'
	// Upgrade is sent by the client to complete an upgrade to WebSocket.
	Upgrade PacketType = '5'
	// Noop is sent to a pending polling request to release it during an
	// upgrade.
	Noop PacketType = '6'
)

// String returns the protocol name of the type ("open", "message", ...), or
// "PacketType(n)" for a byte that is not a packet type.
func (t PacketType) String() string {
	switch t {
	case Open:
		return "open"
	case Close:
		return "close"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	case Message:
		return "message"
	case Upgrade:
		return "upgrade"
	case Noop:
		return "noop"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// valid reports whether t is one of the seven packet types.
func (t PacketType) valid() bool { return t >= Open && t <= Noop }

// Packet is one decoded Engine.IO packet.
//
// Decoding functions make Data alias the input buffer rather than copying it:
// Data is only valid for as long as the caller keeps that buffer unchanged.
type Packet struct {
	// Type is the packet type. A binary packet is always a Message.
	Type PacketType
	// Data is the packet data without the type byte; it may be empty.
	Data []byte
	// Binary reports that Data is raw binary data (a WebSocket binary frame,
	// or a 'b'+base64 packet in a polling payload) rather than text.
	Binary bool
}

// Separator is the record separator that joins the packets of an HTTP
// long-polling payload.
const Separator = 0x1e

// ErrInvalidPacket is the error wrapped (with context, see errors.Is) by
// every decoding failure of this package.
var ErrInvalidPacket = errors.New("invalid Engine.IO packet")

// DecodeText decodes one text packet, such as a WebSocket text frame:
// "4hello", "2probe" or "6". The returned Data aliases b[1:].
//
// An empty input or a first byte that is not a packet type ('0' to '6')
// returns an error wrapping ErrInvalidPacket. The data is not checked for
// valid UTF-8; the WebSocket layer is responsible for text frames.
func DecodeText(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("eio: empty packet: %w", ErrInvalidPacket)
	}
	t := PacketType(b[0])
	if !t.valid() {
		return Packet{}, fmt.Errorf("eio: unknown packet type %q: %w", b[0], ErrInvalidPacket)
	}
	return Packet{Type: t, Data: b[1:]}, nil
}

// AppendText appends the text encoding of a packet (the type digit followed
// by data) to dst and returns the extended slice. The caller must pass one of
// the packet type constants; t is written as is.
func AppendText(dst []byte, t PacketType, data []byte) []byte {
	dst = append(dst, byte(t))
	return append(dst, data...)
}
