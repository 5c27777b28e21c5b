package eio

import (
	"bytes"
	"testing"
)

// benchPayload returns a polling payload of n packets, alternating a
// Socket.IO event and (if withBinary) a 64-byte binary attachment.
func benchPayload(n int, withBinary bool) []byte {
	blob := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16)
	var buf []byte
	for i := 0; i < n; i++ {
		if withBinary && i%2 == 1 {
			buf = AppendPayloadPacket(buf, 0, Packet{Type: Message, Data: blob, Binary: true})
			continue
		}
		buf = AppendPayloadPacket(buf, 0, Packet{Type: Message, Data: []byte(`2["chat message",{"user":"alice","text":"hello, world"}]`)})
	}
	return buf
}

func BenchmarkDecodePayload(b *testing.B) {
	for _, bc := range []struct {
		name   string
		binary bool
	}{{"text", false}, {"mixed", true}} {
		b.Run(bc.name, func(b *testing.B) {
			pristine := benchPayload(16, bc.binary)
			work := make([]byte, len(pristine))
			b.SetBytes(int64(len(pristine)))
			b.ReportAllocs()
			for b.Loop() {
				copy(work, pristine) // in-place decoding consumes the input
				if err := DecodePayload(work, countPackets); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPayloadPacket(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Packet
	}{
		{"text", Packet{Type: Message, Data: []byte(`2["chat message",{"user":"alice","text":"hello, world"}]`)}},
		{"binary64", Packet{Type: Message, Data: bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16), Binary: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const perPayload = 16
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(bc.p.Data)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%perPayload == 0 {
					dst = dst[:0]
				}
				dst = AppendPayloadPacket(dst, 0, bc.p)
				i++
			}
		})
	}
}

func BenchmarkDecodeText(b *testing.B) {
	in := []byte(`42["chat message",{"user":"alice","text":"hello, world"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeText(in); err != nil {
			b.Fatal(err)
		}
	}
}
