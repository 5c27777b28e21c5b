package sio

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestSplitEvent(t *testing.T) {
	cases := []struct {
		data string
		name string
		args []string
	}{
		{`["hello"]`, "hello", nil},
		{`["hello",1]`, "hello", []string{`1`}},
		{` [ "a" , {"x": [1, 2]} ,null,"s\"",  -1.5e3 ] `, "a", []string{`{"x": [1, 2]}`, `null`, `"s\""`, `-1.5e3`}},
		{`["\u0068i\n"]`, "hi\n", nil},
		{`["\ud83d\ude00\ud800"]`, "😀\ufffd", nil},
		{`[1,2]`, "1", []string{`2`}},
		{`[-7]`, "-7", nil},
		{`[1.0]`, "1", nil},
		{`[1e2]`, "100", nil},
		{`[-0]`, "0", nil},
		{`[0.5]`, "0.5", nil},
		{`[1e400]`, "Infinity", nil},
		{`[12345678901234567890]`, "12345678901234567000", nil},
		{`["connect"]`, "connect", nil}, // reserved names are Decode's business
	}
	var args Args
	for _, tc := range cases {
		name, err := SplitEvent([]byte(tc.data), &args)
		if err != nil {
			t.Errorf("SplitEvent(%s): %v", tc.data, err)
			continue
		}
		if string(name) != tc.name || args.Len() != len(tc.args) {
			t.Errorf("SplitEvent(%s) = %q, %d args; want %q, %d", tc.data, name, args.Len(), tc.name, len(tc.args))
			continue
		}
		for i, want := range tc.args {
			if string(args.Raw(i)) != want {
				t.Errorf("SplitEvent(%s) arg %d = %s, want %s", tc.data, i, args.Raw(i), want)
			}
		}
	}
	for _, bad := range []string{``, `[]`, `[true]`, `[null,"a"]`, `[{}]`, `[["a"]]`, `{"a":1}`, `"a"`, `["a"`, `["a",]`,
		`["a"]x`, "[\"\xff\"]", `[1,2,]`} {
		args.SetAttachments([][]byte{{1}})
		if _, err := SplitEvent([]byte(bad), &args); err == nil || !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("SplitEvent(%s) = %v, want an ErrInvalidPacket", bad, err)
		}
		if args.Len() != 0 || args.Attachments() != nil {
			t.Errorf("SplitEvent(%s) left %d args", bad, args.Len())
		}
	}
}

func TestParseArgs(t *testing.T) {
	var args Args
	if err := ParseArgs([]byte(`[]`), &args); err != nil || args.Len() != 0 {
		t.Errorf("[]: %v %d", err, args.Len())
	}
	if err := ParseArgs(nil, &args); err != nil || args.Len() != 0 {
		t.Errorf("nil: %v %d", err, args.Len())
	}
	if err := ParseArgs([]byte(`[true, "x" ,{}]`), &args); err != nil || args.Len() != 3 || string(args.Raw(2)) != `{}` {
		t.Errorf("[true, \"x\" ,{}]: %v %d", err, args.Len())
	}
	for _, bad := range []string{`{}`, `"x"`, `[`, `[1 2]`, `1`} {
		if err := ParseArgs([]byte(bad), &args); err == nil || args.Len() != 0 {
			t.Errorf("ParseArgs(%s) = %v, %d args", bad, err, args.Len())
		}
	}
}

func TestSplitEventAllocs(t *testing.T) {
	data := []byte(`["message",{"user":"ann","text":"hello"},true,null,-1.5e3,"x\ny",[1,2,3]]`)
	escaped := []byte(`["mess\u0061ge",1]`)
	numeric := []byte(`[1.0,1]`)
	args := Args{}
	if _, err := SplitEvent(escaped, &args); err != nil { // grow the storage once
		t.Fatal(err)
	}
	if _, err := SplitEvent(data, &args); err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{data, escaped, numeric} {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := SplitEvent(in, &args); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("SplitEvent(%s) allocates %v times", in, allocs)
		}
	}
}

func TestArgsAccessors(t *testing.T) {
	var args Args
	if err := ParseArgs([]byte(`["a\"\u00e9",42,-1.5,true,false,null,{"_placeholder":true,"num":1},[1],1.0,1e3,1.5,9223372036854775808,1e400]`), &args); err != nil {
		t.Fatal(err)
	}
	args.SetAttachments([][]byte{[]byte("zero"), []byte("one")})
	if s, err := args.String(0); err != nil || s != `a"é` {
		t.Errorf("String(0) = %q, %v", s, err)
	}
	if _, err := args.String(1); !errors.Is(err, ErrArgType) {
		t.Errorf("String(1): %v", err)
	}
	if n, err := args.Int(1); err != nil || n != 42 {
		t.Errorf("Int(1) = %d, %v", n, err)
	}
	if n, err := args.Int(8); err != nil || n != 1 {
		t.Errorf("Int(8) = %d, %v", n, err)
	}
	if n, err := args.Int(9); err != nil || n != 1000 {
		t.Errorf("Int(9) = %d, %v", n, err)
	}
	for _, i := range []int{2, 10, 11, 0} {
		if _, err := args.Int(i); !errors.Is(err, ErrArgType) {
			t.Errorf("Int(%d): %v", i, err)
		}
	}
	if f, err := args.Float(2); err != nil || f != -1.5 {
		t.Errorf("Float(2) = %v, %v", f, err)
	}
	if f, err := args.Float(12); err != nil || !math.IsInf(f, 1) {
		t.Errorf("Float(12) = %v, %v", f, err)
	}
	if _, err := args.Float(3); !errors.Is(err, ErrArgType) {
		t.Errorf("Float(3): %v", err)
	}
	if b, err := args.Bool(3); err != nil || !b {
		t.Errorf("Bool(3) = %v, %v", b, err)
	}
	if b, err := args.Bool(4); err != nil || b {
		t.Errorf("Bool(4) = %v, %v", b, err)
	}
	if _, err := args.Bool(5); !errors.Is(err, ErrArgType) {
		t.Errorf("Bool(5): %v", err)
	}
	if b, err := args.Bytes(6); err != nil || string(b) != "one" {
		t.Errorf("Bytes(6) = %q, %v", b, err)
	}
	if _, err := args.Bytes(7); !errors.Is(err, ErrArgType) {
		t.Errorf("Bytes(7): %v", err)
	}
	var list []int
	if err := args.Decode(7, &list); err != nil || !reflect.DeepEqual(list, []int{1}) {
		t.Errorf("Decode(7) = %v, %v", list, err)
	}
	var ph map[string]any
	if err := args.Decode(6, &ph); err != nil || ph["_placeholder"] != true {
		t.Errorf("Decode(6) = %v, %v (placeholders are not substituted)", ph, err)
	}
	if v, err := args.Value(5); err != nil || v != nil {
		t.Errorf("Value(5) = %v, %v", v, err)
	}
	if args.Raw(99) != nil || args.Raw(-1) != nil {
		t.Error("Raw out of range")
	}
	if _, err := args.String(99); err != ErrNoArg {
		t.Errorf("String(99): %v", err)
	}
	if _, err := args.Value(13); err != ErrNoArg {
		t.Errorf("Value(13): %v", err)
	}
}

func TestArgsValuePlaceholders(t *testing.T) {
	var args Args
	data := `[{"a":[1,{"_placeholder":true,"num":0}],"b":{"_placeholder":true,"num":1,"ignored":{"_placeholder":true,"num":5}},` +
		`"c":{"_placeholder":false,"num":0},"d":{"num":0,"_placeholder":true},"e":{"_placeholder":true,"num":0.5},` +
		`"dup":1,"dup":2,"s":"\ud83d\ude00"},{"_placeholder":true,"num":1}]`
	if err := ParseArgs([]byte(data), &args); err != nil {
		t.Fatal(err)
	}
	zero, one := []byte{0}, []byte{1, 1}
	args.SetAttachments([][]byte{zero, one})
	v, err := args.Value(0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a":   []any{1.0, zero},
		"b":   one,
		"c":   map[string]any{"_placeholder": false, "num": 0.0},
		"d":   zero,
		"e":   nil,
		"dup": 2.0,
		"s":   "😀",
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("Value(0) = %#v\nwant %#v", v, want)
	}
	if v, _ := args.Value(1); !bytes.Equal(v.([]byte), one) {
		t.Errorf("Value(1) = %#v", v)
	}
	// Without attachments (a text packet), placeholders are plain objects.
	args.SetAttachments(nil)
	if v, _ := args.Value(1); !reflect.DeepEqual(v, map[string]any{"_placeholder": true, "num": 1.0}) {
		t.Errorf("Value(1) without attachments = %#v", v)
	}
}

func TestArgsClone(t *testing.T) {
	buf := []byte(`["ev","text",{"k":[1,2]},{"_placeholder":true,"num":0}]`)
	att := [][]byte{[]byte("bin")}
	var args Args
	if _, err := SplitEvent(buf, &args); err != nil {
		t.Fatal(err)
	}
	args.SetAttachments(att)
	c := args.Clone()
	// Scribble over the originals.
	for i := range buf {
		buf[i] = 'X'
	}
	att[0][0] = 'X'
	if c.Len() != 3 || string(c.Raw(0)) != `"text"` || string(c.Raw(1)) != `{"k":[1,2]}` {
		t.Errorf("clone: %s %s", c.Raw(0), c.Raw(1))
	}
	if b, err := c.Bytes(2); err != nil || string(b) != "bin" {
		t.Errorf("clone Bytes: %q %v", b, err)
	}
	// Appending to a cloned element must not overwrite the next one.
	_ = append(c.Raw(0), "zzzz"...)
	if string(c.Raw(1)) != `{"k":[1,2]}` {
		t.Errorf("clone elements overlap: %s", c.Raw(1))
	}
	var empty Args
	if e := empty.Clone(); e.Len() != 0 || e.Attachments() != nil {
		t.Error("empty clone")
	}
}

func TestArgsSpread(t *testing.T) {
	var args Args
	if _, err := SplitEvent([]byte(`["relay","t",{"_placeholder":true,"num":1},{"x":[{"_placeholder":true,"num":0}]},{"_placeholder":true,"num":0.5}]`), &args); err != nil {
		t.Fatal(err)
	}
	args.SetAttachments([][]byte{[]byte("A"), []byte("B")})
	var e Encoder
	out, err := e.AppendEvent(nil, "/", NoID, "relay", args.Spread())
	if err != nil {
		t.Fatal(err)
	}
	want := `52-["relay","t",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]},null]`
	if string(out) != want || string(e.Attachments[0]) != "B" || string(e.Attachments[1]) != "A" {
		t.Errorf("relay = %s %q, want %s", out, e.Attachments, want)
	}
	// A text packet's arguments spread to RawJSON.
	if err := ParseArgs([]byte(`[{"_placeholder":true,"num":0}]`), &args); err != nil {
		t.Fatal(err)
	}
	if _, ok := args.Spread()[0].(RawJSON); !ok {
		t.Errorf("Spread of a text argument: %T", args.Spread()[0])
	}
}
