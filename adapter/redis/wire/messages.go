// Package wire is the protocol of @socket.io/redis-adapter 8.x and @socket.io/redis-emitter 5.x: channel names
// and the messages fastio nodes, Node.js socket.io nodes and emitters exchange over Redis. The Go adapter
// (package redisadapter) and the Go emitter (package emitter) share it.
//
// Broadcasts go to the channel "<key>#<nsp>#" (or "<key>#<nsp>#<room>#" when they target exactly one room)
// as the msgpack array [uid, packet, opts]: packet is a socket.io-parser packet {type: 2, data: [event,
// ...args], nsp}, opts {rooms, except, flags}. Requests between nodes go to "<key>-request#<nsp>#", as JSON
// (msgpack for a broadcast with acknowledgements, which may carry binary), and responses to
// "<key>-response#<nsp>#" (or "<key>-response#<nsp>#<requester uid>#" with publishOnSpecificResponseChannel).
// The number of nodes is the number of subscribers of the request channel (PUBSUB NUMSUB).
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fastio/fastio/codec/sio"
)

// RequestType is the type of a request or response between nodes.
type RequestType int

// The request types of @socket.io/redis-adapter.
const (
	TypeSockets              RequestType = 0
	TypeAllRooms             RequestType = 1
	TypeRemoteJoin           RequestType = 2
	TypeRemoteLeave          RequestType = 3
	TypeRemoteDisconnect     RequestType = 4
	TypeRemoteFetch          RequestType = 5
	TypeServerSideEmit       RequestType = 6
	TypeBroadcast            RequestType = 7
	TypeBroadcastClientCount RequestType = 8
	TypeBroadcastAck         RequestType = 9
)

// EmitterUID is the uid the emitters put in their messages.
const EmitterUID = "emitter"

// DefaultKey is the default channel prefix.
const DefaultKey = "socket.io"

// Channels are the channel names of one namespace.
type Channels struct {
	Broadcast string // <key>#<nsp>#
	Request   string // <key>-request#<nsp>#
	Response  string // <key>-response#<nsp>#
}

// ChannelsFor returns the channels of namespace nsp under key (DefaultKey when empty).
func ChannelsFor(key, nsp string) Channels {
	if key == "" {
		key = DefaultKey
	}
	return Channels{
		Broadcast: key + "#" + nsp + "#",
		Request:   key + "-request#" + nsp + "#",
		Response:  key + "-response#" + nsp + "#",
	}
}

// BroadcastChannel returns the channel of a broadcast to rooms: the room's own channel for exactly one room.
func (c Channels) BroadcastChannel(rooms []string) string {
	if len(rooms) == 1 {
		return c.Broadcast + rooms[0] + "#"
	}
	return c.Broadcast
}

// SpecificResponse returns the response channel of the node with the given uid.
func (c Channels) SpecificResponse(uid string) string { return c.Response + uid + "#" }

// Pattern returns the PSUBSCRIBE pattern of the broadcast channels, glob characters of the prefix escaped.
func (c Channels) Pattern() string {
	var b strings.Builder
	for _, r := range c.Broadcast {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('*')
	return b.String()
}

// Flags are the broadcast flags of socket.io.
type Flags struct {
	Volatile bool
	Compress *bool
	Local    bool
	// Timeout is the acknowledgement timeout (0: none).
	Timeout time.Duration
}

// Opts select the sockets of a broadcast or request.
type Opts struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// Broadcast is a message of the broadcast channels.
type Broadcast struct {
	UID   string
	Nsp   string // the packet's namespace ("/" when absent, as the Node.js adapter assumes)
	Event string
	// Args are the event's arguments, ready to emit again: sio.RawJSON, []byte (a binary argument) or
	// sio.RawBinary (an argument with binary values inside). They alias the message.
	Args []any
	Opts Opts
}

// Errors of the decoders.
var (
	ErrNotArray  = errors.New("wire: broadcast is not a msgpack array")
	ErrNoPacket  = errors.New("wire: broadcast without packet")
	ErrEventName = errors.New("wire: packet data without an event name")
)

// EncodeEvent encodes an event as the msgpack array [event, args...] of a packet's data. Arguments are taken as
// the sio.Encoder takes them (so a []byte is binary, a struct goes through its JSON form) and written as
// notepack.io writes the JavaScript values socket.io-parser would decode from that packet. enc is scratch space.
func EncodeEvent(dst []byte, enc *sio.Encoder, event string, args []any) ([]byte, error) {
	text, err := enc.AppendEvent(nil, "/", sio.NoID, event, args)
	if err != nil {
		return dst, err
	}
	out, err := transcodePacket(dst, enc, text, false)
	if err != nil {
		return dst, fmt.Errorf("wire: encoding %q: %w", event, err)
	}
	return out, nil
}

// EncodeValue encodes one value as EncodeEvent encodes an argument.
func EncodeValue(dst []byte, enc *sio.Encoder, v any) ([]byte, error) {
	text, err := enc.AppendAck(nil, "/", 0, []any{v})
	if err != nil {
		return dst, err
	}
	return transcodePacket(dst, enc, text, true)
}

// transcodePacket appends the msgpack of the JSON array of text, a packet enc has just encoded (only the array's
// first element with first), and empties enc.Attachments.
func transcodePacket(dst []byte, enc *sio.Encoder, text []byte, first bool) ([]byte, error) {
	i := bytes.IndexByte(text, '[')
	if i < 0 {
		return dst, errJSON
	}
	if first {
		i++
	}
	out, _, err := JSONToMsgpack(dst, text[i:], enc.Attachments)
	clear(enc.Attachments)
	enc.Attachments = enc.Attachments[:0]
	return out, err
}

// AppendPacket appends the socket.io-parser packet {type: 2, data, nsp} around data, a msgpack array.
func AppendPacket(dst []byte, nsp string, data []byte) []byte {
	dst = AppendMapHeader(dst, 3)
	dst = AppendString(dst, "type")
	dst = AppendInt(dst, 2)
	dst = AppendString(dst, "data")
	dst = append(dst, data...)
	dst = AppendString(dst, "nsp")
	return AppendString(dst, nsp)
}

func appendStrings(dst []byte, list []string) []byte {
	dst = AppendArrayHeader(dst, len(list))
	for _, s := range list {
		dst = AppendString(dst, s)
	}
	return dst
}

// appendOpts appends {rooms, except, flags} as the Node.js adapter writes them.
func appendOpts(dst []byte, o Opts) []byte {
	dst = AppendMapHeader(dst, 3)
	dst = AppendString(dst, "rooms")
	dst = appendStrings(dst, o.Rooms)
	dst = AppendString(dst, "except")
	dst = appendStrings(dst, o.Except)
	dst = AppendString(dst, "flags")
	n := 0
	if o.Flags.Volatile {
		n++
	}
	if o.Flags.Compress != nil {
		n++
	}
	if o.Flags.Timeout > 0 {
		n++
	}
	dst = AppendMapHeader(dst, n)
	if o.Flags.Compress != nil {
		dst = AppendString(dst, "compress")
		dst = AppendBool(dst, *o.Flags.Compress)
	}
	if o.Flags.Volatile {
		dst = AppendString(dst, "volatile")
		dst = AppendBool(dst, true)
	}
	if o.Flags.Timeout > 0 {
		dst = AppendString(dst, "timeout")
		dst = AppendInt(dst, o.Flags.Timeout.Milliseconds())
	}
	return dst
}

// AppendBroadcast appends the broadcast message [uid, {type: 2, data, nsp}, {rooms, except, flags}], data being
// the msgpack array [event, args...] (see EncodeEvent).
func AppendBroadcast(dst []byte, uid, nsp string, data []byte, o Opts) []byte {
	dst = AppendArrayHeader(dst, 3)
	dst = AppendString(dst, uid)
	dst = AppendPacket(dst, nsp, data)
	return appendOpts(dst, o)
}

// DecodeBroadcast decodes a message of the broadcast channels.
func DecodeBroadcast(b []byte) (*Broadcast, error) {
	it, off, err := readItem(b, 0)
	if err != nil {
		return nil, err
	}
	if it.kind != kArray {
		return nil, ErrNotArray
	}
	if it.n < 2 {
		return nil, ErrNoPacket
	}
	m := &Broadcast{Nsp: "/"}
	if m.UID, off, err = readScalarString(b, off); err != nil {
		return nil, err
	}
	// packet
	p, off2, err := readItem(b, off)
	if err != nil {
		return nil, err
	}
	if p.kind != kMap {
		return nil, ErrNoPacket
	}
	off = off2
	hasData := false
	for range p.n {
		key, isStr, next, err := readKey(b, off)
		if err != nil {
			return nil, err
		}
		if !isStr {
			key = nil
		}
		switch string(key) {
		case "data":
			if m.Event, m.Args, off, err = DecodeEvent(b, next); err != nil {
				return nil, err
			}
			hasData = true
			continue
		case "nsp":
			v, n2, err := readItem(b, next)
			if err != nil {
				return nil, err
			}
			if v.kind == kStr {
				m.Nsp = string(v.span)
				off = n2
				continue
			}
		}
		if off, err = skip(b, next, 1); err != nil {
			return nil, err
		}
	}
	if !hasData {
		return nil, ErrEventName
	}
	if it.n >= 3 {
		if m.Opts, off, err = decodeOpts(b, off); err != nil {
			return nil, err
		}
	}
	for i := 3; i < it.n; i++ {
		if off, err = skip(b, off, 1); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// readScalarString reads a string, or the string JavaScript makes of a number; other values give "".
func readScalarString(b []byte, off int) (string, int, error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return "", next, err
	}
	switch it.kind {
	case kStr:
		return string(it.span), next, nil
	case kInt:
		return strconv.FormatInt(it.i, 10), next, nil
	case kUint:
		return string(appendJSNumberString(nil, float64(it.u))), next, nil
	case kFloat:
		return string(appendJSNumberString(nil, it.f)), next, nil
	}
	next, err = skip(b, off, 1)
	return "", next, err
}

// readKey reads a map key: its bytes when it is a string (ok true), and the offset of the value.
func readKey(b []byte, off int) (key []byte, ok bool, value int, err error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return nil, false, next, err
	}
	if it.kind == kStr {
		return it.span, true, next, nil
	}
	next, err = skip(b, off, 1)
	return nil, false, next, err
}

func decodeStringList(b []byte, off int) ([]string, int, error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return nil, next, err
	}
	if it.kind != kArray {
		// Node.js makes a Set of whatever it gets: anything but an array selects nothing useful.
		n, err := skip(b, off, 1)
		return nil, n, err
	}
	list := make([]string, 0, it.n)
	for range it.n {
		var s string
		if s, next, err = readScalarString(b, next); err != nil {
			return nil, next, err
		}
		list = append(list, s)
	}
	return list, next, nil
}

func decodeOpts(b []byte, off int) (Opts, int, error) {
	var o Opts
	it, next, err := readItem(b, off)
	if err != nil {
		return o, next, err
	}
	if it.kind != kMap {
		n, err := skip(b, off, 1)
		return o, n, err
	}
	for range it.n {
		key, isStr, vOff, err := readKey(b, next)
		if err != nil {
			return o, vOff, err
		}
		if isStr {
			switch string(key) {
			case "rooms":
				o.Rooms, next, err = decodeStringList(b, vOff)
				if err != nil {
					return o, next, err
				}
				continue
			case "except":
				o.Except, next, err = decodeStringList(b, vOff)
				if err != nil {
					return o, next, err
				}
				continue
			case "flags":
				o.Flags, next, err = decodeFlags(b, vOff)
				if err != nil {
					return o, next, err
				}
				continue
			}
		}
		if next, err = skip(b, vOff, 1); err != nil {
			return o, next, err
		}
	}
	return o, next, nil
}

func decodeFlags(b []byte, off int) (Flags, int, error) {
	var f Flags
	it, next, err := readItem(b, off)
	if err != nil {
		return f, next, err
	}
	if it.kind != kMap {
		n, err := skip(b, off, 1)
		return f, n, err
	}
	for range it.n {
		key, isStr, vOff, err := readKey(b, next)
		if err != nil {
			return f, vOff, err
		}
		v, after, err := readItem(b, vOff)
		if err != nil {
			return f, after, err
		}
		if isStr {
			switch string(key) {
			case "volatile":
				f.Volatile = truthy(v)
			case "local":
				f.Local = truthy(v)
			case "compress":
				c := truthy(v)
				f.Compress = &c
			case "timeout":
				if ms, ok := number(v); ok && ms > 0 && ms < math.MaxInt64/int64(time.Millisecond) {
					f.Timeout = time.Duration(ms) * time.Millisecond
				}
			}
		}
		if next, err = skip(b, vOff, 1); err != nil {
			return f, next, err
		}
	}
	return f, next, nil
}

func truthy(v item) bool {
	switch v.kind {
	case kBool:
		return v.b
	case kInt:
		return v.i != 0
	case kUint:
		return true
	case kFloat:
		return v.f != 0 && !math.IsNaN(v.f)
	case kStr:
		return len(v.span) > 0
	case kNil:
		return false
	}
	return true
}

func number(v item) (int64, bool) {
	switch v.kind {
	case kInt:
		return v.i, true
	case kFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) || math.Abs(v.f) > 1<<62 {
			return 0, false
		}
		return int64(v.f), true
	}
	return 0, false
}

// DecodeEvent decodes the msgpack array [event, args...] at b[off:], the data of an EVENT packet. The event
// name may be a string or a number (given as JavaScript's String(number)). It returns the offset past the array.
func DecodeEvent(b []byte, off int) (event string, args []any, next int, err error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return "", nil, next, err
	}
	if it.kind != kArray || it.n == 0 {
		n, err := skip(b, off, 1)
		if err == nil {
			err = ErrEventName
		}
		return "", nil, n, err
	}
	name, n2, err := readItem(b, next)
	if err != nil {
		return "", nil, n2, err
	}
	switch name.kind {
	case kStr:
		event = string(name.span)
	case kInt, kUint, kFloat:
		event, _, _ = readScalarString(b, next)
	default:
		return "", nil, n2, ErrEventName
	}
	next = n2
	if it.n == 1 {
		return event, nil, next, nil
	}
	args = make([]any, it.n-1)
	t := toJSON{}
	type span struct {
		start, end, att0, att1 int
		binary                 bool // the argument is itself binary
	}
	spans := make([]span, it.n-1)
	for i := range spans {
		s := span{start: len(t.out), att0: len(t.att)}
		if a, _, err := readItem(b, next); err == nil {
			s.binary = a.kind == kBin || (a.kind == kExt && a.code < 0xd4 && a.ext == 0)
		}
		if next, err = t.value(b, next, 1); err != nil {
			return "", nil, next, err
		}
		s.end, s.att1 = len(t.out), len(t.att)
		spans[i] = s
	}
	for i, s := range spans {
		raw := t.out[s.start:s.end:s.end]
		switch {
		case s.att1 == s.att0:
			args[i] = sio.RawJSON(raw)
		case s.binary:
			args[i] = t.att[s.att0]
		default:
			args[i] = sio.RawBinary{JSON: raw, Attachments: t.att}
		}
	}
	return event, args, next, nil
}

// ArgsFromJSON builds an argument list from the JSON elements elems (each a complete JSON value, binary values
// as placeholders indexing att).
func ArgsFromJSON(elems [][]byte, att [][]byte) (*sio.Args, error) {
	n := 2
	for _, e := range elems {
		n += len(e) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, e := range elems {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e...)
	}
	buf = append(buf, ']')
	args := new(sio.Args)
	if err := sio.ParseArgs(buf, args); err != nil {
		return nil, err
	}
	if len(att) > 0 {
		args.SetAttachments(att)
	}
	return args, nil
}

// Requests and responses. Node.js writes them with JSON.stringify, except the BROADCAST request and the
// BROADCAST_ACK response (msgpack, as they may carry binary); a receiver tells them apart by the first byte,
// '{' for JSON.

// Request is a request of the request channel.
type Request struct {
	UID          string
	RequestID    string
	HasRequestID bool
	Type         RequestType
	Opts         Opts
	HasOpts      bool
	Rooms        []string // REMOTE_JOIN / REMOTE_LEAVE: the rooms to join or leave; SOCKETS: the rooms selected
	Close        bool     // REMOTE_DISCONNECT
	SID, Room    string   // the legacy REMOTE_JOIN / REMOTE_LEAVE / REMOTE_DISCONNECT of one socket
	// SERVER_SIDE_EMIT: the event and its arguments.
	Event string
	Args  *sio.Args
	// BROADCAST: the event and its arguments, ready to emit again (as Broadcast.Args).
	PacketEvent string
	PacketArgs  []any
}

// Response is a message of the response channels.
type Response struct {
	RequestID   string
	Type        RequestType // 0 when absent
	HasType     bool
	Sockets     []json.RawMessage // SOCKETS (ids) and REMOTE_FETCH (socket details); nil when absent
	HasSockets  bool
	Rooms       []string // ALL_ROOMS
	HasRooms    bool
	ClientCount int // BROADCAST_CLIENT_COUNT
	// Data is the answer of a SERVER_SIDE_EMIT (no element when the server answered with no value) and Packet
	// the answer of a client to a BROADCAST (BROADCAST_ACK).
	Data   *sio.Args
	Packet *sio.Args
}

// flexString decodes a JSON string, or a number as JavaScript's String(number); other values give "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return err
		}
		*f = flexString(appendJSNumberString(nil, v))
	default:
		*f = ""
	}
	return nil
}

// flexList decodes an array of flexStrings; anything else gives an empty list.
type flexList []string

func (l *flexList) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '[' {
		*l = nil
		return nil
	}
	var raw []flexString
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		out[i] = string(s)
	}
	*l = out
	return nil
}

// flexNumber decodes a JSON number; anything else gives 0.
type flexNumber float64

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		*n = 0
		return nil
	}
	*n = flexNumber(v)
	return nil
}

// flexBool decodes JavaScript truthiness of a JSON value.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s := string(b)
	*f = !(s == "false" || s == "null" || s == "0" || s == `""` || s == "-0")
	return nil
}

type jsonOpts struct {
	Rooms  flexList `json:"rooms"`
	Except flexList `json:"except"`
	Flags  *struct {
		Volatile flexBool    `json:"volatile"`
		Local    flexBool    `json:"local"`
		Compress *flexBool   `json:"compress"`
		Timeout  *flexNumber `json:"timeout"`
	} `json:"flags"`
}

func (o *jsonOpts) opts() Opts {
	out := Opts{Rooms: o.Rooms, Except: o.Except}
	if f := o.Flags; f != nil {
		out.Flags.Volatile = bool(f.Volatile)
		out.Flags.Local = bool(f.Local)
		if f.Compress != nil {
			c := bool(*f.Compress)
			out.Flags.Compress = &c
		}
		if f.Timeout != nil && *f.Timeout > 0 && float64(*f.Timeout) < float64(math.MaxInt64/int64(time.Millisecond)) {
			out.Flags.Timeout = time.Duration(*f.Timeout) * time.Millisecond
		}
	}
	return out
}

type jsonRequest struct {
	UID       flexString      `json:"uid"`
	RequestID *flexString     `json:"requestId"`
	Type      flexNumber      `json:"type"`
	Opts      *jsonOpts       `json:"opts"`
	Rooms     flexList        `json:"rooms"`
	Close     flexBool        `json:"close"`
	SID       flexString      `json:"sid"`
	Room      flexString      `json:"room"`
	Data      json.RawMessage `json:"data"`
	Packet    *struct {
		Data json.RawMessage `json:"data"`
	} `json:"packet"`
}

// toJSONMessage gives the JSON form of a message: itself when it is JSON, its transcoding (with the
// attachments of its binary values) when it is msgpack.
func toJSONMessage(b []byte) ([]byte, [][]byte, error) {
	if len(b) > 0 && b[0] == '{' {
		return b, nil, nil
	}
	j, att, _, err := MsgpackToJSON(nil, nil, b)
	return j, att, err
}

// DecodeRequest decodes a message of the request channel, JSON or msgpack.
func DecodeRequest(b []byte) (*Request, error) {
	j, att, err := toJSONMessage(b)
	if err != nil {
		return nil, err
	}
	var r jsonRequest
	if err := json.Unmarshal(j, &r); err != nil {
		return nil, fmt.Errorf("wire: request: %w", err)
	}
	req := &Request{
		UID:   string(r.UID),
		Type:  RequestType(r.Type),
		Rooms: r.Rooms,
		Close: bool(r.Close),
		SID:   string(r.SID),
		Room:  string(r.Room),
	}
	if r.RequestID != nil {
		req.RequestID, req.HasRequestID = string(*r.RequestID), true
	}
	if r.Opts != nil {
		req.Opts, req.HasOpts = r.Opts.opts(), true
	}
	if req.Type == TypeServerSideEmit && len(r.Data) > 0 && r.Data[0] == '[' {
		args := new(sio.Args)
		name, err := sio.SplitEvent(r.Data, args)
		if err != nil {
			return nil, fmt.Errorf("wire: server-side emit: %w", err)
		}
		req.Event = string(name)
		if len(att) > 0 {
			args.SetAttachments(att)
		}
		req.Args = args
	}
	if req.Type == TypeBroadcast && r.Packet != nil && len(r.Packet.Data) > 0 && r.Packet.Data[0] == '[' {
		args := new(sio.Args)
		name, err := sio.SplitEvent(r.Packet.Data, args)
		if err != nil {
			return nil, fmt.Errorf("wire: broadcast request: %w", err)
		}
		req.PacketEvent = string(name)
		if len(att) > 0 {
			args.SetAttachments(att)
		}
		req.PacketArgs = args.Spread()
	}
	return req, nil
}

type jsonResponse struct {
	RequestID   flexString      `json:"requestId"`
	Type        *flexNumber     `json:"type"`
	Sockets     json.RawMessage `json:"sockets"`
	Rooms       json.RawMessage `json:"rooms"`
	ClientCount flexNumber      `json:"clientCount"`
	Data        json.RawMessage `json:"data"`
	Packet      json.RawMessage `json:"packet"`
}

// DecodeResponse decodes a message of the response channels, JSON or msgpack.
func DecodeResponse(b []byte) (*Response, error) {
	j, att, err := toJSONMessage(b)
	if err != nil {
		return nil, err
	}
	var r jsonResponse
	if err := json.Unmarshal(j, &r); err != nil {
		return nil, fmt.Errorf("wire: response: %w", err)
	}
	resp := &Response{RequestID: string(r.RequestID), ClientCount: int(r.ClientCount)}
	if r.Type != nil {
		resp.Type, resp.HasType = RequestType(*r.Type), true
	}
	if len(r.Sockets) > 0 && r.Sockets[0] == '[' {
		if err := json.Unmarshal(r.Sockets, &resp.Sockets); err != nil {
			return nil, fmt.Errorf("wire: response sockets: %w", err)
		}
		resp.HasSockets = true
	}
	if len(r.Rooms) > 0 && r.Rooms[0] == '[' {
		var l flexList
		if err := json.Unmarshal(r.Rooms, &l); err != nil {
			return nil, fmt.Errorf("wire: response rooms: %w", err)
		}
		resp.Rooms, resp.HasRooms = l, true
	}
	one := func(raw json.RawMessage) (*sio.Args, error) {
		if len(raw) == 0 {
			return ArgsFromJSON(nil, nil)
		}
		return ArgsFromJSON([][]byte{raw}, att)
	}
	if resp.Data, err = one(r.Data); err != nil {
		return nil, err
	}
	if resp.Packet, err = one(r.Packet); err != nil {
		return nil, err
	}
	return resp, nil
}

// JSON writers for the requests and responses, in the key order of the Node.js adapter.

type jsonWriter struct{ b []byte }

func (w *jsonWriter) key(k string) {
	if len(w.b) > 0 && w.b[len(w.b)-1] != '{' {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, []byte(k))
	w.b = append(w.b, ':')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, []byte(v))
}

func (w *jsonWriter) num(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
}

func (w *jsonWriter) list(k string, l []string) {
	w.key(k)
	w.b = appendJSONStrings(w.b, l)
}

func appendJSONStrings(dst []byte, l []string) []byte {
	dst = append(dst, '[')
	for i, s := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, []byte(s))
	}
	return append(dst, ']')
}

func (w *jsonWriter) opts(o Opts) {
	w.key("opts")
	w.b = append(w.b, `{"rooms":`...)
	w.b = appendJSONStrings(w.b, o.Rooms)
	w.b = append(w.b, `,"except":`...)
	w.b = appendJSONStrings(w.b, o.Except)
	w.b = append(w.b, '}')
}

func newJSON(dst []byte) *jsonWriter { return &jsonWriter{b: append(dst, '{')} }

func (w *jsonWriter) done() []byte { return append(w.b, '}') }

func (w *jsonWriter) header(uid, requestID string, t RequestType) {
	if uid != "" {
		w.str("uid", uid)
	}
	if requestID != "" {
		w.str("requestId", requestID)
	}
	w.num("type", int64(t))
}

// AppendAllRoomsRequest appends {uid, requestId, type: ALL_ROOMS}.
func AppendAllRoomsRequest(dst []byte, uid, requestID string) []byte {
	w := newJSON(dst)
	w.header(uid, requestID, TypeAllRooms)
	return w.done()
}

// AppendSocketsRequest appends {uid, requestId, type: SOCKETS, rooms}.
func AppendSocketsRequest(dst []byte, uid, requestID string, rooms []string) []byte {
	w := newJSON(dst)
	w.header(uid, requestID, TypeSockets)
	w.list("rooms", rooms)
	return w.done()
}

// AppendFetchRequest appends {uid, requestId, type: REMOTE_FETCH, opts: {rooms, except}}.
func AppendFetchRequest(dst []byte, uid, requestID string, o Opts) []byte {
	w := newJSON(dst)
	w.header(uid, requestID, TypeRemoteFetch)
	w.opts(o)
	return w.done()
}

// AppendJoinRequest appends {uid, type: REMOTE_JOIN or REMOTE_LEAVE, opts: {rooms, except}, rooms}; uid may be
// empty (emitters send none).
func AppendJoinRequest(dst []byte, uid string, t RequestType, o Opts, rooms []string) []byte {
	w := newJSON(dst)
	w.header(uid, "", t)
	w.opts(o)
	w.list("rooms", rooms)
	return w.done()
}

// AppendDisconnectRequest appends {uid, type: REMOTE_DISCONNECT, opts: {rooms, except}, close}.
func AppendDisconnectRequest(dst []byte, uid string, o Opts, close bool) []byte {
	w := newJSON(dst)
	w.header(uid, "", TypeRemoteDisconnect)
	w.opts(o)
	w.key("close")
	w.b = strconv.AppendBool(w.b, close)
	return w.done()
}

// AppendServerSideEmitRequest appends {uid, requestId, type: SERVER_SIDE_EMIT, data}, data being the JSON array
// [event, args...]; requestID is empty when no acknowledgement is expected.
func AppendServerSideEmitRequest(dst []byte, uid, requestID string, data []byte) []byte {
	w := newJSON(dst)
	w.header(uid, requestID, TypeServerSideEmit)
	w.raw("data", data)
	return w.done()
}

// AppendBroadcastRequest appends the msgpack request of a broadcast with acknowledgements: {uid, requestId,
// type: BROADCAST, packet: {type: 2, data, nsp}, opts: {rooms, except, flags}}.
func AppendBroadcastRequest(dst []byte, uid, requestID, nsp string, data []byte, o Opts) []byte {
	dst = AppendMapHeader(dst, 5)
	dst = AppendString(dst, "uid")
	dst = AppendString(dst, uid)
	dst = AppendString(dst, "requestId")
	dst = AppendString(dst, requestID)
	dst = AppendString(dst, "type")
	dst = AppendInt(dst, int64(TypeBroadcast))
	dst = AppendString(dst, "packet")
	dst = AppendPacket(dst, nsp, data)
	dst = AppendString(dst, "opts")
	return appendOpts(dst, o)
}

// AppendSocketsResponse appends {requestId, sockets: [ids]}.
func AppendSocketsResponse(dst []byte, requestID string, ids []string) []byte {
	w := newJSON(dst)
	w.str("requestId", requestID)
	w.list("sockets", ids)
	return w.done()
}

// AppendRoomsResponse appends {requestId, rooms}.
func AppendRoomsResponse(dst []byte, requestID string, rooms []string) []byte {
	w := newJSON(dst)
	w.str("requestId", requestID)
	w.list("rooms", rooms)
	return w.done()
}

// AppendFetchResponse appends {requestId, sockets}, sockets being a JSON array of socket details.
func AppendFetchResponse(dst []byte, requestID string, sockets []byte) []byte {
	w := newJSON(dst)
	w.str("requestId", requestID)
	w.raw("sockets", sockets)
	return w.done()
}

// AppendEmptyResponse appends {requestId}, the answer to a legacy remote join, leave or disconnect.
func AppendEmptyResponse(dst []byte, requestID string) []byte {
	w := newJSON(dst)
	w.str("requestId", requestID)
	return w.done()
}

// AppendServerSideEmitResponse appends {type: SERVER_SIDE_EMIT, requestId, data}; data (JSON) is left out when
// nil, as JSON.stringify leaves out undefined.
func AppendServerSideEmitResponse(dst []byte, requestID string, data []byte) []byte {
	w := newJSON(dst)
	w.num("type", int64(TypeServerSideEmit))
	w.str("requestId", requestID)
	if data != nil {
		w.raw("data", data)
	}
	return w.done()
}

// AppendClientCountResponse appends {type: BROADCAST_CLIENT_COUNT, requestId, clientCount}.
func AppendClientCountResponse(dst []byte, requestID string, n int) []byte {
	w := newJSON(dst)
	w.num("type", int64(TypeBroadcastClientCount))
	w.str("requestId", requestID)
	w.num("clientCount", int64(n))
	return w.done()
}

// AppendBroadcastAckResponse appends the msgpack {type: BROADCAST_ACK, requestId, packet}, packet being the
// msgpack of the client's first answer, or nil when it answered nothing (notepack leaves undefined out).
func AppendBroadcastAckResponse(dst []byte, requestID string, packet []byte) []byte {
	n := 3
	if packet == nil {
		n = 2
	}
	dst = AppendMapHeader(dst, n)
	dst = AppendString(dst, "type")
	dst = AppendInt(dst, int64(TypeBroadcastAck))
	dst = AppendString(dst, "requestId")
	dst = AppendString(dst, requestID)
	if packet != nil {
		dst = AppendString(dst, "packet")
		dst = append(dst, packet...)
	}
	return dst
}
