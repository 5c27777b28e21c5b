package sio

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// The expected outputs below are JSON.stringify's (Node.js 20).

func TestAppendStringLikeJSONStringify(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"/", `"/"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x0b\x1a", `"\u000b\u001a"`},
		{"\x7f", "\"\x7f\""},
		{"<script>&amp;</script>", `"<script>&amp;</script>"`},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"é😀\ufeff", "\"é😀\ufeff\""},
		{"bad \xff utf8 \xe2\x82", "\"bad \ufffd utf8 \ufffd\ufffd\""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""}, // an encoded surrogate is invalid UTF-8
	}
	for _, tc := range cases {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Variables, so that the sum is computed in float64 rather than exactly by the compiler.
var point1, point2 = 0.1, 0.2

func TestAppendJSFloat(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{0.1, "0.1"},
		{point1 + point2, "0.30000000000000004"},
		{1.5, "1.5"},
		{-2.5e-8, "-2.5e-8"},
		{1e21, "1e+21"},
		{1e20, "100000000000000000000"},
		{123456789012345680000, "123456789012345680000"},
		{1.2345678901234568e21, "1.2345678901234568e+21"},
		{1e-7, "1e-7"},
		{1e-6, "0.000001"},
		{1.5e-6, "0.0000015"},
		{123e-20, "1.23e-18"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{9007199254740993, "9007199254740992"},
		{1 << 53, "9007199254740992"},
		{1 << 60, "1152921504606847000"}, // JavaScript pads the shortest digits with zeros
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
		{100, "100"},
		{1e15, "1000000000000000"},
		{123.456, "123.456"},
		{-0.000001234, "-0.000001234"},
	}
	for _, tc := range cases {
		if got := string(appendJSFloat(nil, tc.in, 64)); got != tc.want {
			t.Errorf("appendJSFloat(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := string(appendJSFloat(nil, float64(float32(0.1)), 32)); got != "0.1" {
		t.Errorf("float32 0.1 = %s", got)
	}
}

type point struct {
	X, Y float64
	Name string `json:"name"`
	Tags map[string]int
	Raw  RawJSON `json:"raw,omitempty"`
}

func TestAppendJSON(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, `null`},
		{true, `true`},
		{false, `false`},
		{"x", `"x"`},
		{int8(-8), `-8`},
		{uint64(math.MaxUint64), `18446744073709551615`},
		{int64(math.MinInt64), `-9223372036854775808`},
		{float32(1.5), `1.5`},
		{RawJSON(`{"a" : 1}`), `{"a" : 1}`},
		{RawJSON(nil), `null`},
		{json.RawMessage(`[1]`), `[1]`},
		{[]any{1, "a", nil, []any{}}, `[1,"a",null,[]]`},
		{[]any(nil), `null`},
		{map[string]any{"b": 1, "a": []any{true}, "10": 0, "9": 0}, `{"10":0,"9":0,"a":[true],"b":1}`},
		{map[string]any(nil), `null`},
		{map[string]any{}, `{}`},
		{[]string{"a", "\n"}, `["a","\n"]`},
		{[]byte{1, 2, 255}, `{"type":"Buffer","data":[1,2,255]}`},
		{[]byte{}, `{"type":"Buffer","data":[]}`},
		// Through sonic, adjusted to JSON.stringify.
		{point{X: 1, Y: -0.5, Name: "p\b\f\u2028<>\xff", Tags: map[string]int{"z": 1, "a": 2}, Raw: RawJSON(`[1]`)},
			"{\"X\":1,\"Y\":-0.5,\"name\":\"p\\b\\f\u2028<>\ufffd\",\"Tags\":{\"a\":2,\"z\":1},\"raw\":[1]}"},
		{[]float64{math.Copysign(0, -1), -0.5, 1e21, 1e-7, math.NaN()}, `[0,-0.5,1e+21,1e-7,null]`},
		{map[string]string{"k-0": "-0", "\u0008": "\u000c"}, `{"\b":"\f","k-0":"-0"}`},
		{[]int{3, -0}, `[3,0]`},
		{&point{}, `{"X":0,"Y":0,"name":"","Tags":null}`},
	}
	for _, tc := range cases {
		got, err := AppendJSON([]byte("<"), tc.in)
		if err != nil {
			t.Errorf("AppendJSON(%#v): %v", tc.in, err)
			continue
		}
		if string(got) != "<"+tc.want {
			t.Errorf("AppendJSON(%#v) = %s, want %s", tc.in, got[1:], tc.want)
		}
	}
	// Errors leave dst as it was.
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, bad := range []any{make(chan int), cyclic, RawBinary{JSON: RawJSON(`[{"_placeholder":true,"num":1}]`)}, RawBinary{JSON: RawJSON(`[`)}} {
		got, err := AppendJSON([]byte("keep"), bad)
		if err == nil || string(got) != "keep" {
			t.Errorf("AppendJSON(%T) = %q, %v; want an error and dst unchanged", bad, got, err)
		}
	}
}

func TestEncodeBinaryEvent(t *testing.T) {
	var e Encoder
	a, b, c := []byte("a"), []byte("bb"), []byte("ccc")
	args := []any{
		a,
		map[string]any{"z": b, "list": []any{1, c}},
		RawBinary{JSON: RawJSON(`{"x":{"_placeholder":true,"num":1},"y":[{"num":0,"_placeholder":true,"extra":{"_placeholder":true,"num":9}}]}`), Attachments: [][]byte{c, a}},
		[]byte{},
	}
	got, err := e.AppendEvent(nil, "/chat", 3, "upload", args)
	if err != nil {
		t.Fatal(err)
	}
	want := `56-/chat,3["upload",{"_placeholder":true,"num":0},{"list":[1,{"_placeholder":true,"num":1}],"z":{"_placeholder":true,"num":2}},` +
		`{"x":{"_placeholder":true,"num":3},"y":[{"_placeholder":true,"num":4}]},{"_placeholder":true,"num":5}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	wantAtt := []string{"a", "ccc", "bb", "a", "ccc", ""}
	if len(e.Attachments) != len(wantAtt) {
		t.Fatalf("attachments %q", e.Attachments)
	}
	for i, w := range wantAtt {
		if string(e.Attachments[i]) != w {
			t.Errorf("attachment %d = %q, want %q", i, e.Attachments[i], w)
		}
	}
	// The next packet starts with no attachments.
	if got, _ := e.AppendEvent(nil, "/", NoID, "x", nil); string(got) != `2["x"]` || len(e.Attachments) != 0 {
		t.Errorf("reuse: %s %d", got, len(e.Attachments))
	}
	// The result decodes, and reassembles.
	p, err := Decode(want2(t, &e, args))
	if err != nil || p.Attachments != 6 {
		t.Fatalf("Decode: %+v %v", p, err)
	}
}

func want2(t *testing.T, e *Encoder, args []any) []byte {
	out, err := e.AppendEvent(nil, "/", NoID, "upload", args)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEncodeErrors(t *testing.T) {
	var e Encoder
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if _, err := e.AppendEvent(nil, "/", NoID, name, nil); err == nil {
			t.Errorf("AppendEvent(%q) accepted a reserved name", name)
		}
	}
	if out, err := e.AppendEvent([]byte("x"), "/a,b", NoID, "m", nil); err == nil || string(out) != "x" {
		t.Error("a namespace with a comma")
	}
	if _, err := e.AppendAck(nil, "/", -2, nil); err == nil {
		t.Error("a negative id")
	}
	if _, err := AppendConnectError(nil, "/a,", "m", nil); err == nil {
		t.Error("AppendConnectError: a namespace with a comma")
	}
	out, err := e.AppendEvent([]byte("x"), "/", 1, "m", []any{[]byte{1}, make(chan int)})
	if err == nil || string(out) != "x" || len(e.Attachments) != 0 {
		t.Errorf("an unsupported argument: %q %v %d", out, err, len(e.Attachments))
	}
	if _, err := AppendConnectError(nil, "/", "m", func() {}); err == nil {
		t.Error("AppendConnectError with a func")
	}
	if !errors.Is(errIllegalPlaceVal, ErrInvalidPacket) {
		t.Error("errIllegalPlaceVal")
	}
}

func TestAppendEventAllocs(t *testing.T) {
	var e Encoder
	dst := make([]byte, 0, 1024)
	bin := []byte{1, 2, 3}
	cases := map[string][]any{
		"string":  {"hello"},
		"int":     {42},
		"float64": {3.25},
		"bool":    {true},
		"nil":     {nil},
		"[]byte":  {bin},
		"RawJSON": {RawJSON(`{"a":1}`)},
		"mixed":   {"a", 1, 2.5, false, nil, bin, RawJSON(`[1]`), int64(-5), uint8(7)},
	}
	for name, args := range cases {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := e.AppendEvent(dst[:0], "/chat", 12, "message", args); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("AppendEvent with %s allocates %v times", name, allocs)
		}
	}
	ackArgs := []any{"ok", bin}
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = e.AppendAck(dst[:0], "/", 1, ackArgs)
		_ = AppendConnect(dst[:0], "/admin", "oSO0OpakmV4uOm4q")
		_ = AppendDisconnect(dst[:0], "/admin")
		_, _ = AppendConnectError(dst[:0], "/", "Not authorized", nil)
	})
	if allocs != 0 {
		t.Errorf("AppendAck and the others allocate %v times", allocs)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	var e Encoder
	values := []any{"a\u2028\"", 1.5, -7, map[string]any{"k": []any{"v", 2.5e-9}}, nil, true}
	out, err := e.AppendEvent(nil, "/", 5, "ev", values)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	var args Args
	name, err := SplitEvent(p.Data, &args)
	if err != nil || string(name) != "ev" || args.Len() != len(values) {
		t.Fatalf("SplitEvent: %q %v %d", name, err, args.Len())
	}
	for i, v := range values {
		got, _ := args.Value(i)
		want := v
		if n, ok := v.(int); ok {
			want = float64(n)
		}
		if !jsonEqual(t, got, want) {
			t.Errorf("arg %d: %#v, want %#v", i, got, want)
		}
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(ja) == string(jb)
}

func TestRawJSONInStruct(t *testing.T) {
	v := struct {
		A RawJSON
		B RawJSON
	}{A: RawJSON(`{"x":[1,2]}`)}
	got, err := AppendJSON(nil, v)
	if err != nil || !strings.Contains(string(got), `"A":{"x":[1,2]}`) || !strings.Contains(string(got), `"B":null`) {
		t.Errorf("%s %v", got, err)
	}
}
