package eio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// collect decodes a copy of payload and returns the packets, with Data copied
// so that the results do not alias the work buffer.
func collect(payload string) ([]Packet, error) {
	var out []Packet
	err := DecodePayload([]byte(payload), func(p Packet) error {
		p.Data = append([]byte{}, p.Data...)
		out = append(out, p)
		return nil
	})
	return out, err
}

func text(t PacketType, s string) Packet { return Packet{Type: t, Data: []byte(s)} }
func bin(b ...byte) Packet               { return Packet{Type: Message, Data: append([]byte{}, b...), Binary: true} }

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    []Packet
	}{
		{"spec text", "4hello\x1e2\x1e4world", []Packet{text(Message, "hello"), text(Ping, ""), text(Message, "world")}},
		{"spec binary", "4hello\x1ebAQIDBA==", []Packet{text(Message, "hello"), bin(1, 2, 3, 4)}},
		{"single", "6", []Packet{text(Noop, "")}},
		{"every type", "0{}\x1e1\x1e2probe\x1e3probe\x1e4x\x1e5\x1e6",
			[]Packet{text(Open, "{}"), text(Close, ""), text(Ping, "probe"), text(Pong, "probe"), text(Message, "x"), text(Upgrade, ""), text(Noop, "")}},
		{"empty binary", "b", []Packet{bin()}},
		{"binary one pad", "bAQI=", []Packet{bin(1, 2)}},
		{"binary full group", "bAQID", []Packet{bin(1, 2, 3)}},
		{"binary long", "bAAECAwQFBgcICQ==\x1e4a", []Packet{bin(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), text(Message, "a")}},
		{"binary first", "b/w==\x1e4end", []Packet{bin(0xff), text(Message, "end")}},
		{"unused bits ignored", "bAR==", []Packet{bin(1)}},
		{"utf-8 text", "4€\x1e4✓", []Packet{text(Message, "€"), text(Message, "✓")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(tt.payload)
			if err != nil {
				t.Fatalf("DecodePayload(%q): %v", tt.payload, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodePayload(%q) =\n%v\nwant\n%v", tt.payload, got, tt.want)
			}
		})
	}
}

func TestDecodePayloadInvalid(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		good    int // packets delivered before the error
	}{
		{"empty payload", "", 0},
		{"only separator", "\x1e", 0},
		{"leading separator", "\x1e4a", 0},
		{"trailing separator", "4a\x1e", 1},
		{"double separator", "4a\x1e\x1e4b", 1},
		{"unknown type 7", "7", 0},
		{"unknown type after good", "4a\x1e9x", 1},
		{"unknown letter", "x", 0},
		{"base64 bad length", "bAQIDB", 0},
		{"base64 length 1", "bA", 0},
		{"base64 bad char", "bAQ*D", 0},
		{"base64 url alphabet", "b-_8=", 0},
		{"base64 padding inside", "bAQ==AQID", 0},
		{"base64 pad then char", "bAQ=D", 0},
		{"base64 three pads", "bA===", 0},
		{"base64 whitespace", "bAQ\nID", 0},
		{"base64 space", "b AQI", 0},
		{"bad base64 after good", "4a\x1ebA", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(tt.payload)
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("DecodePayload(%q) error = %v, want ErrInvalidPacket", tt.payload, err)
			}
			if len(got) != tt.good {
				t.Fatalf("DecodePayload(%q) delivered %d packets before the error, want %d", tt.payload, len(got), tt.good)
			}
		})
	}
}

func TestDecodePayloadCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), func(Packet) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("err = %v after %d calls, want the callback's error after 2", err, calls)
	}
}

// TestDecodePayloadDataStaysValid checks that in-place decoding of a later
// binary packet never clobbers the Data of an earlier one.
func TestDecodePayloadDataStaysValid(t *testing.T) {
	payload := []byte("bAQIDBA==\x1e4mid\x1ebBQYHCA==\x1ebCQ==")
	var got []Packet
	if err := DecodePayload(payload, func(p Packet) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []Packet{bin(1, 2, 3, 4), text(Message, "mid"), bin(5, 6, 7, 8), bin(9)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Data must alias the payload (no copies were made).
	if &got[1].Data[0] != &payload[11] {
		t.Fatal("text Data does not alias the payload")
	}
}

func TestDecodeBase64InPlaceMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		enc := []byte(base64.StdEncoding.EncodeToString(raw))
		m, ok := decodeBase64InPlace(enc)
		if !ok || !bytes.Equal(enc[:m], raw) {
			t.Fatalf("n=%d: decodeBase64InPlace = %x, %v; want %x", n, enc[:m], ok, raw)
		}
	}
}

func TestAppendPayloadPacket(t *testing.T) {
	packets := []Packet{text(Open, `{"sid":"x"}`), text(Message, "hello"), bin(1, 2, 3, 4), text(Ping, ""), bin(), text(Message, "€"), bin(0xff, 0xfe)}
	// The payload follows unrelated bytes in the same buffer.
	buf := []byte("HTTP/1.1 200 OK\r\n\r\n")
	start := len(buf)
	for _, p := range packets {
		buf = AppendPayloadPacket(buf, start, p)
	}
	wantWire := "0{\"sid\":\"x\"}\x1e4hello\x1ebAQIDBA==\x1e2\x1eb\x1e4€\x1eb//4="
	if got := string(buf[start:]); got != wantWire {
		t.Fatalf("payload = %q, want %q", got, wantWire)
	}
	got, err := collect(string(buf[start:]))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, packets) {
		t.Fatalf("round trip = %v, want %v", got, packets)
	}
}

func TestPayloadRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 500; iter++ {
		var packets []Packet
		for k := 1 + r.IntN(8); k > 0; k-- {
			data := make([]byte, r.IntN(40))
			for i := range data {
				data[i] = byte(r.Uint32())
			}
			if r.IntN(2) == 0 {
				packets = append(packets, Packet{Type: Message, Data: data, Binary: true})
				continue
			}
			for i, c := range data {
				if c == Separator {
					data[i] = 'x'
				}
			}
			packets = append(packets, Packet{Type: Open + PacketType(r.IntN(7)), Data: data})
		}
		var buf []byte
		for _, p := range packets {
			buf = AppendPayloadPacket(buf, 0, p)
		}
		got, err := collect(string(buf))
		if err != nil {
			t.Fatalf("decode %q: %v", buf, err)
		}
		if !reflect.DeepEqual(got, packets) {
			t.Fatalf("round trip of %q:\n got %v\nwant %v", buf, got, packets)
		}
	}
}

func countPackets(Packet) error { return nil }

func TestPayloadAllocs(t *testing.T) {
	pristine := []byte("4hello\x1ebAQIDBA==\x1e2\x1e42[\"chat\",\"hi there\"]\x1ebAAECAwQFBgcICQ==")
	work := make([]byte, len(pristine))
	allocs := testing.AllocsPerRun(1000, func() {
		copy(work, pristine) // decoding is in place, so start from the original each run
		if err := DecodePayload(work, countPackets); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodePayload: %v allocs per run, want 0", allocs)
	}

	packets := []Packet{text(Message, "hello"), bin(1, 2, 3, 4), text(Ping, "")}
	dst := make([]byte, 0, 512)
	allocs = testing.AllocsPerRun(1000, func() {
		dst = dst[:0]
		for _, p := range packets {
			dst = AppendPayloadPacket(dst, 0, p)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendPayloadPacket: %v allocs per run, want 0", allocs)
	}
	if string(dst) != "4hello\x1ebAQIDBA==\x1e2" {
		t.Errorf("payload = %q", dst)
	}
}

func ExampleAppendPayloadPacket() {
	buf := make([]byte, 0, 64)
	start := len(buf)
	buf = AppendPayloadPacket(buf, start, Packet{Type: Message, Data: []byte("hello")})
	buf = AppendPayloadPacket(buf, start, Packet{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true})
	fmt.Printf("%q\n", buf)
	// Output: "4hello\x1ebAQIDBA=="
}

func ExampleDecodePayload() {
	payload := []byte("4hello\x1ebAQIDBA==") // decoded in place: the caller owns it
	_ = DecodePayload(payload, func(p Packet) error {
		fmt.Println(p.Type, p.Binary, p.Data)
		return nil
	})
	// Output:
	// message false [104 101 108 108 111]
	// message true [1 2 3 4]
}
