package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fastio/fastio/codec/sio"
)

// fixture is a message built as the Node.js adapter and emitter build them, encoded by notepack.io
// (testdata/notepack.json, written by test/cluster/tools/gen-fixtures.cjs).
type fixture struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Hex   string `json:"hex"`
	UID   string `json:"uid"`
	Nsp   string `json:"nsp"`
	Event string `json:"event"`
	Args  struct {
		JSON        string   `json:"json"`
		Attachments []string `json:"attachments"`
	} `json:"args"`
	Opts struct {
		Rooms  []string       `json:"rooms"`
		Except []string       `json:"except"`
		Flags  map[string]any `json:"flags"`
	} `json:"opts"`
	Value json.RawMessage `json:"value"`
	JSON  string          `json:"json"`
}

// jsonText is the JSON text of a JSON fixture.
func (f fixture) jsonText() string { return f.JSON }

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/notepack.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clientText is what a client receives for an event: the packet text from '[' on, and the attachments.
func clientText(t testing.TB, event string, args []any) (string, []string) {
	t.Helper()
	var enc sio.Encoder
	text, err := enc.AppendEvent(nil, "/", sio.NoID, event, args)
	if err != nil {
		t.Fatal(err)
	}
	atts := make([]string, 0, len(enc.Attachments))
	for _, a := range enc.Attachments {
		atts = append(atts, hex.EncodeToString(a))
	}
	return string(text[bytes.IndexByte(text, '['):]), atts
}

// TestDecodeBroadcastFixtures decodes the Node.js messages and checks that a client of a fastio node gets
// exactly the JSON (key order included) and attachments that socket.io-parser writes on a Node.js node.
func TestDecodeBroadcastFixtures(t *testing.T) {
	for _, f := range loadFixtures(t) {
		if f.Kind != "broadcast" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			m, err := DecodeBroadcast(mustHex(t, f.Hex))
			if err != nil {
				t.Fatal(err)
			}
			if m.UID != f.UID || m.Nsp != f.Nsp || m.Event != f.Event {
				t.Fatalf("uid/nsp/event = %q %q %q, want %q %q %q", m.UID, m.Nsp, m.Event, f.UID, f.Nsp, f.Event)
			}
			if !reflect.DeepEqual(nonNil(m.Opts.Rooms), nonNil(f.Opts.Rooms)) || !reflect.DeepEqual(nonNil(m.Opts.Except), nonNil(f.Opts.Except)) {
				t.Fatalf("opts = %+v, want %+v", m.Opts, f.Opts)
			}
			if v, _ := f.Opts.Flags["volatile"].(bool); v != m.Opts.Flags.Volatile {
				t.Fatalf("volatile = %v", m.Opts.Flags.Volatile)
			}
			if ms, ok := f.Opts.Flags["timeout"].(float64); ok && m.Opts.Flags.Timeout != time.Duration(ms)*time.Millisecond {
				t.Fatalf("timeout = %v", m.Opts.Flags.Timeout)
			}
			if c, ok := f.Opts.Flags["compress"].(bool); ok && (m.Opts.Flags.Compress == nil || *m.Opts.Flags.Compress != c) {
				t.Fatalf("compress = %v", m.Opts.Flags.Compress)
			}
			text, atts := clientText(t, m.Event, m.Args)
			if text != f.Args.JSON {
				t.Fatalf("client JSON\n got %s\nwant %s", text, f.Args.JSON)
			}
			if !reflect.DeepEqual(nonNil(atts), nonNil(f.Args.Attachments)) {
				t.Fatalf("attachments %v, want %v", atts, f.Args.Attachments)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TestEncodeBroadcastFixtures encodes the same events from Go and checks the bytes are notepack.io's.
func TestEncodeBroadcastFixtures(t *testing.T) {
	same := map[string]bool{
		"plain emit": true, "key order": false, "binary arg": true, "strings": true,
		"custom namespace": true, "typed arrays": true, "long containers": true,
	}
	for _, f := range loadFixtures(t) {
		if f.Kind != "broadcast" || !same[f.Name] {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			want := mustHex(t, f.Hex)
			m, err := DecodeBroadcast(want)
			if err != nil {
				t.Fatal(err)
			}
			var enc sio.Encoder
			data, err := EncodeEvent(nil, &enc, m.Event, m.Args)
			if err != nil {
				t.Fatal(err)
			}
			got := AppendBroadcast(nil, m.UID, m.Nsp, data, m.Opts)
			if !bytes.Equal(got, want) {
				t.Fatalf("\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestKeyOrderFromGo: a Go struct or RawJSON keeps its key order through msgpack (map[string]any is sorted, as
// the sio.Encoder writes it).
func TestKeyOrderFromGo(t *testing.T) {
	type inner struct {
		Z int `json:"z"`
		A int `json:"a"`
	}
	args := []any{struct {
		B inner  `json:"b"`
		A string `json:"a"`
	}{inner{1, 2}, "x"}, sio.RawJSON(`{"y":1,"x":[true,false,null]}`), map[string]any{"b": 1, "a": 2}}
	var enc sio.Encoder
	data, err := EncodeEvent(nil, &enc, "ev", args)
	if err != nil {
		t.Fatal(err)
	}
	ev, back, _, err := DecodeEvent(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := clientText(t, ev, back)
	want := `["ev",{"b":{"z":1,"a":2},"a":"x"},{"y":1,"x":[true,false,null]},{"a":2,"b":1}]`
	if text != want {
		t.Fatalf("got %s\nwant %s", text, want)
	}
}

func TestRoundTripValues(t *testing.T) {
	long := strings.Repeat("é", 40000) // str 32
	bigBin := bytes.Repeat([]byte{7}, 70000)
	args := []any{
		"", "short", long, 0, -1, int64(math.MinInt64), uint64(math.MaxUint64), 1.5, math.Inf(1), true, false, nil,
		[]byte{}, bigBin, []any{[]byte{1}, map[string]any{"k": []byte{2}}}, make([]any, 70000),
		sio.RawJSON(` { "a" : [ 1 , 2 ] , "b" : "\u00e9\ud83d\ude00\ud800" } `),
	}
	var enc sio.Encoder
	data, err := EncodeEvent(nil, &enc, "round", args)
	if err != nil {
		t.Fatal(err)
	}
	ev, back, _, err := DecodeEvent(data, 0)
	if err != nil || ev != "round" {
		t.Fatal(ev, err)
	}
	gotText, gotAtt := clientText(t, ev, back)
	// the reference: the same arguments encoded straight for a client (RawJSON normalised as JSON.parse +
	// stringify would, and Inf as null)
	args[len(args)-1] = sio.RawJSON("{\"a\":[1,2],\"b\":\"é😀\uFFFD\"}")
	wantText, wantAtt := clientText(t, "round", args)
	if gotText != wantText {
		i := 0
		for i < len(gotText) && i < len(wantText) && gotText[i] == wantText[i] {
			i++
		}
		t.Fatalf("differ at %d:\n got  %.200s\nwant %.200s", i, gotText[i:], wantText[i:])
	}
	if !reflect.DeepEqual(gotAtt, wantAtt) {
		t.Fatal("attachments differ")
	}
}

func TestRequestsFromNode(t *testing.T) {
	for _, f := range loadFixtures(t) {
		switch f.Name {
		case "broadcast request":
			r, err := DecodeRequest(mustHex(t, f.Hex))
			if err != nil {
				t.Fatal(err)
			}
			if r.UID != "abc123" || r.RequestID != "req001" || r.Type != TypeBroadcast || r.PacketEvent != "ask" ||
				r.Opts.Flags.Timeout != time.Second || !reflect.DeepEqual(r.Opts.Rooms, []string{"r"}) {
				t.Fatalf("%+v", r)
			}
			text, atts := clientText(t, r.PacketEvent, r.PacketArgs)
			if text != `["ask",1,{"_placeholder":true,"num":0}]` || !reflect.DeepEqual(atts, []string{"07"}) {
				t.Fatal(text, atts)
			}
		case "broadcast ack":
			r, err := DecodeResponse(mustHex(t, f.Hex))
			if err != nil {
				t.Fatal(err)
			}
			if r.Type != TypeBroadcastAck || r.RequestID != "req001" || r.Packet.Len() != 1 {
				t.Fatalf("%+v", r)
			}
			v, _ := r.Packet.Value(0)
			if !reflect.DeepEqual(v, map[string]any{"ok": true, "b": []byte{1}}) {
				t.Fatalf("%#v", v)
			}
		case "broadcast ack undefined":
			r, err := DecodeResponse(mustHex(t, f.Hex))
			if err != nil {
				t.Fatal(err)
			}
			if r.Packet.Len() != 0 {
				t.Fatalf("packet args %d", r.Packet.Len())
			}
		}
	}
}

// JSON requests as the Node.js adapter and the emitter write them (JSON.stringify of the objects in their
// dist/index.js).
func TestJSONRequests(t *testing.T) {
	tests := []struct {
		in    string
		check func(*Request) bool
	}{
		{`{"uid":"n1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":["b"]}}`, func(r *Request) bool {
			return r.Type == TypeRemoteFetch && r.HasRequestID && r.RequestID == "r1" && r.Opts.Rooms[0] == "a" && r.Opts.Except[0] == "b"
		}},
		{`{"type":2,"opts":{"rooms":[],"except":[]},"rooms":["x",1]}`, func(r *Request) bool {
			return r.Type == TypeRemoteJoin && r.UID == "" && reflect.DeepEqual(r.Rooms, []string{"x", "1"}) && r.HasOpts
		}},
		{`{"uid":"n1","type":4,"opts":{"rooms":["r"],"except":[]},"close":true}`, func(r *Request) bool {
			return r.Type == TypeRemoteDisconnect && r.Close
		}},
		{`{"uid":"emitter","type":6,"data":["hello",{"b":1,"a":[2]},"x"]}`, func(r *Request) bool {
			return r.Type == TypeServerSideEmit && r.Event == "hello" && !r.HasRequestID && r.Args.Len() == 2 &&
				string(r.Args.Raw(0)) == `{"b":1,"a":[2]}`
		}},
		{`{"uid":"n1","requestId":"q","type":1}`, func(r *Request) bool { return r.Type == TypeAllRooms }},
		{`{"requestId":"q","type":2,"sid":"abc","room":"r"}`, func(r *Request) bool {
			return r.SID == "abc" && r.Room == "r" && !r.HasOpts
		}},
	}
	for _, tt := range tests {
		r, err := DecodeRequest([]byte(tt.in))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !tt.check(r) {
			t.Fatalf("%s: %+v", tt.in, r)
		}
	}
}

// TestRequestWriters checks the bytes against what JSON.stringify writes for the Node.js adapter's objects.
func TestRequestWriters(t *testing.T) {
	o := Opts{Rooms: []string{"a"}, Except: []string{"b\"c"}}
	tests := []struct{ got, want string }{
		{string(AppendFetchRequest(nil, "u1", "r1", o)), `{"uid":"u1","requestId":"r1","type":5,"opts":{"rooms":["a"],"except":["b\"c"]}}`},
		{string(AppendAllRoomsRequest(nil, "u1", "r1")), `{"uid":"u1","requestId":"r1","type":1}`},
		{string(AppendJoinRequest(nil, "u1", TypeRemoteJoin, o, []string{"x"})), `{"uid":"u1","type":2,"opts":{"rooms":["a"],"except":["b\"c"]},"rooms":["x"]}`},
		{string(AppendJoinRequest(nil, "", TypeRemoteLeave, Opts{}, []string{"x"})), `{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["x"]}`},
		{string(AppendDisconnectRequest(nil, "u1", o, false)), `{"uid":"u1","type":4,"opts":{"rooms":["a"],"except":["b\"c"]},"close":false}`},
		{string(AppendServerSideEmitRequest(nil, "u1", "", []byte(`["e",1]`))), `{"uid":"u1","type":6,"data":["e",1]}`},
		{string(AppendServerSideEmitRequest(nil, "u1", "r9", []byte(`["e"]`))), `{"uid":"u1","requestId":"r9","type":6,"data":["e"]}`},
		{string(AppendServerSideEmitResponse(nil, "r9", []byte(`"pong"`))), `{"type":6,"requestId":"r9","data":"pong"}`},
		{string(AppendServerSideEmitResponse(nil, "r9", nil)), `{"type":6,"requestId":"r9"}`},
		{string(AppendClientCountResponse(nil, "r9", 3)), `{"type":8,"requestId":"r9","clientCount":3}`},
		{string(AppendSocketsResponse(nil, "r9", []string{"s1"})), `{"requestId":"r9","sockets":["s1"]}`},
		{string(AppendRoomsResponse(nil, "r9", []string{"s1", "room"})), `{"requestId":"r9","rooms":["s1","room"]}`},
		{string(AppendEmptyResponse(nil, "r9")), `{"requestId":"r9"}`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("\n got %s\nwant %s", tt.got, tt.want)
		}
	}
	// msgpack ones: compare with the fixtures
	for _, f := range loadFixtures(t) {
		switch f.Name {
		case "broadcast ack undefined":
			if got := AppendBroadcastAckResponse(nil, "req001", nil); !bytes.Equal(got, mustHex(t, f.Hex)) {
				t.Errorf("ack undefined: %x, want %s", got, f.Hex)
			}
		case "broadcast request":
			var enc sio.Encoder
			data, err := EncodeEvent(nil, &enc, "ask", []any{1, []byte{7}})
			if err != nil {
				t.Fatal(err)
			}
			got := AppendBroadcastRequest(nil, "abc123", "req001", "/", data, Opts{Rooms: []string{"r"}, Except: []string{}, Flags: Flags{Timeout: time.Second}})
			if !bytes.Equal(got, mustHex(t, f.Hex)) {
				t.Errorf("broadcast request:\n got %x\nwant %s", got, f.Hex)
			}
		}
	}
}

func TestResponses(t *testing.T) {
	r, err := DecodeResponse([]byte(`{"requestId":"x","sockets":[{"id":"a","rooms":["a"]},{"id":"b"}]}`))
	if err != nil || !r.HasSockets || len(r.Sockets) != 2 || r.HasType {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeResponse([]byte(`{"type":6,"requestId":"x","data":{"b":1,"a":2}}`))
	if err != nil || r.Type != TypeServerSideEmit || r.Data.Len() != 1 || string(r.Data.Raw(0)) != `{"b":1,"a":2}` {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeResponse([]byte(`{"type":6,"requestId":"x"}`))
	if err != nil || r.Data.Len() != 0 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeResponse([]byte(`{"type":8,"requestId":"x","clientCount":4}`))
	if err != nil || r.ClientCount != 4 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = DecodeResponse([]byte(`{"requestId":"x","rooms":["a",2]}`))
	if err != nil || !reflect.DeepEqual(r.Rooms, []string{"a", "2"}) {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestChannels(t *testing.T) {
	c := ChannelsFor("", "/chat")
	if c.Broadcast != "socket.io#/chat#" || c.Request != "socket.io-request#/chat#" || c.Response != "socket.io-response#/chat#" {
		t.Fatalf("%+v", c)
	}
	if got := c.BroadcastChannel([]string{"r1"}); got != "socket.io#/chat#r1#" {
		t.Fatal(got)
	}
	if got := c.BroadcastChannel([]string{"r1", "r2"}); got != "socket.io#/chat#" {
		t.Fatal(got)
	}
	if got := c.SpecificResponse("abc"); got != "socket.io-response#/chat#abc#" {
		t.Fatal(got)
	}
	if got := ChannelsFor("k", "/a*[b]").Pattern(); got != `k#/a\*\[b\]#*` {
		t.Fatal(got)
	}
}

func TestMalformed(t *testing.T) {
	bad := [][]byte{
		nil, {0x93}, {0x80}, {0x92, 0xa1, 'u'}, {0x92, 0xa1, 'u', 0x81, 0xa4, 'd', 'a', 't', 'a', 0x90},
		{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xc1}, {0xc6, 0xff, 0xff, 0xff, 0xff, 1},
	}
	for _, b := range bad {
		if _, err := DecodeBroadcast(b); err == nil {
			t.Errorf("%x: no error", b)
		}
	}
	deep := bytes.Repeat([]byte{0x91}, MaxDepth+10)
	if _, _, _, err := MsgpackToJSON(nil, nil, append(deep, 0xc0)); err == nil {
		t.Error("deep: no error")
	}
	if _, err := DecodeRequest([]byte(`{"type":`)); err == nil {
		t.Error("bad JSON request: no error")
	}
	if _, _, err := JSONToMsgpack(nil, []byte(`{"a":1`), nil); err == nil {
		t.Error("bad JSON: no error")
	}
}

func TestDates(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"d6ff00000000", `"1970-01-01T00:00:00.000Z"`},
		{"d6ff65935a25", `"2024-01-02T00:34:45.000Z"`},
		{"d7ff" + "a1a5e000" + "00000000", `"1970-01-01T00:00:00.678Z"`},
		{"c70cff" + "00000000" + "ffffffff" + "ffffffff", `"1969-12-31T23:59:59.000Z"`},
		{"d700" + "00000000" + "000003e8", `"1970-01-01T00:00:01.000Z"`},
		{"d40000", `null`},
		{"d50001ff", `[0,{"_placeholder":true,"num":0}]`},
		{"c70200abcd", `{"_placeholder":true,"num":0}`},
	}
	for _, tt := range tests {
		got, _, _, err := MsgpackToJSON(nil, nil, mustHex(t, tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %s %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

// ClusterAdapter messages (the sharded protocol) as socket.io-adapter builds them.
func TestClusterMessages(t *testing.T) {
	byName := map[string]fixture{}
	for _, f := range loadFixtures(t) {
		byName[f.Name] = f
	}
	dec := func(name string) *ClusterMessage {
		t.Helper()
		f, ok := byName[name]
		if !ok {
			t.Fatalf("no fixture %q", name)
		}
		m, err := DecodeClusterMessage(mustHex(t, f.Hex))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	m := dec("cluster broadcast")
	if m.Type != MsgBroadcast || m.UID != "n1" || m.Nsp != "/" || m.Event != "e" || m.HasRequestID || m.Opts.Rooms[0] != "r" {
		t.Fatalf("%+v", m)
	}
	if text, _ := clientText(t, m.Event, m.Args); text != `["e",{"b":1,"a":2}]` {
		t.Fatal(text)
	}
	m = dec("cluster broadcast binary")
	if text, atts := clientText(t, m.Event, m.Args); text != `["e",{"_placeholder":true,"num":0}]` || atts[0] != "0102" ||
		m.RequestID != "q1" || m.Opts.Flags.Timeout != time.Second || m.Opts.Except[0] != "x" {
		t.Fatalf("%s %v %+v", text, atts, m)
	}
	if m = dec("cluster join"); m.Type != MsgSocketsJoin || m.Rooms[0] != "b" || m.Opts.Rooms[0] != "a" {
		t.Fatalf("%+v", m)
	}
	if m = dec("cluster disconnect"); m.Type != MsgDisconnectSockets || !m.Close {
		t.Fatalf("%+v", m)
	}
	if m = dec("cluster fetch"); m.Type != MsgFetchSockets || m.RequestID != "q2" {
		t.Fatalf("%+v", m)
	}
	if m = dec("cluster server-side emit"); m.ServerSideEvent != "ping" || m.ServerSideArgs.Len() != 2 || string(m.ServerSideArgs.Raw(1)) != `{"k":"v"}` {
		t.Fatalf("%+v", m)
	}
	if m = dec("cluster server-side answer"); m.Type != MsgServerSideEmitResponse || m.Packet.Len() != 1 {
		t.Fatalf("%+v", m)
	} else if v, _ := m.Packet.Value(0); !reflect.DeepEqual(v, map[string]any{"ok": []byte{5}}) {
		t.Fatalf("%#v", v)
	}
	if m = dec("cluster client count"); m.ClientCount != 2 || m.RequestID != "q1" {
		t.Fatalf("%+v", m)
	}
	// The JSON writers write what JSON.stringify writes for the same objects.
	o := Opts{Rooms: []string{"a"}, Except: []string{}}
	for name, got := range map[string][]byte{
		"cluster join":         AppendClusterSockets(nil, MsgSocketsJoin, "n1", "/", o, []string{"b"}),
		"cluster disconnect":   AppendClusterDisconnect(nil, "n1", "/", o, true),
		"cluster fetch":        AppendClusterFetch(nil, "n1", "/", "q2", Opts{}),
		"cluster client count": AppendClusterClientCount(nil, "n2", "/", "q1", 2),
	} {
		if string(got) != byName[name].jsonText() {
			t.Errorf("%s:\n got %s\nwant %s", name, got, byName[name].jsonText())
		}
	}
	// and the msgpack ones decode back
	var enc sio.Encoder
	data, _ := EncodeEvent(nil, &enc, "e", []any{[]byte{1, 2}})
	m, err := DecodeClusterMessage(AppendClusterBroadcast(nil, "n1", "/", "q1", data, Opts{Except: []string{"x"}, Flags: Flags{Timeout: time.Second}}))
	if err != nil || m.RequestID != "q1" || m.Event != "e" || m.Opts.Flags.Timeout != time.Second {
		t.Fatalf("%+v %v", m, err)
	}
	packet, _ := EncodeValue(nil, &enc, map[string]any{"ok": []byte{5}})
	m, err = DecodeClusterMessage(AppendClusterAnswer(nil, MsgServerSideEmitResponse, "n2", "/", "q3", packet))
	if v, _ := m.Packet.Value(0); err != nil || !reflect.DeepEqual(v, map[string]any{"ok": []byte{5}}) {
		t.Fatalf("%#v %v", v, err)
	}
}
