// Package sio is the Socket.IO v5 protocol codec (the protocol of Socket.IO v3 and v4): packet decoding with
// the exact acceptance rules of the Node.js parser (socket.io-parser 4.2.x, as used by socket.io 4.8), lazy
// argument access, binary attachment reassembly, and allocation-free packet encoding whose JSON is byte for
// byte what Node's JSON.stringify writes.
//
// A text packet is
//
//	<type>[<attachments>-][<namespace>,][<id>][<JSON payload>]
//
// and a binary packet (BINARY_EVENT, BINARY_ACK) is followed by its attachments, one binary message each.
package sio

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// PacketType is the type of a Socket.IO packet, the first character of its text form.
type PacketType byte

// The packet types of the Socket.IO v5 protocol.
const (
	Connect      PacketType = 0 // join a namespace; the server answers with Connect or ConnectError
	Disconnect   PacketType = 1 // leave a namespace
	Event        PacketType = 2 // an event: ["name", args...]
	Ack          PacketType = 3 // the acknowledgement of an event: [args...]
	ConnectError PacketType = 4 // a refused namespace connection
	BinaryEvent  PacketType = 5 // an event with binary attachments
	BinaryAck    PacketType = 6 // an acknowledgement with binary attachments
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol name of the type, as the Node.js parser spells it (e.g. "BINARY_EVENT").
func (t PacketType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// NoID is the ID of a packet that carries no acknowledgement id.
const NoID int64 = -1

// DefaultMaxAttachments is the number of binary attachments Decode accepts in one packet: the default of the
// Node.js parser (socket.io-parser 4.2.6 and later) is 10.
const DefaultMaxAttachments = 10

// MaxDepth is how deeply JSON arrays and objects may nest in a payload. The Node.js parser has no such limit
// (V8's JSON.parse is not recursive), but a recursive decoder needs one; no real payload comes near it.
const MaxDepth = 1000

// Packet is a decoded text packet; its slices alias the decoded buffer.
type Packet struct {
	Type PacketType
	// Namespace is "/" when absent. The "/" of a packet without namespace is shared: do not modify it.
	Namespace []byte
	// ID is the acknowledgement id, NoID when absent.
	ID int64
	// Attachments is the number of binary attachments announced by a BINARY_EVENT or BINARY_ACK ("51-..."),
	// 0 for the other types.
	Attachments int
	// Data is the raw JSON payload, nil when absent. It is valid JSON and valid for the packet type; it may
	// end with JSON whitespace.
	Data []byte
}

// ErrInvalidPacket is wrapped by every error of this package about malformed input: a text packet that
// does not decode, a payload that is not valid JSON, an unexpected binary frame, an illegal attachment.
var ErrInvalidPacket = errors.New("invalid packet")

// Decode errors are allocated once: Decode runs for every packet received.
var (
	errUnknownType     = invalid("unknown packet type")
	errAttachments     = invalid("illegal attachments")
	errTooMany         = invalid("too many attachments")
	errID              = invalid("acknowledgement id is not an integer in the int64 range")
	errUTF8            = invalid("packet is not valid UTF-8")
	errPayload         = invalid("invalid payload")
	errJSON            = invalid("payload is not valid JSON")
	errDepth           = invalid("JSON nested too deeply")
	errUnexpectedBin   = invalid("unexpected binary frame")
	errNotArray        = invalid("payload is not a JSON array")
	errNoEventName     = invalid("event payload has no name (its first element must be a string or a number)")
	errIllegalPlaceVal = invalid("illegal attachments: a placeholder num is out of range")
)

func invalid(msg string) error { return fmt.Errorf("sio: %s: %w", msg, ErrInvalidPacket) }

// slashNsp is the Namespace of packets without one.
var slashNsp = []byte{'/'}

// IsReservedEvent reports whether name is one of the event names that Socket.IO reserves, which the Node.js
// parser refuses in an EVENT payload and the Node.js server refuses to emit: "connect", "connect_error",
// "disconnect", "disconnecting", "newListener" and "removeListener".
func IsReservedEvent(name string) bool {
	switch name { // a switch compiles to a search by length first: cheap for the common, longer or shorter names
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener":
		return true
	}
	return false
}

// Decode decodes a text packet, accepting at most DefaultMaxAttachments attachments. See DecodeLimit.
func Decode(b []byte) (Packet, error) { return DecodeLimit(b, DefaultMaxAttachments) }

// DecodeLimit decodes a text packet. It accepts and rejects what the Node.js parser (socket.io-parser 4.2.7)
// accepts and rejects, with maxAttachments as its maxAttachments option, except where noted:
//
//   - The type is one digit 0-6. As in Node, where the type is read with JavaScript's Number(), an empty
//     packet, or one that starts with a whitespace character, is a CONNECT.
//   - A binary type is followed by its attachment count and '-'; the count is read as JavaScript's Number()
//     reads it ("1", " 1", "1.0", "0x1" all mean 1) and must be an integer from 1 to maxAttachments.
//   - A namespace starts with '/' and ends at the first ',' (excluded) or at the end of the packet, so
//     "40/custom" and "40/custom," both join "/custom".
//   - The id is the run of digits that follows; like Node, which reads it with Number(), whitespace
//     characters count as digits and an id of whitespace only is 0. Node accepts ids that are not integers
//     ("1 2" reads as NaN) or that overflow; Decode rejects an id that is not an integer in the int64 range.
//   - Whatever follows must be valid JSON (JSON.parse: leading and trailing whitespace allowed), valid for the
//     type: absent or an object for CONNECT; absent for DISCONNECT; absent, a string or an object for
//     CONNECT_ERROR; absent or an array for ACK and BINARY_ACK; absent or a non-empty array whose first
//     element is a number or a string other than a reserved event name (see IsReservedEvent) for EVENT and
//     BINARY_EVENT. Note that Node's parser accepts an EVENT or ACK without payload.
//   - The packet must be valid UTF-8 (a WebSocket text frame must be; Node's HTTP long-polling would replace
//     invalid bytes with U+FFFD instead), and JSON may nest at most MaxDepth deep.
//
// Every error wraps ErrInvalidPacket. Decode does not allocate.
func DecodeLimit(b []byte, maxAttachments int) (Packet, error) {
	p := Packet{Namespace: slashNsp, ID: NoID}
	if !utf8.Valid(b) {
		return p, errUTF8
	}
	if len(b) == 0 {
		return p, nil // Number("") is 0: Node decodes an empty packet as a CONNECT
	}

	// Type.
	i := 1
	switch c := b[0]; {
	case c >= '0' && c <= '6':
		p.Type = PacketType(c - '0')
	default:
		r, size := utf8.DecodeRune(b)
		if !isJSSpace(r) {
			return p, errUnknownType
		}
		p.Type, i = Connect, size // Number(" ") is 0 too
	}

	// Attachment count: up to the first '-'.
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := i
		for j < len(b) && b[j] != '-' {
			j++
		}
		if j == len(b) {
			return p, errAttachments
		}
		// Node: Number(count) must be an integer (Number.isInteger: not NaN, not ±Infinity) and at least 1.
		n, ok := jsNumber(b[i:j])
		if !ok || math.IsInf(n, 0) || n != math.Trunc(n) || n < 1 {
			return p, errAttachments
		}
		if n > float64(maxAttachments) {
			return p, errTooMany
		}
		p.Attachments = int(n)
		i = j + 1
	}

	// Namespace: from a '/' to the first ',' or the end.
	if i < len(b) && b[i] == '/' {
		j := i
		for j < len(b) && b[j] != ',' {
			j++
		}
		p.Namespace = b[i:j]
		i = j + 1 // past the comma (or past the end)
		if i > len(b) {
			i = len(b)
		}
	}

	// Id: digits, and whitespace, which JavaScript's Number() accepts too.
	j := i
	for j < len(b) {
		if c := b[j]; c >= '0' && c <= '9' {
			j++
			continue
		} else if c < utf8.RuneSelf {
			if !isJSSpace(rune(c)) {
				break // the usual end of the id: '[' or '{' or '"'
			}
			j++
			continue
		}
		r, size := utf8.DecodeRune(b[j:])
		if !isJSSpace(r) {
			break
		}
		j += size
	}
	if j > i {
		id, ok := parseID(b[i:j])
		if !ok {
			return p, errID
		}
		p.ID = id
		i = j
	}

	// Payload.
	if i < len(b) {
		p.Data = b[i:]
		if err := validatePayload(p.Type, p.Data); err != nil {
			return p, err
		}
	}
	return p, nil
}

// validatePayload checks that data is one JSON value, valid for the packet type (isPayloadValid in Node).
func validatePayload(t PacketType, data []byte) error {
	start, err := scanOne(data)
	if err != nil {
		return err
	}
	kind := data[start]
	switch t {
	case Connect:
		if kind == '{' {
			return nil
		}
	case ConnectError:
		if kind == '{' || kind == '"' {
			return nil
		}
	case Ack, BinaryAck:
		if kind == '[' {
			return nil
		}
	case Event, BinaryEvent:
		if kind != '[' {
			return errPayload
		}
		// The first element must be a number, or a string that is not a reserved event name.
		k := skipWS(data, start+1)
		switch c := data[k]; {
		case c == '-' || (c >= '0' && c <= '9'):
			return nil
		case c == '"':
			e, _ := scanString(data, k)
			if !isReservedRaw(data[k+1 : e-1]) {
				return nil
			}
		}
	}
	return errPayload
}

// isReservedRaw reports whether the raw content of a JSON string (between its quotes, escapes not decoded)
// is a reserved event name. It compares the decoded text, as Node does: "conn\u0065ct" is "connect".
func isReservedRaw(raw []byte) bool {
	// A reserved name is at most 14 bytes and an escape is at most 6 bytes, so longer raw text cannot decode
	// to one: the decoded copy below then always fits the stack buffer and nothing allocates.
	if len(raw) > 6*len("removeListener") {
		return false
	}
	var tmp [6 * 14]byte
	s := raw
	if bytes.IndexByte(raw, '\\') >= 0 {
		s = appendUnquoted(tmp[:0], raw)
	}
	// Short enough for the conversion to use a stack buffer rather than allocate.
	return len(s) <= len("removeListener") && IsReservedEvent(string(s))
}

// parseID reads an acknowledgement id made of ASCII digits and JavaScript whitespace, as Number() reads it:
// surrounding whitespace is ignored, whitespace only is 0, whitespace between digits is NaN (refused here).
func parseID(s []byte) (int64, bool) {
	s = trimJSSpace(s)
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false // whitespace between digits: NaN in JavaScript
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false // beyond int64; JavaScript would round it to a float
		}
		n = n*10 + d
	}
	return n, true
}

// AppendPacket appends the text form of p: the header from its fields and its Data as is. It is the way to
// relay a decoded packet unchanged. The namespace "/" (or empty) is omitted, an ID below 0 is omitted, and
// Attachments is written for the binary types only. The caller guarantees that the namespace contains no ','
// and that Data is valid for the type.
func AppendPacket(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if len(p.Namespace) > 0 && !(len(p.Namespace) == 1 && p.Namespace[0] == '/') {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
