package eio

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// binaryPrefix starts a base64-encoded binary packet inside a polling payload.
const binaryPrefix = 'b'

// DecodePayload calls fn for each packet of an HTTP long-polling payload, in
// order. A payload is one or more packets joined by Separator; each packet is
// either a text packet (see DecodeText) or 'b' followed by the standard,
// padded base64 encoding of a binary message.
//
// Binary packets are base64-decoded in place, into the payload's own bytes, so
// decoding does not allocate: the payload is modified and the caller must own
// it. Every Packet.Data aliases the payload and stays valid after fn returns,
// for as long as the caller keeps the payload buffer.
//
// Decoding stops at the first invalid packet (empty, unknown type or bad
// base64) and returns an error wrapping ErrInvalidPacket; the packets before
// it have already been passed to fn. An empty payload is invalid. If fn
// returns an error, decoding stops and that error is returned unchanged.
func DecodePayload(payload []byte, fn func(Packet) error) error {
	if len(payload) == 0 {
		return fmt.Errorf("eio: empty payload: %w", ErrInvalidPacket)
	}
	for i := 0; ; i++ {
		seg, rest, more := payload, []byte(nil), false
		if j := bytes.IndexByte(payload, Separator); j >= 0 {
			seg, rest, more = payload[:j], payload[j+1:], true
		}
		p, why := decodePayloadPacket(seg)
		if why != "" {
			return fmt.Errorf("eio: payload packet %d: %s: %w", i, why, ErrInvalidPacket)
		}
		if err := fn(p); err != nil {
			return err
		}
		if !more {
			return nil
		}
		payload = rest
	}
}

// decodePayloadPacket decodes one packet of a polling payload. On failure it
// returns a short reason instead of an error so that the caller builds the
// single wrapped error (with the packet index) only on the failure path.
func decodePayloadPacket(seg []byte) (Packet, string) {
	if len(seg) == 0 {
		return Packet{}, "empty packet"
	}
	if seg[0] == binaryPrefix {
		data := seg[1:]
		n, ok := decodeBase64InPlace(data)
		if !ok {
			return Packet{}, "invalid base64"
		}
		return Packet{Type: Message, Data: data[:n:n], Binary: true}, ""
	}
	t := PacketType(seg[0])
	if !t.valid() {
		return Packet{}, "unknown packet type"
	}
	return Packet{Type: t, Data: seg[1:]}, ""
}

// AppendPayloadPacket appends one packet to an HTTP long-polling payload that
// is being built in dst and returns the extended slice.
//
// The payload starts at offset start of dst, so it can follow other bytes
// (for example HTTP headers) in the same buffer. A separator is written first
// when the payload already holds a packet, that is when len(dst) > start. A
// caller appending many packets therefore needs no state besides start:
//
//	start := len(buf)
//	for _, p := range packets {
//		buf = eio.AppendPayloadPacket(buf, start, p)
//	}
//
// A binary packet is written as 'b' + standard base64 of its data, whatever
// its Type (only messages can be binary). A text packet is written as its type
// digit followed by its data, which must not contain Separator: the protocol
// has no escaping, so such data would split into two packets on the other side.
func AppendPayloadPacket(dst []byte, start int, p Packet) []byte {
	if len(dst) > start {
		dst = append(dst, Separator)
	}
	if p.Binary {
		dst = append(dst, binaryPrefix)
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}

// invalidB64 marks bytes outside the standard base64 alphabet in b64Values.
const invalidB64 = 0xff

// b64Values maps an input byte to its 6-bit value, or invalidB64.
var b64Values = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = invalidB64
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeBase64InPlace decodes standard, padded base64 from b into b itself
// and returns the number of decoded bytes, which are b[:n].
//
// We decode ourselves rather than with encoding/base64 because that package
// does not document that overlapping source and destination are allowed. Here
// it is safe by construction: each 4-byte group k (input b[4k:4k+4]) is read
// completely before its 3 output bytes b[3k:3k+3] are written, and those end
// before the next group starts, so no unread input is ever overwritten. The decoder is strict about length and padding (the length must be a
// multiple of four, '=' only at the end) and rejects whitespace; like Node's
// and Go's default decoders it ignores unused bits in the last group.
func decodeBase64InPlace(b []byte) (int, bool) {
	if len(b)%4 != 0 {
		return 0, false
	}
	if len(b) == 0 {
		return 0, true
	}
	n := 0
	last := len(b) - 4
	for i := 0; i < last; i += 4 {
		q := b[i : i+4 : i+4] // one bounds check for the whole group
		a, bb, c, d := b64Values[q[0]], b64Values[q[1]], b64Values[q[2]], b64Values[q[3]]
		// Valid values fit in 6 bits and invalidB64 sets the top two, so
		// one test on the OR rejects any bad byte in the group.
		if (a|bb|c|d)&0xc0 != 0 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(bb)<<12 | uint32(c)<<6 | uint32(d)
		o := b[n : n+3 : n+3]
		o[0], o[1], o[2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}

	// The last group may hold one or two '=' padding characters.
	q := b[last:]
	a, bb := b64Values[q[0]], b64Values[q[1]]
	if (a|bb)&0xc0 != 0 {
		return 0, false
	}
	v := uint32(a)<<18 | uint32(bb)<<12
	switch {
	case q[2] == '=' && q[3] == '=':
		b[n] = byte(v >> 16)
		return n + 1, true
	case q[3] == '=':
		c := b64Values[q[2]]
		if c&0xc0 != 0 {
			return 0, false
		}
		v |= uint32(c) << 6
		b[n], b[n+1] = byte(v>>16), byte(v>>8)
		return n + 2, true
	default:
		c, d := b64Values[q[2]], b64Values[q[3]]
		if (c|d)&0xc0 != 0 {
			return 0, false
		}
		v |= uint32(c)<<6 | uint32(d)
		b[n], b[n+1], b[n+2] = byte(v>>16), byte(v>>8), byte(v)
		return n + 3, true
	}
}
