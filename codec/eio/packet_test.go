package eio

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacketTypeString(t *testing.T) {
	tests := []struct {
		t    PacketType
		want string
	}{
		{Open, "open"}, {Close, "close"}, {Ping, "ping"}, {Pong, "pong"},
		{Message, "message"}, {Upgrade, "upgrade"}, {Noop, "noop"},
		{'7', "PacketType(55)"}, {'b', "PacketType(98)"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("PacketType(%d).String() = %q, want %q", byte(tt.t), got, tt.want)
		}
	}
	if Open != '0' || Noop != '6' {
		t.Fatal("packet type values must be the ASCII digits")
	}
}

// textCases covers every packet type, with and without data.
var textCases = []struct {
	wire string
	typ  PacketType
	data string
}{
	{"0", Open, ""},
	{`0{"sid":"abc"}`, Open, `{"sid":"abc"}`},
	{"1", Close, ""},
	{"2", Ping, ""},
	{"2probe", Ping, "probe"},
	{"3", Pong, ""},
	{"3probe", Pong, "probe"},
	{"4", Message, ""},
	{"4hello", Message, "hello"},
	{"4€ utf-8 ✓", Message, "€ utf-8 ✓"},
	{`42["event",{"a":1}]`, Message, `2["event",{"a":1}]`},
	{"5", Upgrade, ""},
	{"6", Noop, ""},
}

func TestDecodeText(t *testing.T) {
	for _, tt := range textCases {
		p, err := DecodeText([]byte(tt.wire))
		if err != nil {
			t.Errorf("DecodeText(%q): %v", tt.wire, err)
			continue
		}
		if p.Type != tt.typ || string(p.Data) != tt.data || p.Binary {
			t.Errorf("DecodeText(%q) = {%v %q %v}, want {%v %q false}", tt.wire, p.Type, p.Data, p.Binary, tt.typ, tt.data)
		}
	}
}

func TestDecodeTextAliasesInput(t *testing.T) {
	in := []byte("4hello")
	p, err := DecodeText(in)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 'J'
	if string(p.Data) != "Jello" {
		t.Fatalf("Data = %q, want it to alias the input", p.Data)
	}
}

func TestAppendText(t *testing.T) {
	for _, tt := range textCases {
		got := AppendText([]byte("prefix:"), tt.typ, []byte(tt.data))
		if want := "prefix:" + tt.wire; string(got) != want {
			t.Errorf("AppendText(%v, %q) = %q, want %q", tt.typ, tt.data, got, want)
		}
	}
}

func TestDecodeTextInvalid(t *testing.T) {
	for _, in := range []string{"", "7", "9hello", "b", "bAQIDBA==", "/", ":", "x", "\x1e", "\x00"} {
		if _, err := DecodeText([]byte(in)); !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("DecodeText(%q) error = %v, want ErrInvalidPacket", in, err)
		}
	}
}

func TestTextAllocs(t *testing.T) {
	in := []byte(`42["chat","hello world"]`)
	dst := make([]byte, 0, 256)
	var sink Packet
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := DecodeText(in)
		if err != nil {
			panic(err)
		}
		sink = p
		dst = AppendText(dst[:0], p.Type, p.Data)
	})
	if allocs != 0 {
		t.Fatalf("DecodeText+AppendText: %v allocs per run, want 0", allocs)
	}
	if !bytes.Equal(dst, in) || sink.Type != Message {
		t.Fatalf("round trip = %q", dst)
	}
}
