package wsframe

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/valyala/bytebufferpool"
)

// Bits of the first two header bytes (RFC 6455 §5.2).
const (
	bitFin     = 0x80
	bitsRsv    = 0x70
	bitsOpcode = 0x0f
	bitMask    = 0x80
	bitsLen    = 0x7f

	// maxControlPayload is the largest payload a control frame may carry
	// (RFC 6455 §5.5).
	maxControlPayload = 125

	// maxHeader is the longest client frame header: 2 bytes, 8 bytes of
	// extended length and the 4-byte masking key.
	maxHeader = 14
)

// Message is one complete data message or one control frame.
type Message struct {
	// Op is ws.OpText, ws.OpBinary, ws.OpClose, ws.OpPing or ws.OpPong.
	Op ws.OpCode
	// Payload is the unmasked payload. For an unfragmented message or a
	// control frame it aliases the buffer passed to Decode and stays valid
	// until those bytes are discarded; for a reassembled message it aliases
	// the Decoder's reassembly buffer and stays valid until the next Decode
	// or Reset call.
	Payload []byte
}

// Decoder is the per-connection framing state. The zero value is ready to use
// (with no size limit); set MaxPayload before the first Decode.
//
// It is deliberately small: an idle connection holds no buffer. The
// reassembly buffer is borrowed from bytebufferpool when a fragmented message
// starts and handed back once that message has been consumed.
//
// After Decode returns an error the connection must be closed with the
// error's code; the Decoder must not be used again except for Reset.
type Decoder struct {
	// MaxPayload is the largest message, in bytes, the Decoder accepts: the
	// payload of a single frame, or the sum of all fragments of a fragmented
	// message. Zero or negative means unlimited.
	MaxPayload int

	// frag is the reassembly buffer. It is non-nil while a fragmented
	// message is in progress (fragOp != 0), and also right after the final
	// fragment, when the returned Message still aliases it (fragOp == 0);
	// the next Decode call returns it to the pool.
	frag *bytebufferpool.ByteBuffer
	// checked is how many leading bytes of frag.B are known to be valid
	// UTF-8 (text messages only).
	checked int
	// need is what NeedBytes reports.
	need int
	// fragOp is the opcode of the fragmented message in progress, or 0
	// (ws.OpContinuation) when there is none.
	fragOp ws.OpCode
}

// NeedBytes reports, after Decode returned n == 0 with a nil error, how many
// bytes the pending frame occupies in total, counted from the start of the
// buffer. It is exact once the frame's length field has arrived and a lower
// bound (the header size) before that, so a caller can size its input buffer
// or reject the connection early. Its value is unspecified after other
// Decode results.
func (d *Decoder) NeedBytes() int {
	return d.need
}

// Reset returns the pooled reassembly buffer, if any, and clears all state
// except MaxPayload. Call it when the connection closes. A Message obtained
// from a fragmented message must not be used after Reset.
func (d *Decoder) Reset() {
	if d.frag != nil {
		bytebufferpool.Put(d.frag)
	}
	*d = Decoder{MaxPayload: d.MaxPayload}
}

// Decode parses at most one frame from the start of buf.
//
// n is the number of bytes the frame occupied; the caller must discard them
// before the next call. n is 0 when buf does not hold a complete frame yet
// (see NeedBytes). ok is true when msg holds a complete data message or a
// control frame; a non-final fragment consumes bytes but returns ok == false.
//
// The payload is unmasked in place in buf, so the same bytes must not be
// decoded twice. Header violations are reported as soon as the offending
// header bytes are present, without waiting for the payload; in particular a
// frame that would make the message exceed MaxPayload fails from its header
// alone. Errors are always *CloseError.
func (d *Decoder) Decode(buf []byte) (msg Message, n int, ok bool, err error) {
	if d.frag != nil && d.fragOp == 0 {
		// The previous call returned a reassembled message that aliased
		// frag; its validity ends now, so give the buffer back.
		d.release()
	}

	if len(buf) < 2 {
		d.need = 2
		return msg, 0, false, nil
	}
	b0, b1 := buf[0], buf[1]
	fin := b0&bitFin != 0
	op := ws.OpCode(b0 & bitsOpcode)

	// Everything below is decided by the first two bytes, so a bad frame is
	// rejected before its payload arrives.
	if b0&bitsRsv != 0 {
		return msg, 0, false, errReservedBits
	}
	switch op {
	case ws.OpText, ws.OpBinary:
		if d.fragOp != 0 {
			return msg, 0, false, errInterleavedData
		}
	case ws.OpContinuation:
		if d.fragOp == 0 {
			return msg, 0, false, errUnexpectedContinuation
		}
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if !fin {
			return msg, 0, false, errControlFragmented
		}
		if b1&bitsLen > maxControlPayload {
			return msg, 0, false, errControlTooLong
		}
	default:
		return msg, 0, false, errReservedOpcode
	}
	if b1&bitMask == 0 {
		return msg, 0, false, errNotMasked
	}

	// hlen is the full header length including the 4-byte masking key.
	hlen := 6
	length := uint64(b1 & bitsLen)
	switch length {
	case 126:
		hlen = 8
		if len(buf) < 4 {
			d.need = hlen
			return msg, 0, false, nil
		}
		length = uint64(binary.BigEndian.Uint16(buf[2:4]))
	case 127:
		hlen = maxHeader
		if len(buf) < 10 {
			d.need = hlen
			return msg, 0, false, nil
		}
		length = binary.BigEndian.Uint64(buf[2:10])
		if length>>63 != 0 {
			return msg, 0, false, errLengthHighBit
		}
	}

	// The size check needs only the length field. Without a MaxPayload the
	// limit is what an int can index, so hlen+length cannot overflow below.
	limit := math.MaxInt - maxHeader
	if d.MaxPayload > 0 {
		limit = d.MaxPayload
	}
	already := 0
	if op == ws.OpContinuation {
		already = len(d.frag.B)
	}
	// room < 0 only if MaxPayload was lowered mid-message.
	if room := limit - already; room < 0 || length > uint64(room) {
		return msg, 0, false, errTooBig
	}

	total := hlen + int(length)
	if len(buf) < total {
		d.need = total
		return msg, 0, false, nil
	}
	// Cap the payload at its end so an append by the caller cannot overwrite
	// the next frame in buf.
	payload := buf[hlen:total:total]
	// Unmask only now that the whole frame is here: the bytes stay masked
	// while the frame is incomplete, so a retry with more input sees the
	// same bytes. ws.Cipher XORs 16 bytes at a time with SIMD on amd64/arm64.
	ws.Cipher(payload, [4]byte(buf[hlen-4:hlen]), 0)

	switch op {
	case ws.OpText, ws.OpBinary:
		if fin {
			if op == ws.OpText && !utf8.Valid(payload) {
				return msg, 0, false, errInvalidUTF8
			}
			return Message{Op: op, Payload: payload}, total, true, nil
		}
		d.fragOp = op
		d.frag = bytebufferpool.Get()
		d.frag.B = append(d.frag.B[:0], payload...)
		d.checked = 0
		if op == ws.OpText && !d.checkUTF8Prefix() {
			return msg, 0, false, errInvalidUTF8
		}
		return msg, total, false, nil

	case ws.OpContinuation:
		d.frag.B = append(d.frag.B, payload...)
		if d.fragOp == ws.OpText {
			if fin {
				if !utf8.Valid(d.frag.B[d.checked:]) {
					return msg, 0, false, errInvalidUTF8
				}
			} else if !d.checkUTF8Prefix() {
				return msg, 0, false, errInvalidUTF8
			}
		}
		if !fin {
			return msg, total, false, nil
		}
		msg = Message{Op: d.fragOp, Payload: d.frag.B}
		// Keep frag until the next call: msg aliases it.
		d.fragOp = 0
		return msg, total, true, nil

	case ws.OpClose:
		if err := checkClosePayload(payload); err != nil {
			return msg, 0, false, err
		}
	}
	return Message{Op: op, Payload: payload}, total, true, nil
}

// release hands the reassembly buffer back to the pool.
func (d *Decoder) release() {
	bytebufferpool.Put(d.frag)
	d.frag = nil
	d.checked = 0
}

// checkUTF8Prefix validates the reassembly buffer from d.checked on, except a
// trailing code point that is merely incomplete (it may continue in the next
// fragment), and advances d.checked past what it validated. Validating each
// byte about once keeps fragmented text linear while still failing fast.
func (d *Decoder) checkUTF8Prefix() bool {
	p := d.frag.B[d.checked:]
	end := len(p)
	// A UTF-8 sequence is at most 4 bytes, so an incomplete one starts within
	// the last 3. Cutting before a byte that is not a continuation byte
	// (10xxxxxx) is safe: no valid sequence spans such a cut.
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if p[i]&0xc0 != 0x80 {
			if !utf8.FullRune(p[i:]) {
				end = i
			}
			break
		}
	}
	if !utf8.Valid(p[:end]) {
		return false
	}
	d.checked += end
	return true
}

// checkClosePayload validates a received close frame body (RFC 6455 §5.5.1):
// empty, or a valid status code followed by a UTF-8 reason.
func checkClosePayload(p []byte) error {
	switch {
	case len(p) == 0:
		return nil
	case len(p) == 1:
		return errCloseOneByte
	case !validCloseCode(binary.BigEndian.Uint16(p)):
		return errCloseCode
	case !utf8.Valid(p[2:]):
		return errCloseReason
	}
	return nil
}
