package bench

import (
	"bytes"
	"strconv"
)

// Socket.IO packets as the scenarios write and read them. Packets here are Socket.IO packets for the main namespace
// without the Engine.IO message type ('4'): Conn.Send adds it, and OnMessage removes it.

// appendEventPacket appends an EVENT packet `2["name",<args>...]`, with an ack id when ackID >= 0
// (`2<id>["name",...]`). Each arg must already be JSON.
func appendEventPacket(dst []byte, ackID int64, name string, args ...[]byte) []byte {
	dst = append(dst, '2')
	if ackID >= 0 {
		dst = strconv.AppendInt(dst, ackID, 10)
	}
	dst = append(dst, '[')
	dst = strconv.AppendQuote(dst, name)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// parseAckID reads the id of an ACK packet `3<id>[...]`; ok is false for any other packet.
func parseAckID(p []byte) (id int64, ok bool) {
	if len(p) < 3 || p[0] != '3' {
		return 0, false
	}
	i := 1
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		id = id*10 + int64(p[i]-'0')
		i++
		if i > 19 {
			return 0, false
		}
	}
	if i == 1 || i >= len(p) || p[i] != '[' {
		return 0, false
	}
	return id, true
}

// isEvent reports whether p is an EVENT packet for the main namespace whose name is name: `2["name"...`.
func isEvent(p []byte, name string) bool {
	if len(p) < len(name)+4 || p[0] != '2' || p[1] != '[' || p[2] != '"' {
		return false
	}
	rest := p[3:]
	return len(rest) > len(name) && string(rest[:len(name)]) == name && rest[len(name)] == '"'
}

// fanoutPadSize is the size the fan-out message object is padded to.
const fanoutPadSize = 100

// appendFanoutObject appends the fan-out message {"t":<ns>,"seq":<n>,"pad":"xx..."}, padded to about size bytes.
func appendFanoutObject(dst []byte, t, seq int64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"pad":"`...)
	pad := size - (len(dst) - start) - 2
	for i := 0; i < pad; i++ {
		dst = append(dst, 'x')
	}
	return append(dst, '"', '}')
}

// appendFanoutPublish appends the publisher's packet 2["broadcast","<room>",{"t":...,"seq":...,"pad":"..."}].
func appendFanoutPublish(dst []byte, room string, t, seq int64) []byte {
	dst = append(dst, `2["broadcast",`...)
	dst = strconv.AppendQuote(dst, room)
	dst = append(dst, ',')
	dst = appendFanoutObject(dst, t, seq, fanoutPadSize)
	return append(dst, ']')
}

var (
	keyT   = []byte(`"t":`)
	keySeq = []byte(`"seq":`)
)

// parseFanout reads t and seq from a `2["broadcast",{"t":...,"seq":...,...}]` packet. Keys may come in any order;
// the numbers must be non-negative integers (a JavaScript server may print t with its last digits rounded, which
// moves it by at most a few hundred nanoseconds).
func parseFanout(p []byte) (t, seq int64, ok bool) {
	if !isEvent(p, "broadcast") {
		return 0, 0, false
	}
	t, ok1 := intAfter(p, keyT)
	seq, ok2 := intAfter(p, keySeq)
	return t, seq, ok1 && ok2
}

// intAfter parses the non-negative integer that follows the first occurrence of key in p.
func intAfter(p, key []byte) (int64, bool) {
	i := bytes.Index(p, key)
	if i < 0 {
		return 0, false
	}
	i += len(key)
	for i < len(p) && p[i] == ' ' {
		i++
	}
	var n int64
	start := i
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		if i-start >= 19 {
			return 0, false
		}
		n = n*10 + int64(p[i]-'0')
		i++
	}
	return n, i > start
}

// splitPayload splits an Engine.IO v4 polling payload into its packets (separated by the record separator 0x1e).
func splitPayload(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte{0x1e})
}
