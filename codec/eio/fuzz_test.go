package eio

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodePayload checks that DecodePayload never panics, that it fails
// only with ErrInvalidPacket, and that every packet it returns survives a
// round trip through AppendPayloadPacket and DecodePayload unchanged.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		"4hello\x1ebAQIDBA==",
		"4hello\x1e2\x1e4world",
		"0{\"sid\":\"x\"}\x1e6",
		"b",
		"bAQ==\x1ebAQI=\x1ebAQID",
		"4a\x1e",
		"\x1e",
		"7",
		"bAQ=D",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		work := bytes.Clone(in) // DecodePayload decodes in place
		var packets []Packet
		err := DecodePayload(work, func(p Packet) error {
			packets = append(packets, p)
			return nil
		})
		if err != nil && !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("DecodePayload(%q) error %v does not wrap ErrInvalidPacket", in, err)
		}
		if err == nil && len(packets) == 0 {
			t.Fatalf("DecodePayload(%q) succeeded with no packets", in)
		}
		if len(packets) == 0 {
			return
		}
		checkPayloadRoundTrip(t, packets)
	})
}

// FuzzDecodeText checks that DecodeText never panics, that a decoded packet
// re-encodes with AppendText to exactly the input, and that it survives a
// round trip through a polling payload when its data allows it.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3probe", "6", "5", "0{}", "1", "", "7", "b", "4\x1e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodeText(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("DecodeText(%q) error %v does not wrap ErrInvalidPacket", in, err)
			}
			return
		}
		if p.Binary || p.Type < Open || p.Type > Noop {
			t.Fatalf("DecodeText(%q) = %+v", in, p)
		}
		if out := AppendText(nil, p.Type, p.Data); !bytes.Equal(out, in) {
			t.Fatalf("AppendText(DecodeText(%q)) = %q", in, out)
		}
		// The payload format cannot carry a separator inside text data.
		if bytes.IndexByte(p.Data, Separator) < 0 {
			checkPayloadRoundTrip(t, []Packet{p})
		}
	})
}

// checkPayloadRoundTrip encodes packets into a payload and decodes it again,
// failing unless the same packets come back.
func checkPayloadRoundTrip(t *testing.T, packets []Packet) {
	t.Helper()
	var buf []byte
	for _, p := range packets {
		buf = AppendPayloadPacket(buf, 0, p)
	}
	encoded := string(buf)
	i := 0
	err := DecodePayload(buf, func(q Packet) error {
		if i >= len(packets) {
			t.Fatalf("re-decoding %q gave more than %d packets", encoded, len(packets))
		}
		p := packets[i]
		if q.Type != p.Type || q.Binary != p.Binary || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("packet %d: re-decoded %+v from %q, want %+v", i, q, encoded, p)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatalf("re-decoding %q: %v", encoded, err)
	}
	if i != len(packets) {
		t.Fatalf("re-decoding %q gave %d packets, want %d", encoded, i, len(packets))
	}
}
