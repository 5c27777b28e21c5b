package wsframe

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// fuzzSeeds are valid and broken inputs for FuzzDecode. testdata/fuzz holds
// a few more as files.
func fuzzSeeds() [][]byte {
	return [][]byte{
		nil,
		{0x81},
		join(clientFrame{op: ws.OpText, payload: []byte("hello")}),
		join(clientFrame{op: ws.OpBinary, payload: pattern(200)}),
		join(clientFrame{op: ws.OpBinary, lenCode: 127, payload: pattern(3)}),
		join(
			clientFrame{op: ws.OpText, more: true, payload: []byte("a\xe2")},
			clientFrame{op: ws.OpPing, payload: []byte("p")},
			clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\x82")},
			clientFrame{op: ws.OpContinuation, payload: []byte("\xac")},
		),
		join(
			clientFrame{op: ws.OpClose, payload: closeBody(1000, "bye")},
			clientFrame{op: ws.OpPong},
		),
		join(clientFrame{op: ws.OpClose, payload: []byte{1}}),
		join(clientFrame{op: ws.OpClose, payload: closeBody(1005, "")}),
		join(clientFrame{op: ws.OpText, payload: []byte("\xed\xa0\x80")}),
		join(clientFrame{op: ws.OpText, unmasked: true, payload: []byte("x")}),
		join(clientFrame{op: ws.OpText, rsv: 4, payload: []byte("x")}),
		join(clientFrame{op: 0xb}),
		join(clientFrame{op: ws.OpPing, more: true}),
		join(clientFrame{op: ws.OpContinuation, payload: []byte("x")}),
		join(clientFrame{op: ws.OpBinary, declare: true, declared: 1 << 63})[:10],
		join(clientFrame{op: ws.OpBinary, declare: true, declared: 1 << 40})[:14],
	}
}

// FuzzDecode feeds arbitrary bytes to a Decoder twice: all at once, and one
// byte at a time the way a slow connection delivers them. Both runs must
// satisfy the package invariants and agree on the messages and the error.
func FuzzDecode(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed, uint16(0))
		f.Add(seed, uint16(4))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxPayload uint16) {
		maxLen := int(maxPayload)

		whole, wholeCode := fuzzRun(t, maxLen, [][]byte{bytes.Clone(data)})

		chunks := make([][]byte, len(data))
		for i := range data {
			chunks[i] = data[i : i+1]
		}
		streamed, streamedCode := fuzzRun(t, maxLen, chunks)

		if wholeCode != streamedCode {
			t.Fatalf(
				"close code %d decoding whole, %d decoding byte by byte",
				wholeCode, streamedCode,
			)
		}
		if len(whole) != len(streamed) {
			t.Fatalf(
				"%d messages decoding whole, %d byte by byte",
				len(whole), len(streamed),
			)
		}
		for i := range whole {
			if whole[i].Op != streamed[i].Op || !bytes.Equal(whole[i].Payload, streamed[i].Payload) {
				t.Fatalf(
					"message %d differs between whole and byte-by-byte decoding",
					i,
				)
			}
		}
	})
}

// fuzzRun appends each chunk to a pending buffer and decodes what it can,
// checking every result. It returns copies of the messages and the close
// code of the error that ended the run (0 if none).
func fuzzRun(t *testing.T, maxLen int, chunks [][]byte) ([]Message, uint16) {
	d := Decoder{MaxPayload: maxLen}
	defer d.Reset()
	var pending []byte
	var msgs []Message
	for _, chunk := range chunks {
		pending = append(pending, chunk...)
		consumed := 0
		for {
			msg, n, ok, err := d.Decode(pending[consumed:])
			if n < 0 || n > len(pending)-consumed {
				t.Fatalf(
					"n = %d with %d bytes buffered",
					n, len(pending)-consumed,
				)
			}
			if err != nil {
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf(
						"error %v (%T) is not a *CloseError",
						err, err,
					)
				}
				switch ce.Code {
				case CloseProtocolError, CloseInvalidPayload, CloseTooBig:
				default:
					t.Fatalf(
						"unexpected close code %d",
						ce.Code,
					)
				}
				if n != 0 || ok {
					t.Fatalf(
						"error with n=%d ok=%v",
						n, ok,
					)
				}
				return msgs, ce.Code
			}
			if ok {
				checkMessage(t, maxLen, msg)
				msgs = append(msgs, Message{Op: msg.Op, Payload: bytes.Clone(msg.Payload)})
			} else if msg.Op != 0 || msg.Payload != nil {
				t.Fatalf(
					"non-message result carries a message: %+v",
					msg,
				)
			}
			if n == 0 {
				if ok {
					t.Fatal("ok with n == 0")
				}
				if d.NeedBytes() <= len(pending)-consumed {
					t.Fatalf(
						"need more bytes, but NeedBytes = %d with %d buffered",
						d.NeedBytes(), len(pending)-consumed,
					)
				}
				break
			}
			consumed += n
		}
		// Discard the consumed bytes, as an event loop would.
		if consumed > 0 {
			pending = append(pending[:0], pending[consumed:]...)
		}
	}
	return msgs, 0
}

// checkMessage checks what Decode promises about a returned message.
func checkMessage(t *testing.T, maxLen int, msg Message) {
	t.Helper()
	limit := math.MaxInt
	if maxLen > 0 {
		limit = maxLen
	}
	if len(msg.Payload) > limit {
		t.Fatalf(
			"%v payload of %d bytes exceeds MaxPayload %d",
			msg.Op, len(msg.Payload), maxLen,
		)
	}
	switch msg.Op {
	case ws.OpText:
		if !utf8.Valid(msg.Payload) {
			t.Fatalf(
				"text message is not valid UTF-8: %q",
				msg.Payload,
			)
		}
	case ws.OpBinary:
	case ws.OpPing, ws.OpPong, ws.OpClose:
		if len(msg.Payload) > 125 {
			t.Fatalf(
				"control frame payload of %d bytes",
				len(msg.Payload),
			)
		}
		if msg.Op != ws.OpClose || len(msg.Payload) == 0 {
			break
		}
		code, reason := ClosePayload(msg.Payload)
		if len(msg.Payload) < 2 || !validCloseCode(code) || !utf8.Valid(reason) {
			t.Fatalf(
				"invalid close payload accepted: % x",
				msg.Payload,
			)
		}
	default:
		t.Fatalf(
			"message with opcode %v",
			msg.Op,
		)
	}
}
