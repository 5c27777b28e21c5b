package sio

import (
	"errors"
	"strings"
	"testing"
)

// wirePackets are the examples of the protocol document (docs/socket.io-protocol/v5-current.md) and of the
// Node.js parser's tests, with the packet each one decodes to.
var wirePackets = []struct {
	wire string
	p    Packet
}{
	{`0`, Packet{Type: Connect, Namespace: []byte("/"), ID: NoID}},
	{`0/admin,`, Packet{Type: Connect, Namespace: []byte("/admin"), ID: NoID}},
	{`0/admin,{"sid":"oSO0OpakmV4uOm4q"}`, Packet{Type: Connect, Namespace: []byte("/admin"), ID: NoID, Data: []byte(`{"sid":"oSO0OpakmV4uOm4q"}`)}},
	{`0{"token":"123"}`, Packet{Type: Connect, Namespace: []byte("/"), ID: NoID, Data: []byte(`{"token":"123"}`)}},
	{`1`, Packet{Type: Disconnect, Namespace: []byte("/"), ID: NoID}},
	{`1/admin,`, Packet{Type: Disconnect, Namespace: []byte("/admin"), ID: NoID}},
	{`2["hello",1]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`["hello",1]`)}},
	{`2["foo"]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`["foo"]`)}},
	{`2/admin,["bar"]`, Packet{Type: Event, Namespace: []byte("/admin"), ID: NoID, Data: []byte(`["bar"]`)}},
	{`212["foo"]`, Packet{Type: Event, Namespace: []byte("/"), ID: 12, Data: []byte(`["foo"]`)}},
	{`2/admin,456["project:delete",123]`, Packet{Type: Event, Namespace: []byte("/admin"), ID: 456, Data: []byte(`["project:delete",123]`)}},
	{`2[1,2]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`[1,2]`)}},
	{`3/admin,456[]`, Packet{Type: Ack, Namespace: []byte("/admin"), ID: 456, Data: []byte(`[]`)}},
	{`3/admin,13["bar"]`, Packet{Type: Ack, Namespace: []byte("/admin"), ID: 13, Data: []byte(`["bar"]`)}},
	{`312[]`, Packet{Type: Ack, Namespace: []byte("/"), ID: 12, Data: []byte(`[]`)}},
	{`4{"message":"Not authorized"}`, Packet{Type: ConnectError, Namespace: []byte("/"), ID: NoID, Data: []byte(`{"message":"Not authorized"}`)}},
	{`4"Unauthorized"`, Packet{Type: ConnectError, Namespace: []byte("/"), ID: NoID, Data: []byte(`"Unauthorized"`)}},
	{`4/x,{"message":"Invalid namespace"}`, Packet{Type: ConnectError, Namespace: []byte("/x"), ID: NoID, Data: []byte(`{"message":"Invalid namespace"}`)}},
	{`51-["hello",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 1, Data: []byte(`["hello",{"_placeholder":true,"num":0}]`)}},
	{`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, Packet{Type: BinaryEvent, Namespace: []byte("/admin"), ID: NoID, Attachments: 2, Data: []byte(`["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
	{`61-15["bar",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Namespace: []byte("/"), ID: 15, Attachments: 1, Data: []byte(`["bar",{"_placeholder":true,"num":0}]`)}},
	{`61-/admin,456[{"_placeholder":true,"num":0}]`, Packet{Type: BinaryAck, Namespace: []byte("/admin"), ID: 456, Attachments: 1, Data: []byte(`[{"_placeholder":true,"num":0}]`)}},
}

func packetsEqual(a, b Packet) bool {
	return a.Type == b.Type && string(a.Namespace) == string(b.Namespace) && a.ID == b.ID &&
		a.Attachments == b.Attachments && string(a.Data) == string(b.Data) && (a.Data == nil) == (b.Data == nil)
}

func TestDecodeWire(t *testing.T) {
	for _, tc := range wirePackets {
		p, err := Decode([]byte(tc.wire))
		if err != nil {
			t.Errorf("Decode(%s): %v", tc.wire, err)
			continue
		}
		if !packetsEqual(p, tc.p) {
			t.Errorf("Decode(%s) = %+v, want %+v", tc.wire, p, tc.p)
		}
	}
}

func TestAppendPacketWire(t *testing.T) {
	for _, tc := range wirePackets {
		if got := string(AppendPacket(nil, tc.p)); got != tc.wire {
			t.Errorf("AppendPacket(%+v) = %s, want %s", tc.p, got, tc.wire)
		}
	}
}

// TestEncodeWire writes the protocol examples with the typed encoders.
func TestEncodeWire(t *testing.T) {
	var e Encoder
	bin := []byte{1, 2, 3, 4}
	cases := []struct {
		got  func() ([]byte, error)
		want string
		att  int
	}{
		{func() ([]byte, error) { return AppendConnect(nil, "/", "wZX3oN0bSVIhsaknAAAI"), nil }, `0{"sid":"wZX3oN0bSVIhsaknAAAI"}`, 0},
		{func() ([]byte, error) { return AppendConnect(nil, "/admin", "oSO0OpakmV4uOm4q"), nil }, `0/admin,{"sid":"oSO0OpakmV4uOm4q"}`, 0},
		{func() ([]byte, error) { return AppendConnect(nil, "", "x"), nil }, `0{"sid":"x"}`, 0},
		{func() ([]byte, error) { return AppendConnectPID(nil, "/", "s", "p"), nil }, `0{"sid":"s","pid":"p"}`, 0},
		{func() ([]byte, error) { return AppendConnectPID(nil, "/a", "s", ""), nil }, `0/a,{"sid":"s"}`, 0},
		{func() ([]byte, error) { return AppendDisconnect(nil, "/"), nil }, `1`, 0},
		{func() ([]byte, error) { return AppendDisconnect(nil, "/admin"), nil }, `1/admin,`, 0},
		{func() ([]byte, error) { return AppendConnectError(nil, "/", "Not authorized", nil) }, `4{"message":"Not authorized"}`, 0},
		{func() ([]byte, error) { return AppendConnectError(nil, "/x", "Invalid namespace", nil) }, `4/x,{"message":"Invalid namespace"}`, 0},
		{func() ([]byte, error) {
			return AppendConnectError(nil, "/", "refused", map[string]any{"code": "E", "n": 5})
		}, `4{"message":"refused","data":{"code":"E","n":5}}`, 0},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/", NoID, "hello", []any{1}) }, `2["hello",1]`, 0},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/", NoID, "foo", nil) }, `2["foo"]`, 0},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/admin", NoID, "bar", nil) }, `2/admin,["bar"]`, 0},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/", 12, "foo", nil) }, `212["foo"]`, 0},
		{func() ([]byte, error) {
			return e.AppendEvent(nil, "/admin", 456, "project:delete", []any{123})
		}, `2/admin,456["project:delete",123]`, 0},
		{func() ([]byte, error) { return e.AppendAck(nil, "/admin", 456, nil) }, `3/admin,456[]`, 0},
		{func() ([]byte, error) { return e.AppendAck(nil, "/admin", 13, []any{"bar"}) }, `3/admin,13["bar"]`, 0},
		{func() ([]byte, error) { return e.AppendAck(nil, "/", 12, []any{}) }, `312[]`, 0},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/", NoID, "hello", []any{bin}) }, `51-["hello",{"_placeholder":true,"num":0}]`, 1},
		{func() ([]byte, error) { return e.AppendEvent(nil, "/", NoID, "baz", []any{bin}) }, `51-["baz",{"_placeholder":true,"num":0}]`, 1},
		{func() ([]byte, error) {
			return e.AppendEvent(nil, "/admin", NoID, "baz", []any{bin[:2], bin[2:]})
		}, `52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2},
		{func() ([]byte, error) { return e.AppendAck(nil, "/", 15, []any{"bar", bin}) }, `61-15["bar",{"_placeholder":true,"num":0}]`, 1},
		{func() ([]byte, error) { return e.AppendAck(nil, "/admin", 456, []any{bin}) }, `61-/admin,456[{"_placeholder":true,"num":0}]`, 1},
		{func() ([]byte, error) { return e.AppendAck(nil, "/admin", 1, []any{bin}) }, `61-/admin,1[{"_placeholder":true,"num":0}]`, 1},
		{func() ([]byte, error) {
			// Ten attachments: the count takes two digits.
			args := make([]any, 10)
			for i := range args {
				args[i] = []byte{byte(i)}
			}
			return e.AppendEvent([]byte("prefix"), "/", 7, "m", args)
		}, `prefix510-7["m"` + strings.Repeat(`,{"_placeholder":true,"num":N}`, 10) + `]`, 10},
	}
	for i, tc := range cases {
		got, err := tc.got()
		if err != nil {
			t.Errorf("%d: %v", i, err)
			continue
		}
		want := tc.want
		for n := 0; strings.Contains(want, `"num":N`); n++ {
			want = strings.Replace(want, `"num":N`, `"num":`+string(rune('0'+n)), 1)
		}
		if string(got) != want {
			t.Errorf("%d: got %s, want %s", i, got, want)
		}
		if tc.att > 0 && len(e.Attachments) != tc.att {
			t.Errorf("%d: %d attachments, want %d", i, len(e.Attachments), tc.att)
		}
	}
}

// TestDecodeNodeQuirks checks the packets that the Node.js parser accepts although they look wrong; each
// was checked against socket.io-parser 4.2.7.
func TestDecodeNodeQuirks(t *testing.T) {
	cases := []struct {
		wire string
		p    Packet
	}{
		{``, Packet{Type: Connect, Namespace: []byte("/"), ID: NoID}},  // Number("") is 0
		{` `, Packet{Type: Connect, Namespace: []byte("/"), ID: NoID}}, // Number(" ") is 0
		{"\t{}", Packet{Type: Connect, Namespace: []byte("/"), ID: NoID, Data: []byte(`{}`)}},
		{"\u00a0{}", Packet{Type: Connect, Namespace: []byte("/"), ID: NoID, Data: []byte(`{}`)}},
		{`2`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID}}, // no payload: not validated
		{`3`, Packet{Type: Ack, Namespace: []byte("/"), ID: NoID}},
		{`4`, Packet{Type: ConnectError, Namespace: []byte("/"), ID: NoID}},
		{`21`, Packet{Type: Event, Namespace: []byte("/"), ID: 1}},
		{`51-`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 1}},
		{`2/admin`, Packet{Type: Event, Namespace: []byte("/admin"), ID: NoID}}, // the namespace runs to the end
		{`0/admin{}`, Packet{Type: Connect, Namespace: []byte("/admin{}"), ID: NoID}},
		{`2/a/b,["x"]`, Packet{Type: Event, Namespace: []byte("/a/b"), ID: NoID, Data: []byte(`["x"]`)}},
		{`2/,["x"]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`["x"]`)}},
		{`1/admin,5`, Packet{Type: Disconnect, Namespace: []byte("/admin"), ID: 5}},            // ids on every type
		{`2 ["x"]`, Packet{Type: Event, Namespace: []byte("/"), ID: 0, Data: []byte(`["x"]`)}}, // Number(" ") is 0
		{"2/a,\n[\"x\"]", Packet{Type: Event, Namespace: []byte("/a"), ID: 0, Data: []byte(`["x"]`)}},
		{`21 ["x"]`, Packet{Type: Event, Namespace: []byte("/"), ID: 1, Data: []byte(`["x"]`)}},
		{` 2 ["x"]`[1:], Packet{Type: Event, Namespace: []byte("/"), ID: 0, Data: []byte(`["x"]`)}},
		{`2007["x"]`, Packet{Type: Event, Namespace: []byte("/"), ID: 7, Data: []byte(`["x"]`)}},
		{"2[\"x\"] \n", Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte("[\"x\"] \n")}},
		{`2[1.5e3,"x"]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`[1.5e3,"x"]`)}},
		{`2[-1]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`[-1]`)}},
		{`2["Connect"]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`["Connect"]`)}},
		{`2["connect "]`, Packet{Type: Event, Namespace: []byte("/"), ID: NoID, Data: []byte(`["connect "]`)}},
		{`51.0-["x"]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 1, Data: []byte(`["x"]`)}},
		{`5 1 -["x"]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 1, Data: []byte(`["x"]`)}},
		{`50x2-["x"]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 2, Data: []byte(`["x"]`)}},
		{`5+3-["x"]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 3, Data: []byte(`["x"]`)}},
		{`51e1-["x"]`, Packet{Type: BinaryEvent, Namespace: []byte("/"), ID: NoID, Attachments: 10, Data: []byte(`["x"]`)}},
		{`6.1e1-[]`, Packet{Type: BinaryAck, Namespace: []byte("/"), ID: NoID, Attachments: 1, Data: []byte(`[]`)}},
		{`610-[]`, Packet{Type: BinaryAck, Namespace: []byte("/"), ID: NoID, Attachments: 10, Data: []byte(`[]`)}},
		{`41`, Packet{Type: ConnectError, Namespace: []byte("/"), ID: 1}},
	}
	for _, tc := range cases {
		p, err := Decode([]byte(tc.wire))
		if err != nil {
			t.Errorf("Decode(%q): %v", tc.wire, err)
			continue
		}
		if !packetsEqual(p, tc.p) {
			t.Errorf("Decode(%q) = %+v, want %+v", tc.wire, p, tc.p)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		wire string
		want error
	}{
		// unknown type
		{`7`, errUnknownType},
		{`999`, errUnknownType},
		{`a`, errUnknownType},
		{`-1`, errUnknownType},
		{"\u0085", errUnknownType}, // NEL is not JavaScript whitespace
		// attachment prefix
		{`5`, errAttachments},
		{`51`, errAttachments},
		{`5["a"]`, errAttachments},
		{`50-`, errAttachments}, // parser 4.2.7 refuses 0 (4.2.6 accepted it, then waited forever)
		{`5-["a"]`, errAttachments},
		{`5a-`, errAttachments},
		{`51.23-`, errAttachments},
		{`5 -["a"]`, errAttachments},
		{`51e-`, errAttachments},
		{`5Infinity-["a"]`, errAttachments},
		{`51e400-["a"]`, errAttachments},
		{`5+0x1-["a"]`, errAttachments},
		{`50x-["a"]`, errAttachments},
		{`61 2-[]`, errAttachments},
		{`511-["a"]`, errTooMany},
		{`51e2-["a"]`, errTooMany},
		// id
		{`21 2["a"]`, errID},                 // Number("1 2") is NaN: Node accepts an id of NaN
		{`29223372036854775808["a"]`, errID}, // beyond int64: Node would round it
		// payload: JSON
		{`2["some","data"`, errJSON},
		{`2/admin,"invalid`, errJSON},
		{`2["a"]]`, errJSON},
		{`2["a"]x`, errJSON},
		{`2a["a"]`, errJSON},
		{`2/a,b["a"]`, errJSON},
		{`2["a",]`, errJSON},
		{`2[01]`, errJSON},
		{`2["\x"]`, errJSON},
		{"2[\"\t\"]", errJSON},
		{`2["a"]` + "\u00a0", errJSON}, // JSON.parse only skips ASCII whitespace
		{`0{"a":1,}`, errJSON},
		{`0{'a':1}`, errJSON},
		{`2[NaN]`, errJSON},
		{"2[\"\xff\"]", errUTF8},
		{"2/\xff,[\"a\"]", errUTF8},
		{`2` + strings.Repeat("[", 1001) + `"a"` + strings.Repeat("]", 1001), errDepth},
		// payload: type
		{`0/admin,"invalid"`, errPayload},
		{`0[]`, errPayload},
		{`0null`, errPayload},
		{`1/admin,{}`, errPayload},
		{`1{}`, errPayload},
		{`1[]`, errPayload},
		{`2/admin,{}`, errPayload},
		{`2"a"`, errPayload},
		{`2[]`, errPayload},
		{`2[{"toString":"foo"}]`, errPayload},
		{`2[true,"foo"]`, errPayload},
		{`2[null,"bar"]`, errPayload},
		{`2[["a"]]`, errPayload},
		{`2["connect"]`, errPayload},
		{`2["disconnect","123"]`, errPayload},
		{`2["connect_error"]`, errPayload},
		{`2["disconnecting"]`, errPayload},
		{`2["newListener"]`, errPayload},
		{`2["removeListener"]`, errPayload},
		{`2["\u0063onnect"]`, errPayload},
		{`51-["disconnect",{"_placeholder":true,"num":0}]`, errPayload},
		{`3{}`, errPayload},
		{`3"a"`, errPayload},
		{`61-{}`, errPayload},
		{`4[]`, errPayload},
	}
	for _, tc := range cases {
		_, err := Decode([]byte(tc.wire))
		if err != tc.want {
			t.Errorf("Decode(%q) = %v, want %v", tc.wire, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("Decode(%q): %v does not wrap ErrInvalidPacket", tc.wire, err)
		}
	}
	// A lower limit, as the option of the Node.js decoder.
	if _, err := DecodeLimit([]byte(`53-["a"]`), 2); err != errTooMany {
		t.Errorf("DecodeLimit(53-, 2) = %v", err)
	}
	if _, err := DecodeLimit([]byte(`52-["a"]`), 2); err != nil {
		t.Errorf("DecodeLimit(52-, 2) = %v", err)
	}
}

func TestPacketTypeString(t *testing.T) {
	if BinaryEvent.String() != "BINARY_EVENT" || ConnectError.String() != "CONNECT_ERROR" || PacketType(9).String() != "PacketType(9)" {
		t.Error("PacketType.String")
	}
}

func TestDecodeAllocs(t *testing.T) {
	wire := []byte(`2/chat,17["message",{"user":"ann","text":"hello \u00e9","n":[1,2,3]},true,null,-1.5e3]`)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := Decode(wire); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times", allocs)
	}
	for _, wire := range []string{`2["disc\u006fnnect"]`, `2["an-event-name-longer-than-thirty-two-bytes-and-then-some-more"]`,
		`2["an-escaped-name-longer-than-thirty-two-bytes-\u0021"]`} {
		b := []byte(wire)
		allocs = testing.AllocsPerRun(1000, func() { _, _ = Decode(b) })
		if allocs != 0 {
			t.Errorf("Decode(%s) allocates %v times", wire, allocs)
		}
	}
}
