package wire

// The sharded adapter of @socket.io/redis-adapter 8.x (createShardedAdapter, Redis 7 sharded Pub/Sub) speaks
// the ClusterAdapter protocol of socket.io-adapter 2.5: every message is {type, data, uid, nsp}, published with
// SPUBLISH to "<key>#<nsp>#" (or "<key>#<nsp>#<room>#" for a broadcast to one room, in the dynamic subscription
// modes), and the answers to a request to the requester's channel "<key>#<nsp>#<uid>#". A message is JSON,
// or msgpack when its data may carry binary. The number of nodes is the number of subscribers of the namespace's
// channel (PUBSUB SHARDNUMSUB).

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fastio/fastio/codec/sio"
)

// MessageType is the type of a ClusterAdapter message.
type MessageType int

// The message types of socket.io-adapter's ClusterAdapter.
const (
	MsgInitialHeartbeat       MessageType = 1
	MsgHeartbeat              MessageType = 2
	MsgBroadcast              MessageType = 3
	MsgSocketsJoin            MessageType = 4
	MsgSocketsLeave           MessageType = 5
	MsgDisconnectSockets      MessageType = 6
	MsgFetchSockets           MessageType = 7
	MsgFetchSocketsResponse   MessageType = 8
	MsgServerSideEmit         MessageType = 9
	MsgServerSideEmitResponse MessageType = 10
	MsgBroadcastClientCount   MessageType = 11
	MsgBroadcastAck           MessageType = 12
	MsgAdapterClose           MessageType = 13
)

// ShardedChannel returns the channel of namespace nsp under key (DefaultKey when empty): "<key>#<nsp>#". A room's
// channel and a node's response channel are this channel followed by "<room>#" or "<uid>#".
func ShardedChannel(key, nsp string) string {
	if key == "" {
		key = DefaultKey
	}
	return key + "#" + nsp + "#"
}

// LooksLikeSocketID is the sharded adapter's test for a socket's own room: 20 characters.
func LooksLikeSocketID(room string) bool { return len(room) == 20 }

// ClusterMessage is a decoded ClusterAdapter message.
type ClusterMessage struct {
	UID  string
	Nsp  string
	Type MessageType

	RequestID    string
	HasRequestID bool
	Opts         Opts
	Rooms        []string // SOCKETS_JOIN, SOCKETS_LEAVE
	Close        bool     // DISCONNECT_SOCKETS
	// BROADCAST: the event, its arguments ready to emit again (as Broadcast.Args).
	Event string
	Args  []any
	// SERVER_SIDE_EMIT: the event and its arguments.
	ServerSideEvent string
	ServerSideArgs  *sio.Args
	// Answers: the client count (BROADCAST_CLIENT_COUNT), the first value of an answer (BROADCAST_ACK and
	// SERVER_SIDE_EMIT_RESPONSE, no element when there was none), the sockets (FETCH_SOCKETS_RESPONSE).
	ClientCount int
	Packet      *sio.Args
	Sockets     []json.RawMessage
}

type jsonCluster struct {
	UID  flexString `json:"uid"`
	Nsp  flexString `json:"nsp"`
	Type flexNumber `json:"type"`
	Data *struct {
		RequestID   *flexString     `json:"requestId"`
		Opts        *jsonOpts       `json:"opts"`
		Rooms       flexList        `json:"rooms"`
		Close       flexBool        `json:"close"`
		Packet      json.RawMessage `json:"packet"`
		ClientCount flexNumber      `json:"clientCount"`
		Sockets     json.RawMessage `json:"sockets"`
	} `json:"data"`
}

// DecodeClusterMessage decodes a ClusterAdapter message, JSON or msgpack.
func DecodeClusterMessage(b []byte) (*ClusterMessage, error) {
	j, att, err := toJSONMessage(b)
	if err != nil {
		return nil, err
	}
	var r jsonCluster
	if err := json.Unmarshal(j, &r); err != nil {
		return nil, fmt.Errorf("wire: cluster message: %w", err)
	}
	m := &ClusterMessage{UID: string(r.UID), Nsp: string(r.Nsp), Type: MessageType(r.Type)}
	d := r.Data
	if d == nil {
		return m, nil
	}
	if d.RequestID != nil {
		m.RequestID, m.HasRequestID = string(*d.RequestID), true
	}
	if d.Opts != nil {
		m.Opts = d.Opts.opts()
	}
	m.Rooms, m.Close, m.ClientCount = d.Rooms, bool(d.Close), int(d.ClientCount)
	switch m.Type {
	case MsgBroadcast:
		var p struct {
			Data json.RawMessage `json:"data"`
		}
		if len(d.Packet) == 0 || d.Packet[0] != '{' || json.Unmarshal(d.Packet, &p) != nil || len(p.Data) == 0 || p.Data[0] != '[' {
			return nil, ErrEventName
		}
		args := new(sio.Args)
		name, err := sio.SplitEvent(p.Data, args)
		if err != nil {
			return nil, fmt.Errorf("wire: cluster broadcast: %w", err)
		}
		if len(att) > 0 {
			args.SetAttachments(att)
		}
		m.Event, m.Args = string(name), args.Spread()
	case MsgServerSideEmit:
		if len(d.Packet) == 0 || d.Packet[0] != '[' {
			return nil, ErrEventName
		}
		args := new(sio.Args)
		name, err := sio.SplitEvent(d.Packet, args)
		if err != nil {
			return nil, fmt.Errorf("wire: cluster server-side emit: %w", err)
		}
		if len(att) > 0 {
			args.SetAttachments(att)
		}
		m.ServerSideEvent, m.ServerSideArgs = string(name), args
	case MsgBroadcastAck, MsgServerSideEmitResponse:
		var elems [][]byte
		if len(d.Packet) > 0 {
			elems = [][]byte{d.Packet}
		}
		if m.Packet, err = ArgsFromJSON(elems, att); err != nil {
			return nil, err
		}
	case MsgFetchSocketsResponse:
		if len(d.Sockets) > 0 && d.Sockets[0] == '[' {
			if err := json.Unmarshal(d.Sockets, &m.Sockets); err != nil {
				return nil, fmt.Errorf("wire: cluster sockets: %w", err)
			}
		}
	}
	return m, nil
}

// JSON messages, in the key order of socket.io-adapter: {type, data, uid, nsp}.

func clusterJSON(dst []byte, t MessageType, uid, nsp string, data func(w *jsonWriter)) []byte {
	w := newJSON(dst)
	w.num("type", int64(t))
	w.key("data")
	d := jsonWriter{b: append(w.b, '{')}
	data(&d)
	w.b = d.done()
	w.str("uid", uid)
	w.str("nsp", nsp)
	return w.done()
}

func (w *jsonWriter) clusterOpts(o Opts) {
	w.key("opts")
	w.b = append(w.b, `{"rooms":`...)
	w.b = appendJSONStrings(w.b, o.Rooms)
	w.b = append(w.b, `,"except":`...)
	w.b = appendJSONStrings(w.b, o.Except)
	w.b = append(w.b, `,"flags":{`...)
	first := true
	sep := func() {
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
	}
	if o.Flags.Volatile {
		sep()
		w.b = append(w.b, `"volatile":true`...)
	}
	if o.Flags.Timeout > 0 {
		sep()
		w.b = append(w.b, `"timeout":`...)
		w.b = strconv.AppendInt(w.b, o.Flags.Timeout.Milliseconds(), 10)
	}
	w.b = append(w.b, "}}"...)
}

// AppendClusterSockets appends SOCKETS_JOIN or SOCKETS_LEAVE: data {opts, rooms}.
func AppendClusterSockets(dst []byte, t MessageType, uid, nsp string, o Opts, rooms []string) []byte {
	return clusterJSON(dst, t, uid, nsp, func(w *jsonWriter) {
		w.clusterOpts(o)
		w.list("rooms", rooms)
	})
}

// AppendClusterDisconnect appends DISCONNECT_SOCKETS: data {opts, close}.
func AppendClusterDisconnect(dst []byte, uid, nsp string, o Opts, close bool) []byte {
	return clusterJSON(dst, MsgDisconnectSockets, uid, nsp, func(w *jsonWriter) {
		w.clusterOpts(o)
		w.key("close")
		w.b = strconv.AppendBool(w.b, close)
	})
}

// AppendClusterFetch appends FETCH_SOCKETS: data {opts, requestId}.
func AppendClusterFetch(dst []byte, uid, nsp, requestID string, o Opts) []byte {
	return clusterJSON(dst, MsgFetchSockets, uid, nsp, func(w *jsonWriter) {
		w.clusterOpts(o)
		w.str("requestId", requestID)
	})
}

// AppendClusterFetchResponse appends FETCH_SOCKETS_RESPONSE: data {requestId, sockets} (a JSON array).
func AppendClusterFetchResponse(dst []byte, uid, nsp, requestID string, sockets []byte) []byte {
	return clusterJSON(dst, MsgFetchSocketsResponse, uid, nsp, func(w *jsonWriter) {
		w.str("requestId", requestID)
		w.raw("sockets", sockets)
	})
}

// AppendClusterClientCount appends BROADCAST_CLIENT_COUNT: data {requestId, clientCount}.
func AppendClusterClientCount(dst []byte, uid, nsp, requestID string, n int) []byte {
	return clusterJSON(dst, MsgBroadcastClientCount, uid, nsp, func(w *jsonWriter) {
		w.str("requestId", requestID)
		w.num("clientCount", int64(n))
	})
}

// Msgpack messages, for what may carry binary.

func clusterPack(dst []byte, t MessageType, uid, nsp string, fields int, data func([]byte) []byte) []byte {
	dst = AppendMapHeader(dst, 4)
	dst = AppendString(dst, "type")
	dst = AppendInt(dst, int64(t))
	dst = AppendString(dst, "data")
	dst = AppendMapHeader(dst, fields)
	dst = data(dst)
	dst = AppendString(dst, "uid")
	dst = AppendString(dst, uid)
	dst = AppendString(dst, "nsp")
	return AppendString(dst, nsp)
}

// AppendClusterBroadcast appends BROADCAST: data {packet: {type: 2, data, nsp}, opts, requestId (when not
// empty: a broadcast with acknowledgements)}, data being the msgpack array [event, args...].
func AppendClusterBroadcast(dst []byte, uid, nsp, requestID string, data []byte, o Opts) []byte {
	n := 2
	if requestID != "" {
		n = 3
	}
	return clusterPack(dst, MsgBroadcast, uid, nsp, n, func(b []byte) []byte {
		b = AppendString(b, "packet")
		b = AppendPacket(b, nsp, data)
		if requestID != "" {
			b = AppendString(b, "requestId")
			b = AppendString(b, requestID)
		}
		b = AppendString(b, "opts")
		return appendOpts(b, o)
	})
}

// AppendClusterServerSideEmit appends SERVER_SIDE_EMIT: data {requestId (when not empty), packet}, packet being
// the msgpack array [event, args...].
func AppendClusterServerSideEmit(dst []byte, uid, nsp, requestID string, packet []byte) []byte {
	n := 1
	if requestID != "" {
		n = 2
	}
	return clusterPack(dst, MsgServerSideEmit, uid, nsp, n, func(b []byte) []byte {
		if requestID != "" {
			b = AppendString(b, "requestId")
			b = AppendString(b, requestID)
		}
		b = AppendString(b, "packet")
		return append(b, packet...)
	})
}

// AppendClusterAnswer appends BROADCAST_ACK or SERVER_SIDE_EMIT_RESPONSE: data {requestId, packet}, packet
// being the msgpack of the answer's first value, left out when nil.
func AppendClusterAnswer(dst []byte, t MessageType, uid, nsp, requestID string, packet []byte) []byte {
	n := 2
	if packet == nil {
		n = 1
	}
	return clusterPack(dst, t, uid, nsp, n, func(b []byte) []byte {
		b = AppendString(b, "requestId")
		b = AppendString(b, requestID)
		if packet != nil {
			b = AppendString(b, "packet")
			b = append(b, packet...)
		}
		return b
	})
}
