package wsframe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

type decodeCase struct {
	name     string
	max      int    // Decoder.MaxPayload
	input    []byte // concatenated client frames
	want     []Message
	wantCode uint16 // close code of the expected error, 0 for none
	wantRest int    // bytes left undecoded when no error is expected
}

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func decodeCases() []decodeCase {
	cases := []decodeCase{
		{
			name:  "empty input",
			input: nil,
		},
		{
			name:  "small binary",
			input: join(clientFrame{op: ws.OpBinary, payload: []byte{1, 2, 3, 4, 5}}),
			want:  []Message{{Op: ws.OpBinary, Payload: []byte{1, 2, 3, 4, 5}}},
		},
		{
			name:  "empty text",
			input: join(clientFrame{op: ws.OpText}),
			want:  []Message{{Op: ws.OpText, Payload: []byte{}}},
		},
		{
			name:  "masked text with multibyte runes",
			input: join(clientFrame{op: ws.OpText, payload: []byte("héllo, 世界 🌍")}),
			want:  []Message{{Op: ws.OpText, Payload: []byte("héllo, 世界 🌍")}},
		},
		{
			name:  "125 bytes, longest 7-bit length",
			input: join(clientFrame{op: ws.OpBinary, payload: pattern(125)}),
			want:  []Message{{Op: ws.OpBinary, Payload: pattern(125)}},
		},
		{
			name:  "126 bytes, 16-bit length",
			input: join(clientFrame{op: ws.OpBinary, payload: pattern(126)}),
			want:  []Message{{Op: ws.OpBinary, Payload: pattern(126)}},
		},
		{
			name:  "65535 bytes, longest 16-bit length",
			input: join(clientFrame{op: ws.OpText, payload: asciiText(65535)}),
			want:  []Message{{Op: ws.OpText, Payload: asciiText(65535)}},
		},
		{
			name:  "65536 bytes, 64-bit length",
			input: join(clientFrame{op: ws.OpBinary, payload: pattern(65536)}),
			want:  []Message{{Op: ws.OpBinary, Payload: pattern(65536)}},
		},
		{
			name:  "unmask every byte value at every mask offset",
			input: join(clientFrame{op: ws.OpBinary, payload: pattern(1000)}),
			want:  []Message{{Op: ws.OpBinary, Payload: pattern(1000)}},
		},
		{
			name:  "non-minimal 16-bit length accepted",
			input: join(clientFrame{op: ws.OpBinary, lenCode: 126, payload: []byte("abc")}),
			want:  []Message{{Op: ws.OpBinary, Payload: []byte("abc")}},
		},
		{
			name:  "non-minimal 64-bit length accepted",
			input: join(clientFrame{op: ws.OpText, lenCode: 127, payload: []byte("abc")}),
			want:  []Message{{Op: ws.OpText, Payload: []byte("abc")}},
		},
		{
			name: "several frames in one buffer",
			input: join(
				clientFrame{op: ws.OpText, payload: []byte("one")},
				clientFrame{op: ws.OpBinary, payload: pattern(300)},
				clientFrame{op: ws.OpPing, payload: []byte("p")},
				clientFrame{op: ws.OpPong},
				clientFrame{op: ws.OpText, payload: []byte("two")},
				clientFrame{op: ws.OpClose, payload: closeBody(1000, "bye")},
			),
			want: []Message{
				{Op: ws.OpText, Payload: []byte("one")},
				{Op: ws.OpBinary, Payload: pattern(300)},
				{Op: ws.OpPing, Payload: []byte("p")},
				{Op: ws.OpPong, Payload: []byte{}},
				{Op: ws.OpText, Payload: []byte("two")},
				{Op: ws.OpClose, Payload: closeBody(1000, "bye")},
			},
		},
		{
			name: "complete frames then a partial one",
			input: join(
				clientFrame{op: ws.OpText, payload: []byte("one")},
				clientFrame{op: ws.OpText, payload: []byte("two")},
			)[:9+5],
			want:     []Message{{Op: ws.OpText, Payload: []byte("one")}},
			wantRest: 5,
		},
		{
			name: "fragmented text in 3 frames with a ping in the middle",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("Hel")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("lo, ")},
				clientFrame{op: ws.OpPing, payload: []byte("are you there")},
				clientFrame{op: ws.OpContinuation, payload: []byte("world")},
			),
			want: []Message{
				{Op: ws.OpPing, Payload: []byte("are you there")},
				{Op: ws.OpText, Payload: []byte("Hello, world")},
			},
		},
		{
			name: "fragmented binary with empty fragments, then another message",
			input: join(
				clientFrame{op: ws.OpBinary, more: true},
				clientFrame{op: ws.OpContinuation, more: true, payload: pattern(200)},
				clientFrame{op: ws.OpContinuation},
				clientFrame{op: ws.OpBinary, payload: []byte{9}},
			),
			want: []Message{
				{Op: ws.OpBinary, Payload: pattern(200)},
				{Op: ws.OpBinary, Payload: []byte{9}},
			},
		},
		{
			name: "3-byte code point split across fragments",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a\xe2")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\x82")},
				clientFrame{op: ws.OpContinuation, payload: []byte("\xacb")},
			),
			want: []Message{{Op: ws.OpText, Payload: []byte("a€b")}},
		},
		{
			name: "4-byte code point split into single bytes",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("\xf0")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\x9f")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\x8c")},
				clientFrame{op: ws.OpContinuation, payload: []byte("\x8d")},
			),
			want: []Message{{Op: ws.OpText, Payload: []byte("🌍")}},
		},
		{
			name: "two fragmented messages back to back",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("ab")},
				clientFrame{op: ws.OpContinuation, payload: []byte("cd")},
				clientFrame{op: ws.OpBinary, more: true, payload: []byte{1}},
				clientFrame{op: ws.OpContinuation, payload: []byte{2}},
			),
			want: []Message{
				{Op: ws.OpText, Payload: []byte("abcd")},
				{Op: ws.OpBinary, Payload: []byte{1, 2}},
			},
		},

		// Protocol violations.
		{
			name:     "unmasked client frame",
			input:    join(clientFrame{op: ws.OpText, unmasked: true, payload: []byte("hi")}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "unmasked control frame",
			input:    join(clientFrame{op: ws.OpPing, unmasked: true}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "ping not final",
			input:    join(clientFrame{op: ws.OpPing, more: true}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "close not final",
			input:    join(clientFrame{op: ws.OpClose, more: true}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "ping payload of 126 bytes",
			input:    join(clientFrame{op: ws.OpPing, payload: pattern(126)}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "pong with a 16-bit length form",
			input:    join(clientFrame{op: ws.OpPong, lenCode: 126, payload: []byte("x")}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "continuation without a message in progress",
			input:    join(clientFrame{op: ws.OpContinuation, payload: []byte("x")}),
			wantCode: CloseProtocolError,
		},
		{
			name: "continuation after a finished fragmented message",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a")},
				clientFrame{op: ws.OpContinuation, payload: []byte("b")},
				clientFrame{op: ws.OpContinuation, payload: []byte("c")},
			),
			want:     []Message{{Op: ws.OpText, Payload: []byte("ab")}},
			wantCode: CloseProtocolError,
		},
		{
			name: "text while a fragmented message is in progress",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a")},
				clientFrame{op: ws.OpText, payload: []byte("b")},
			),
			wantCode: CloseProtocolError,
		},
		{
			name: "binary while a fragmented message is in progress",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a")},
				clientFrame{op: ws.OpPing},
				clientFrame{op: ws.OpBinary, more: true, payload: []byte("b")},
			),
			want:     []Message{{Op: ws.OpPing, Payload: []byte{}}},
			wantCode: CloseProtocolError,
		},
		{
			name: "64-bit length with the top bit set, header only",
			input: join(clientFrame{
				op:       ws.OpBinary,
				declare:  true,
				declared: 1 << 63,
			})[:10],
			wantCode: CloseProtocolError,
		},

		// Size limit.
		{
			name:  "single frame at MaxPayload",
			max:   100,
			input: join(clientFrame{op: ws.OpBinary, payload: pattern(100)}),
			want:  []Message{{Op: ws.OpBinary, Payload: pattern(100)}},
		},
		{
			name: "single frame over MaxPayload, header only",
			max:  100,
			input: join(clientFrame{
				op:       ws.OpBinary,
				declare:  true,
				declared: 101,
			})[:2],
			wantCode: CloseTooBig,
		},
		{
			name: "huge 64-bit length over MaxPayload, length field only",
			max:  1 << 20,
			input: join(clientFrame{
				op:       ws.OpText,
				declare:  true,
				declared: 1 << 40,
			})[:10],
			wantCode: CloseTooBig,
		},
		{
			name: "maximal 64-bit length without a limit",
			input: join(clientFrame{
				op:       ws.OpText,
				declare:  true,
				declared: math.MaxInt64,
			})[:14],
			wantCode: CloseTooBig,
		},
		{
			name: "reassembled message at MaxPayload",
			max:  10,
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("123456")},
				clientFrame{op: ws.OpContinuation, payload: []byte("7890")},
			),
			want: []Message{{Op: ws.OpText, Payload: []byte("1234567890")}},
		},
		{
			name: "reassembled message over MaxPayload, header only",
			max:  10,
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("123456")},
				clientFrame{op: ws.OpContinuation, payload: []byte("78901")},
			)[:12+2],
			wantCode: CloseTooBig,
		},
		{
			name: "limit counts from the start of each message",
			max:  4,
			input: join(
				clientFrame{op: ws.OpBinary, more: true, payload: []byte{1, 2}},
				clientFrame{op: ws.OpContinuation, payload: []byte{3, 4}},
				clientFrame{op: ws.OpBinary, more: true, payload: []byte{5, 6, 7}},
				clientFrame{op: ws.OpContinuation, payload: []byte{8}},
			),
			want: []Message{
				{Op: ws.OpBinary, Payload: []byte{1, 2, 3, 4}},
				{Op: ws.OpBinary, Payload: []byte{5, 6, 7, 8}},
			},
		},
		{
			name:     "ping over a small MaxPayload",
			max:      4,
			input:    join(clientFrame{op: ws.OpPing, payload: []byte("hello")}),
			wantCode: CloseTooBig,
		},

		// UTF-8.
		{
			name:     "invalid UTF-8 text",
			input:    join(clientFrame{op: ws.OpText, payload: []byte("ok\xffno")}),
			wantCode: CloseInvalidPayload,
		},
		{
			name:     "UTF-16 surrogate in text",
			input:    join(clientFrame{op: ws.OpText, payload: []byte("\xed\xa0\x80")}),
			wantCode: CloseInvalidPayload,
		},
		{
			name:  "invalid UTF-8 is fine in binary",
			input: join(clientFrame{op: ws.OpBinary, payload: []byte("\xff\xfe")}),
			want:  []Message{{Op: ws.OpBinary, Payload: []byte("\xff\xfe")}},
		},
		{
			name: "invalid UTF-8 in the first fragment fails at once",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a\xc0\xafb")},
			),
			wantCode: CloseInvalidPayload,
		},
		{
			name: "invalid UTF-8 in a middle fragment fails at once",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("a\xe2")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\x28")},
			),
			wantCode: CloseInvalidPayload,
		},
		{
			name: "surrogate split across fragments",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("\xed")},
				clientFrame{op: ws.OpContinuation, more: true, payload: []byte("\xa0")},
				clientFrame{op: ws.OpContinuation, payload: []byte("\x80")},
			),
			wantCode: CloseInvalidPayload,
		},
		{
			name: "truncated code point at the end of the message",
			input: join(
				clientFrame{op: ws.OpText, more: true, payload: []byte("ab\xe2")},
				clientFrame{op: ws.OpContinuation, payload: []byte("\x82")},
			),
			wantCode: CloseInvalidPayload,
		},

		// Close frames.
		{
			name:  "close without body",
			input: join(clientFrame{op: ws.OpClose}),
			want:  []Message{{Op: ws.OpClose, Payload: []byte{}}},
		},
		{
			name:     "close with a 1-byte body",
			input:    join(clientFrame{op: ws.OpClose, payload: []byte{3}}),
			wantCode: CloseProtocolError,
		},
		{
			name:     "close reason not UTF-8",
			input:    join(clientFrame{op: ws.OpClose, payload: closeBody(1000, "\xff")}),
			wantCode: CloseInvalidPayload,
		},
		{
			name:  "close with a 123-byte reason",
			input: join(clientFrame{op: ws.OpClose, payload: closeBody(4000, strings.Repeat("r", 123))}),
			want:  []Message{{Op: ws.OpClose, Payload: closeBody(4000, strings.Repeat("r", 123))}},
		},
	}

	// Every reserved bit and every reserved opcode, one case each.
	for _, rsv := range []byte{4, 2, 1} {
		cases = append(cases, decodeCase{
			name:     fmt.Sprintf("RSV bits %03b", rsv),
			input:    join(clientFrame{op: ws.OpText, rsv: rsv, payload: []byte("x")}),
			wantCode: CloseProtocolError,
		})
	}
	for _, op := range []ws.OpCode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		cases = append(cases, decodeCase{
			name:     fmt.Sprintf("reserved opcode %#x", byte(op)),
			input:    join(clientFrame{op: op}),
			wantCode: CloseProtocolError,
		})
	}

	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, decodeCase{
			name:  fmt.Sprintf("close code %d accepted", code),
			input: join(clientFrame{op: ws.OpClose, payload: closeBody(code, "why")}),
			want:  []Message{{Op: ws.OpClose, Payload: closeBody(code, "why")}},
		})
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, decodeCase{
			name:     fmt.Sprintf("close code %d rejected", code),
			input:    join(clientFrame{op: ws.OpClose, payload: closeBody(code, "")}),
			wantCode: CloseProtocolError,
		})
	}
	return cases
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			d := Decoder{MaxPayload: tc.max}
			defer d.Reset()
			msgs, code, rest := decodeAll(t, &d, bytes.Clone(tc.input))
			if code != tc.wantCode {
				t.Fatalf(
					"close code = %d, want %d",
					code, tc.wantCode,
				)
			}
			if len(msgs) != len(tc.want) {
				t.Fatalf(
					"got %d messages, want %d: %v",
					len(msgs), len(tc.want), msgs,
				)
			}
			for i := range msgs {
				if msgs[i].Op != tc.want[i].Op || !bytes.Equal(msgs[i].Payload, tc.want[i].Payload) {
					t.Errorf(
						"message %d = {%v %q}, want {%v %q}",
						i, msgs[i].Op, trim(msgs[i].Payload), tc.want[i].Op, trim(tc.want[i].Payload),
					)
				}
			}
			if tc.wantCode == 0 && rest != tc.wantRest {
				t.Errorf(
					"%d bytes left undecoded, want %d",
					rest, tc.wantRest,
				)
			}
		})
	}
}

// trim shortens long payloads in failure messages.
func trim(p []byte) []byte {
	if len(p) > 40 {
		return p[:40]
	}
	return p
}

// TestDecodeEveryPrefix feeds every proper prefix of valid frames: each must
// report "need more" (n == 0, no error), leave the bytes untouched (still
// masked) and report a NeedBytes larger than what is there.
func TestDecodeEveryPrefix(t *testing.T) {
	frames := []clientFrame{
		{op: ws.OpText, payload: []byte("hello")},
		{op: ws.OpBinary},
		{op: ws.OpBinary, payload: pattern(126)},
		{op: ws.OpBinary, payload: pattern(70000)},
		{op: ws.OpBinary, lenCode: 127, payload: pattern(3)},
		{op: ws.OpPing, payload: pattern(125)},
		{op: ws.OpClose, payload: closeBody(1001, "gone")},
		{op: ws.OpText, more: true, payload: []byte("frag")},
	}
	for _, f := range frames {
		full := f.bytes()
		t.Run(fmt.Sprintf("%v/%d", f.op, len(f.payload)), func(t *testing.T) {
			// Big frames: every prefix of the header, then a sample of the
			// payload prefixes, to keep the test fast.
			for i := 0; i < len(full); i++ {
				if i > 2*maxHeader && i%997 != 0 && i < len(full)-2*maxHeader {
					continue
				}
				var d Decoder
				buf := bytes.Clone(full[:i])
				msg, n, ok, err := d.Decode(buf)
				if n != 0 || ok || err != nil || msg.Payload != nil {
					t.Fatalf(
						"prefix %d/%d: n=%d ok=%v err=%v, want need-more",
						i, len(full), n, ok, err,
					)
				}
				if !bytes.Equal(buf, full[:i]) {
					t.Fatalf(
						"prefix %d/%d: input modified before the frame was complete",
						i, len(full),
					)
				}
				need := d.NeedBytes()
				if need <= i || need > len(full) {
					t.Fatalf(
						"prefix %d/%d: NeedBytes = %d",
						i, len(full), need,
					)
				}
				// Once the length field is complete (everything but the
				// 4-byte mask of the header) the total is exact.
				if i >= clientHeaderLen(full)-4 && need != len(full) {
					t.Fatalf(
						"prefix %d/%d: NeedBytes = %d, want exact %d",
						i, len(full), need, len(full),
					)
				}
			}
			var d Decoder
			_, n, _, err := d.Decode(bytes.Clone(full))
			if n != len(full) || err != nil {
				t.Fatalf(
					"full frame: n=%d err=%v, want n=%d",
					n, err, len(full),
				)
			}
		})
	}
}

// clientHeaderLen is the header length (with mask) of an encoded client frame.
func clientHeaderLen(frame []byte) int {
	switch frame[1] & 0x7f {
	case 126:
		return 8
	case 127:
		return 14
	}
	return 6
}

// TestDecodeStreaming delivers a multi-frame stream one byte at a time, as a
// slow connection would, and expects the same messages as decoding it whole.
func TestDecodeStreaming(t *testing.T) {
	stream := join(
		clientFrame{op: ws.OpText, more: true, payload: []byte("Hel")},
		clientFrame{op: ws.OpPing, payload: []byte("x")},
		clientFrame{op: ws.OpContinuation, more: true, payload: []byte("lo \xe2")},
		clientFrame{op: ws.OpContinuation, payload: []byte("\x82\xac")},
		clientFrame{op: ws.OpBinary, payload: pattern(300)},
		clientFrame{op: ws.OpClose, payload: closeBody(1000, "")},
	)
	want := []Message{
		{Op: ws.OpPing, Payload: []byte("x")},
		{Op: ws.OpText, Payload: []byte("Hello €")},
		{Op: ws.OpBinary, Payload: pattern(300)},
		{Op: ws.OpClose, Payload: closeBody(1000, "")},
	}
	var d Decoder
	defer d.Reset()
	var pending []byte
	var got []Message
	for _, c := range stream {
		pending = append(pending, c)
		msgs, code, rest := decodeAll(t, &d, pending)
		if code != 0 {
			t.Fatalf(
				"unexpected close code %d",
				code,
			)
		}
		got = append(got, msgs...)
		pending = append(pending[:0], pending[len(pending)-rest:]...)
	}
	if len(pending) != 0 {
		t.Fatalf(
			"%d bytes left over",
			len(pending),
		)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf(
			"got %v\nwant %v",
			got, want,
		)
	}
}

// TestRoundTripGobwas encodes client frames with gobwas/ws (the way a Go
// client would) and decodes them back.
func TestRoundTripGobwas(t *testing.T) {
	for _, size := range []int{0, 1, 3, 4, 15, 16, 17, 125, 126, 127, 1000, 65535, 65536, 100000} {
		for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
			payload := pattern(size)
			if op == ws.OpText {
				payload = asciiText(size)
			}
			var wire bytes.Buffer
			f := ws.MaskFrameInPlace(ws.NewFrame(op, true, bytes.Clone(payload)))
			if err := ws.WriteFrame(&wire, f); err != nil {
				t.Fatal(err)
			}
			var d Decoder
			msg, n, ok, err := d.Decode(wire.Bytes())
			if err != nil || !ok || n != wire.Len() {
				t.Fatalf(
					"size %d %v: n=%d/%d ok=%v err=%v",
					size, op, n, wire.Len(), ok, err,
				)
			}
			if msg.Op != op || !bytes.Equal(msg.Payload, payload) {
				t.Fatalf(
					"size %d %v: payload mismatch",
					size, op,
				)
			}
		}
	}
}

// TestRoundTripFragmentedGobwas splits a message into fragments with
// gobwas/ws frames, each masked with a fresh random key.
func TestRoundTripFragmentedGobwas(t *testing.T) {
	text := []byte(strings.Repeat("fragmented ünïcödé 🌍 ", 50))
	for _, chunk := range []int{1, 2, 3, 5, 7, 64, 500} {
		var wire bytes.Buffer
		for off := 0; off < len(text); off += chunk {
			end := min(off+chunk, len(text))
			op := ws.OpContinuation
			if off == 0 {
				op = ws.OpText
			}
			f := ws.MaskFrameInPlace(ws.NewFrame(op, end == len(text), bytes.Clone(text[off:end])))
			if err := ws.WriteFrame(&wire, f); err != nil {
				t.Fatal(err)
			}
		}
		var d Decoder
		msgs, code, rest := decodeAll(t, &d, wire.Bytes())
		if code != 0 || rest != 0 || len(msgs) != 1 || !bytes.Equal(msgs[0].Payload, text) {
			t.Fatalf(
				"chunk %d: code=%d rest=%d msgs=%d",
				chunk, code, rest, len(msgs),
			)
		}
		d.Reset()
	}
}

// TestDecoderReleasesReassemblyBuffer checks the pooled buffer is held only
// while it is needed.
func TestDecoderReleasesReassemblyBuffer(t *testing.T) {
	var d Decoder
	first := clientFrame{op: ws.OpBinary, more: true, payload: []byte("ab")}.bytes()
	last := clientFrame{op: ws.OpContinuation, payload: []byte("cd")}.bytes()

	if _, _, ok, err := d.Decode(first); ok || err != nil || d.frag == nil {
		t.Fatalf(
			"after first fragment: ok=%v err=%v frag=%v",
			ok, err, d.frag,
		)
	}
	msg, _, ok, err := d.Decode(last)
	if !ok || err != nil || string(msg.Payload) != "abcd" {
		t.Fatalf(
			"after last fragment: ok=%v err=%v payload=%q",
			ok, err, msg.Payload,
		)
	}
	if d.frag == nil {
		t.Fatal("reassembly buffer released while the message still aliases it")
	}
	if _, n, _, _ := d.Decode(nil); n != 0 || d.frag != nil {
		t.Fatalf(
			"next Decode kept the reassembly buffer: frag=%v",
			d.frag,
		)
	}

	// Reset in the middle of a message frees the buffer and the state.
	d.MaxPayload = 77
	d.Decode(clientFrame{op: ws.OpText, more: true, payload: []byte("x")}.bytes())
	d.Reset()
	if d.frag != nil || d.fragOp != 0 || d.MaxPayload != 77 {
		t.Fatalf(
			"Reset left state: %+v",
			d,
		)
	}
	if _, _, ok, err := d.Decode(clientFrame{op: ws.OpText, payload: []byte("y")}.bytes()); !ok || err != nil {
		t.Fatalf(
			"Decode after Reset: ok=%v err=%v",
			ok, err,
		)
	}
}

// TestDecoderSize guards the per-connection footprint.
func TestDecoderSize(t *testing.T) {
	if size := unsafe.Sizeof(Decoder{}); size > 48 {
		t.Fatalf(
			"Decoder is %d bytes, want at most 48",
			size,
		)
	}
}

func TestCloseError(t *testing.T) {
	var d Decoder
	_, _, _, err := d.Decode(clientFrame{op: ws.OpText, unmasked: true}.bytes())
	if err == nil || err.Error() != "wsframe: client frame is not masked (close 1002)" {
		t.Fatalf(
			"err = %v",
			err,
		)
	}
}

func TestAllocsDecode(t *testing.T) {
	var d Decoder
	frame := clientFrame{op: ws.OpBinary, payload: pattern(1024)}.bytes()
	allocs := testing.AllocsPerRun(1000, func() {
		// Unmasking is in place, so each run flips the payload between
		// masked and unmasked; a binary frame decodes either way.
		_, n, ok, err := d.Decode(frame)
		if n != len(frame) || !ok || err != nil {
			t.Fatal("decode failed")
		}
	})
	if allocs != 0 {
		t.Fatalf(
			"Decode allocates %v times per frame",
			allocs,
		)
	}
}
