package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bytedance/sonic/encoder"
	"github.com/fastio/fastio/codec/jsonstr"
)

// RawJSON is a pre-encoded JSON value, written as is (not validated). An empty RawJSON is written as null.
type RawJSON []byte

// MarshalJSON returns r, or null when r is empty, so that a RawJSON inside a struct is written as is too.
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// RawBinary is a pre-encoded JSON value that holds binary values as placeholders
// {"_placeholder":true,"num":N}, N indexing Attachments: typically an argument received in a binary packet
// and emitted again (see Args.Spread). The Encoder renumbers its placeholders in the order of the packet
// it writes, so each becomes an attachment of that packet. Its JSON must be valid, and each placeholder's
// num an integer below len(Attachments).
type RawBinary struct {
	JSON        RawJSON
	Attachments [][]byte
}

// Encoding errors.
var (
	errNspComma  = errors.New("sio: invalid namespace: must not contain a comma")
	errBadID     = errors.New("sio: invalid acknowledgement id: must be NoID or >= 0")
	errTooDeep   = fmt.Errorf("sio: value nested more than %d deep (cyclic?)", MaxDepth)
	errRawBinary = errors.New("sio: RawBinary: a placeholder does not refer to an attachment")
)

// sonicOpts configures sonic for the values this package does not encode itself: no HTML escaping (as
// JSON.stringify), sorted map keys (deterministic output), NaN and ±Inf as null (as JSON.stringify).
const sonicOpts = encoder.SortMapKeys | encoder.EncodeNullForInfOrNan

// Encoder writes Socket.IO packets. Reuse one per goroutine: it keeps scratch space between calls and is not
// safe for concurrent use. The zero value is ready.
//
// Arguments are written as JSON.stringify would write the equivalent JavaScript values: nil is null; string,
// bool, the integer and float kinds are written by the Encoder itself (floats as JavaScript writes numbers,
// NaN and ±Inf as null; invalid UTF-8 in strings as U+FFFD; no HTML escaping); RawJSON and json.RawMessage as
// given; []any, []string and map[string]any (keys sorted) element by element; a []byte at the top level or inside
// []any, map[string]any or RawBinary becomes a placeholder and an attachment, which makes the packet a
// BINARY_EVENT or BINARY_ACK; anything else (structs, other maps and slices, json.Marshaler) goes through sonic
// with encoding/json's rules (so a []byte field of a struct is base64), its output then adjusted to
// JSON.stringify's string escapes and -0.
type Encoder struct {
	// Attachments holds, after an AppendEvent or AppendAck, the binary attachments of the packet in placeholder
	// order, to be sent after it one binary message each; empty for a text packet. They alias the caller's
	// slices.
	Attachments [][]byte

	binary  bool          // []byte values become attachments (else JSON.stringify's form of a Buffer)
	keys    []string      // map keys being sorted, a stack shared by nested maps
	sonic   []byte        // the output slice handed to sonic by address (a field, so taking it allocates nothing)
	scratch []byte        // copy of sonic output being adjusted
	phs     []placeholder // placeholders of a RawBinary
}

// AppendEvent appends an EVENT packet ["event", args...] for namespace nsp ("/" or "" for the main one) with
// acknowledgement id (NoID for none), or a BINARY_EVENT when args hold binary values, whose attachments are
// then in e.Attachments. It refuses reserved event names (see IsReservedEvent), as the Node.js server does,
// and a namespace with a comma. On error dst is returned unchanged.
func (e *Encoder) AppendEvent(dst []byte, nsp string, id int64, event string, args []any) ([]byte, error) {
	if IsReservedEvent(event) {
		return dst, fmt.Errorf("sio: %q is a reserved event name", event)
	}
	return e.appendArray(dst, Event, nsp, id, event, true, args)
}

// AppendAck appends an ACK packet [args...] for namespace nsp with acknowledgement id, or a BINARY_ACK when
// args hold binary values, whose attachments are then in e.Attachments. On error dst is returned unchanged.
func (e *Encoder) AppendAck(dst []byte, nsp string, id int64, args []any) ([]byte, error) {
	return e.appendArray(dst, Ack, nsp, id, "", false, args)
}

func (e *Encoder) appendArray(dst []byte, t PacketType, nsp string, id int64, name string, hasName bool, args []any) ([]byte, error) {
	if strings.IndexByte(nsp, ',') >= 0 {
		return dst, errNspComma
	}
	if id < NoID {
		return dst, errBadID
	}
	clear(e.Attachments) // drop references to the previous packet's buffers
	e.Attachments = e.Attachments[:0]
	e.binary = true

	start := len(dst)
	dst = appendHeader(dst, t, nsp, id)
	dst = append(dst, '[')
	if hasName {
		dst = appendString(dst, name)
	}
	for i, a := range args {
		if i > 0 || hasName {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = e.appendValue(dst, a, 1); err != nil {
			clear(e.Attachments)
			e.Attachments = e.Attachments[:0]
			return dst[:start], err
		}
	}
	dst = append(dst, ']')

	if n := len(e.Attachments); n > 0 {
		// The attachment count is known only now: turn "2..." into "5<n>-..." by shifting the packet right.
		// This is one memmove of the packet, cheaper than a first pass over the arguments to look for binary.
		var num [24]byte
		ins := append(strconv.AppendInt(num[:0], int64(n), 10), '-')
		dst[start] = '0' + byte(t) + 3 // Event -> BinaryEvent, Ack -> BinaryAck
		dst = append(dst, ins...)
		copy(dst[start+1+len(ins):], dst[start+1:len(dst)-len(ins)])
		copy(dst[start+1:], ins)
	}
	return dst, nil
}

// appendHeader writes the type, the namespace unless it is the main one, and the id unless NoID.
func appendHeader(dst []byte, t PacketType, nsp string, id int64) []byte {
	dst = append(dst, '0'+byte(t))
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// AppendConnect appends the CONNECT packet that grants namespace nsp: 0{"sid":"<sid>"}, or
// 0/admin,{"sid":"<sid>"}. nsp must not contain a comma.
func AppendConnect(dst []byte, nsp string, sid string) []byte {
	return AppendConnectPID(dst, nsp, sid, "")
}

// AppendConnectPID appends the CONNECT packet of a server with connection state recovery, which also gives
// the private session id: 0{"sid":"<sid>","pid":"<pid>"}. With pid empty it is AppendConnect (Node omits an
// undefined pid). nsp must not contain a comma.
func AppendConnectPID(dst []byte, nsp, sid, pid string) []byte {
	dst = appendHeader(dst, Connect, nsp, NoID)
	dst = append(dst, `{"sid":`...)
	dst = appendString(dst, sid)
	if pid != "" {
		dst = append(dst, `,"pid":`...)
		dst = appendString(dst, pid)
	}
	return append(dst, '}')
}

// AppendConnectError appends the CONNECT_ERROR packet that refuses namespace nsp: 4{"message":"<message>"},
// with ,"data":<data> when data is not nil (Node omits an undefined data), e.g.
// 44/x,{"message":"Invalid namespace"} once wrapped by Engine.IO. data is written as AppendJSON writes it.
// On error dst is returned unchanged.
func AppendConnectError(dst []byte, nsp string, message string, data any) ([]byte, error) {
	if strings.IndexByte(nsp, ',') >= 0 {
		return dst, errNspComma
	}
	start := len(dst)
	dst = appendHeader(dst, ConnectError, nsp, NoID)
	dst = append(dst, `{"message":`...)
	dst = appendString(dst, message)
	if data != nil {
		dst = append(dst, `,"data":`...)
		var err error
		if dst, err = AppendJSON(dst, data); err != nil {
			return dst[:start], err
		}
	}
	return append(dst, '}'), nil
}

// AppendDisconnect appends the DISCONNECT packet of namespace nsp: 1, or 1/admin, for a custom namespace.
// nsp must not contain a comma.
func AppendDisconnect(dst []byte, nsp string) []byte {
	return appendHeader(dst, Disconnect, nsp, NoID)
}

// encoderPool serves the package-level functions, which need an Encoder's scratch space.
var encoderPool = sync.Pool{New: func() any { return new(Encoder) }}

// AppendJSON appends v as JSON, with the rules of the Encoder's arguments, except that there is no packet to
// carry attachments: a []byte is written as JSON.stringify writes a Node.js Buffer,
// {"type":"Buffer","data":[1,2,3]} (what Node sends for a Buffer outside of an EVENT or ACK). On error dst is
// returned unchanged.
func AppendJSON(dst []byte, v any) ([]byte, error) {
	e := encoderPool.Get().(*Encoder)
	e.binary = false
	start := len(dst)
	dst, err := e.appendValue(dst, v, 0)
	encoderPool.Put(e)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// appendValue writes one value. depth counts the enclosing []any and maps, to stop on cyclic values
// (JSON.stringify throws on those).
func (e *Encoder) appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendJSFloat(dst, x, 64), nil
	case float32:
		return appendJSFloat(dst, float64(x), 32), nil
	case []byte:
		return e.appendBinary(dst, x), nil
	case RawJSON:
		return appendRaw(dst, x), nil
	case json.RawMessage:
		return appendRaw(dst, x), nil
	case RawBinary:
		return e.appendRawBinary(dst, x)
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= MaxDepth {
			return dst, errTooDeep
		}
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = e.appendValue(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		return e.appendMap(dst, x, depth)
	case []string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	}
	return e.appendSonic(dst, v)
}

func appendRaw(dst, raw []byte) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

// appendBinary writes a placeholder for b and records b as the next attachment, or, outside of a packet that
// can carry attachments, writes b as JSON.stringify writes a Buffer.
func (e *Encoder) appendBinary(dst, b []byte) []byte {
	if !e.binary {
		dst = append(dst, `{"type":"Buffer","data":[`...)
		for i, c := range b {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(c), 10)
		}
		return append(dst, "]}"...)
	}
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(e.Attachments)), 10)
	e.Attachments = append(e.Attachments, b)
	return append(dst, '}')
}

// appendRawBinary copies the JSON of r, its placeholders renumbered as attachments of this packet.
func (e *Encoder) appendRawBinary(dst []byte, r RawBinary) ([]byte, error) {
	if len(r.JSON) == 0 {
		return append(dst, "null"...), nil
	}
	if err := validJSON(r.JSON); err != nil {
		return dst, fmt.Errorf("sio: RawBinary: %w", err)
	}
	phs, _ := findPlaceholders(r.JSON, skipWS(r.JSON, 0), e.phs[:0])
	e.phs = phs[:0]
	prev := 0
	for _, ph := range phs {
		n, ok := ph.index(len(r.Attachments))
		if !ok {
			return dst, errRawBinary
		}
		dst = append(dst, r.JSON[prev:ph.start]...)
		dst = e.appendBinary(dst, r.Attachments[n])
		prev = ph.end
	}
	return append(dst, r.JSON[prev:]...), nil
}

// appendMap writes m with its keys sorted, as sonic does for the other map types.
func (e *Encoder) appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	if depth >= MaxDepth {
		return dst, errTooDeep
	}
	// e.keys is a stack: nested maps push their keys above ours, so index it rather than keep a sub-slice,
	// which a nested append may leave behind on reallocation.
	base := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys[base:])
	defer func() {
		clear(e.keys[base:])
		e.keys = e.keys[:base]
	}()
	dst = append(dst, '{')
	for i := base; i < base+len(m); i++ {
		if i > base {
			dst = append(dst, ',')
		}
		k := e.keys[i]
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = e.appendValue(dst, m[k], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendSonic writes v with sonic, straight into dst, then adjusts the output to JSON.stringify's.
func (e *Encoder) appendSonic(dst []byte, v any) ([]byte, error) {
	mark := len(dst)
	e.sonic = dst
	err := encoder.EncodeInto(&e.sonic, v, sonicOpts)
	dst, e.sonic = e.sonic, nil
	if err != nil {
		return dst[:mark], fmt.Errorf("sio: encoding %T: %w", v, err)
	}
	return e.fixSonic(dst, mark), nil
}

// fixSonic rewrites what sonic writes differently from JSON.stringify in dst[mark:]: the escapes \u0008 and
// \u000c (JSON.stringify: \b and \f), the number -0 (JSON.stringify: 0), and invalid UTF-8, which sonic copies
// (JavaScript strings hold U+FFFD instead).
func (e *Encoder) fixSonic(dst []byte, mark int) []byte {
	out := dst[mark:]
	if !bytes.Contains(out, []byte(`\u000`)) && !bytes.Contains(out, []byte("-0")) && utf8.Valid(out) {
		return dst // the common case: nothing to adjust
	}
	src := append(e.scratch[:0], out...)
	e.scratch = src[:0]
	dst = dst[:mark]
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			dst = append(dst, '"')
			i++
			for i < len(src) {
				c := src[i]
				if c == '"' {
					break
				}
				switch {
				case c == '\\' && src[i+1] == 'u' && string(src[i+2:i+6]) == "0008":
					dst = append(dst, `\b`...)
					i += 6
				case c == '\\' && src[i+1] == 'u' && string(src[i+2:i+6]) == "000c":
					dst = append(dst, `\f`...)
					i += 6
				case c == '\\':
					dst = append(dst, c, src[i+1])
					i += 2
				case c >= utf8.RuneSelf:
					r, size := utf8.DecodeRune(src[i:])
					if r == utf8.RuneError && size == 1 {
						dst = append(dst, "\uFFFD"...)
					} else {
						dst = append(dst, src[i:i+size]...)
					}
					i += size
				default:
					dst = append(dst, c)
					i++
				}
			}
			dst = append(dst, '"')
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '0' && (i+2 == len(src) || !isNumberByte(src[i+2])):
			dst = append(dst, '0')
			i += 2
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// appendString writes s quoted as JSON.stringify quotes strings (see package jsonstr).
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }
