package wsframe

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"
)

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{128, 16 << 10} {
		for _, op := range []ws.OpCode{ws.OpBinary, ws.OpText} {
			// ASCII text XOR an ASCII mask (testMask) is ASCII, so the
			// in-place unmask flipping the payload on every iteration
			// keeps the text frame valid.
			payload := pattern(size)
			if op == ws.OpText {
				payload = asciiText(size)
			}
			frame := clientFrame{op: op, payload: payload}.bytes()
			name := "binary"
			if op == ws.OpText {
				name = "text"
			}
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				var d Decoder
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, ok, err := d.Decode(frame); !ok || err != nil {
						b.Fatal("decode failed")
					}
				}
			})
		}
	}
}

func BenchmarkDecodeFragmented(b *testing.B) {
	// A 16 KiB text message in 16 fragments of 1 KiB.
	var frames []clientFrame
	for i := range 16 {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		frames = append(frames, clientFrame{op: op, more: i < 15, payload: asciiText(1024)})
	}
	wire := join(frames...)
	var d Decoder
	b.SetBytes(16 << 10)
	b.ReportAllocs()
	for b.Loop() {
		buf := wire
		for len(buf) > 0 {
			_, n, _, err := d.Decode(buf)
			if err != nil || n == 0 {
				b.Fatal("decode failed")
			}
			buf = buf[n:]
		}
	}
	d.Reset()
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, size := range []int{128, 16 << 10} {
		payload := pattern(size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			dst := make([]byte, 0, HeaderLen(size)+size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendFrame(dst[:0], ws.OpBinary, payload)
			}
		})
	}
}

func BenchmarkAcceptKey(b *testing.B) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	dst := make([]byte, 0, 28)
	b.ReportAllocs()
	for b.Loop() {
		dst = AcceptKey(dst[:0], key)
	}
}
