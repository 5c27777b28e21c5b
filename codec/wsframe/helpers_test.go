package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gobwas/ws"
)

// testMask is the masking key of every frame built by clientFrame. Its bytes
// are below 0x80 so that XORing ASCII with it stays ASCII, which the
// benchmarks rely on.
var testMask = [4]byte{0x37, 0x7a, 0x21, 0x3d}

// clientFrame describes a frame as a client would send it. The zero value
// (besides op) is a final, masked frame with the shortest length encoding.
type clientFrame struct {
	op       ws.OpCode
	more     bool // FIN clear
	rsv      byte // RSV1-3 as the low 3 bits
	unmasked bool
	lenCode  byte   // force the 126 or 127 length form; 0 picks the shortest
	declare  bool   // write declared instead of len(payload) as the length
	declared uint64 // used when declare is set
	payload  []byte
}

// bytes encodes f. The payload is copied before masking.
func (f clientFrame) bytes() []byte {
	b0 := byte(f.op) | f.rsv<<4
	if !f.more {
		b0 |= 0x80
	}
	length := uint64(len(f.payload))
	if f.declare {
		length = f.declared
	}
	var maskBit byte
	if !f.unmasked {
		maskBit = 0x80
	}
	code := f.lenCode
	if code == 0 {
		switch {
		case length > 0xffff:
			code = 127
		case length > 125:
			code = 126
		}
	}
	out := []byte{b0, 0}
	switch code {
	case 126:
		out[1] = maskBit | 126
		out = binary.BigEndian.AppendUint16(out, uint16(length))
	case 127:
		out[1] = maskBit | 127
		out = binary.BigEndian.AppendUint64(out, length)
	default:
		out[1] = maskBit | byte(length)
	}
	p := bytes.Clone(f.payload)
	if !f.unmasked {
		out = append(out, testMask[:]...)
		ws.Cipher(p, testMask, 0)
	}
	return append(out, p...)
}

// join concatenates encoded frames into one input buffer.
func join(frames ...clientFrame) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, f.bytes()...)
	}
	return out
}

// decodeAll runs d over buf until it needs more bytes or fails, the way an
// event loop would. It returns copies of the complete messages, the close
// code of the error (0 if none) and how many bytes were left undecoded.
func decodeAll(t testing.TB, d *Decoder, buf []byte) (msgs []Message, code uint16, rest int) {
	t.Helper()
	for {
		msg, n, ok, err := d.Decode(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf(
				"Decode consumed %d bytes of %d",
				n, len(buf),
			)
		}
		if err != nil {
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf(
					"Decode error %v (%T) is not a *CloseError",
					err, err,
				)
			}
			return msgs, ce.Code, len(buf)
		}
		if ok {
			msgs = append(msgs, Message{
				Op:      msg.Op,
				Payload: bytes.Clone(msg.Payload),
			})
		}
		if n == 0 {
			return msgs, 0, len(buf)
		}
		buf = buf[n:]
	}
}

// pattern returns n bytes that cycle through every byte value, so that a
// wrong mask offset anywhere shows up.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/256)
	}
	return p
}

// asciiText returns n bytes of printable ASCII.
func asciiText(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}
