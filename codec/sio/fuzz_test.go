package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzDecode checks that Decode never panics, that every error wraps ErrInvalidPacket, and that a decoded
// packet written again by the encoders (with RawJSON arguments) decodes to an equal packet.
func FuzzDecode(f *testing.F) {
	for _, tc := range wirePackets {
		f.Add([]byte(tc.wire))
	}
	for _, s := range []string{``, ` `, `2`, `21 ["x"]`, `5 1 -["x"]`, `50x2-["x"]`, `2["\u0063onnect"]`, `2[1.5,"x"]`,
		`0/a,{"x":"\"\\"}`, `3/a,9[[[[]]],{}]`, `2["é😀",0.5,-0]`, `2["\ud800"]`, `61-/a,3[{"_placeholder":true,"num":0}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("Decode(%q): %v does not wrap ErrInvalidPacket", b, err)
			}
			return
		}
		if len(p.Namespace) == 0 || p.Namespace[0] != '/' || bytes.IndexByte(p.Namespace, ',') >= 0 || p.ID < NoID {
			t.Fatalf("Decode(%q) = %+v", b, p)
		}
		if binary := p.Type == BinaryEvent || p.Type == BinaryAck; binary != (p.Attachments > 0) || p.Attachments > DefaultMaxAttachments {
			t.Fatalf("Decode(%q): %d attachments for %v", b, p.Attachments, p.Type)
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%q): invalid JSON %q", b, p.Data)
		}
		again := reencode(t, p)
		q, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, written again as %q, which does not decode: %v", b, p, again, err)
		}
		if q.Type != p.Type || string(q.Namespace) != string(p.Namespace) || q.ID != p.ID || q.Attachments != p.Attachments ||
			!sameJSON(t, p.Data, q.Data) {
			t.Fatalf("Decode(%q) = %+v, written again as %q, decodes to %+v", b, p, again, q)
		}
	})
}

// reencode writes p again with the encoder of its type.
func reencode(t *testing.T, p Packet) []byte {
	var e Encoder
	nsp := string(p.Namespace)
	var args Args
	var out []byte
	var err error
	switch {
	case p.Type == Event && p.Data != nil:
		name, serr := SplitEvent(p.Data, &args)
		if serr != nil {
			t.Fatalf("SplitEvent(%q): %v", p.Data, serr)
		}
		if first := bytes.TrimLeft(bytes.TrimLeft(p.Data, " \t\r\n")[1:], " \t\r\n"); first[0] != '"' {
			return AppendPacket(nil, p) // a numeric name: AppendEvent takes strings
		}
		out, err = e.AppendEvent(nil, nsp, p.ID, string(name), rawArgs(&args))
	case p.Type == Ack && p.Data != nil:
		if perr := ParseArgs(p.Data, &args); perr != nil {
			t.Fatalf("ParseArgs(%q): %v", p.Data, perr)
		}
		out, err = e.AppendAck(nil, nsp, p.ID, rawArgs(&args))
	case p.Type == Disconnect && p.ID == NoID:
		out = AppendDisconnect(nil, nsp)
	default:
		out = AppendPacket(nil, p)
	}
	if err != nil {
		t.Fatalf("writing %+v again: %v", p, err)
	}
	if len(e.Attachments) != 0 {
		t.Fatalf("RawJSON arguments made attachments: %q", out)
	}
	return out
}

func rawArgs(a *Args) []any {
	out := make([]any, a.Len())
	for i := range out {
		out[i] = RawJSON(a.Raw(i))
	}
	return out
}

// sameJSON reports whether a and b are both absent or the same JSON value (numbers compared as text).
func sameJSON(t *testing.T, a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.DeepEqual(decodeAny(t, a), decodeAny(t, b))
}

func decodeAny(t *testing.T, b []byte) any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return v
}

// FuzzSplitEvent checks that SplitEvent never panics, accepts exactly the JSON arrays (as encoding/json sees
// them, in valid UTF-8) that start with a string or a number, and splits them into valid JSON elements; and
// the same of ParseArgs for all arrays.
func FuzzSplitEvent(f *testing.F) {
	for _, s := range []string{`["hello",1]`, `["a",{"b":[1,2,{"c":null}]},true,false,null,-1.5e-3,"\u00e9\n"]`, `[1,2]`,
		` [ "x" ] `, `[]`, `[true]`, `{"a":1}`, `["a",]`, `[1.0]`, `[1e400]`, `["\ud83d\ude00"]`, "[\"\xff\"]", `[[[[[]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var args Args
		name, err := SplitEvent(b, &args)
		if err == errDepth {
			return // encoding/json allows deeper nesting than MaxDepth
		}
		var all []json.RawMessage
		isArray := utf8.Valid(b) && json.Unmarshal(b, &all) == nil && all != nil
		want := false
		if isArray && len(all) > 0 {
			c := all[0][0]
			want = c == '"' || c == '-' || (c >= '0' && c <= '9')
		}
		if (err == nil) != want {
			t.Fatalf("SplitEvent(%q): %v; encoding/json says an event array: %v", b, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) || args.Len() != 0 {
				t.Fatalf("SplitEvent(%q): %v, %d args", b, err, args.Len())
			}
		} else {
			if args.Len() != len(all)-1 {
				t.Fatalf("SplitEvent(%q): %d args, want %d", b, args.Len(), len(all)-1)
			}
			for i := range args.Len() {
				if raw := args.Raw(i); !json.Valid(raw) || string(raw) != string(all[i+1]) {
					t.Fatalf("SplitEvent(%q): arg %d is %q, want %q", b, i, raw, all[i+1])
				}
			}
			checkName(t, b, all[0], name)
		}
		err = ParseArgs(b, &args)
		if len(b) == 0 {
			return // an absent payload: no arguments
		}
		if (err == nil) != isArray {
			t.Fatalf("ParseArgs(%q): %v; encoding/json says an array: %v", b, err, isArray)
		}
		if err == nil && args.Len() != len(all) {
			t.Fatalf("ParseArgs(%q): %d args, want %d", b, args.Len(), len(all))
		}
	})
}

func checkName(t *testing.T, b []byte, first json.RawMessage, name []byte) {
	if first[0] == '"' {
		var s string
		if err := json.Unmarshal(first, &s); err != nil || s != string(name) {
			t.Fatalf("SplitEvent(%q): name %q, want %q", b, name, s)
		}
		return
	}
	want, _ := strconv.ParseFloat(string(first), 64)
	got, err := strconv.ParseFloat(string(name), 64)
	switch string(name) {
	case "Infinity":
		got, err = math.Inf(1), nil
	case "-Infinity":
		got, err = math.Inf(-1), nil
	}
	if err != nil || got != want {
		t.Fatalf("SplitEvent(%q): name %q, want the number %v", b, name, want)
	}
}

// FuzzReassemble feeds a text packet and a sequence of binary frames through a Reassembler, the way a
// connection receives them: it must never panic, never complete a packet before all its attachments arrived,
// and a completed packet's placeholders must all name an attachment it carries.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte(`51-["up",{"_placeholder":true,"num":0}]`), []byte{1, 2, 3}, uint8(1))
	f.Add([]byte(`52-/a,7["x",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`), []byte{9}, uint8(3))
	f.Add([]byte(`61-3[{"_placeholder":true,"num":5}]`), []byte{}, uint8(1))
	f.Add([]byte(`2["plain"]`), []byte{7}, uint8(2))
	f.Fuzz(func(t *testing.T, text, bin []byte, frames uint8) {
		p, err := Decode(text)
		if err != nil {
			return
		}
		var r Reassembler
		if p.Attachments == 0 {
			if _, _, _, err := r.Add(bin); err == nil {
				t.Fatal("a binary frame with no packet waiting was accepted")
			}
			return
		}
		r.Start(p)
		for i := 0; i < int(frames%16); i++ {
			done, got, att, err := r.Add(bin)
			if err != nil {
				return // e.g. a placeholder out of range: the connection is closed
			}
			if !done {
				if i+1 >= p.Attachments {
					t.Fatalf("still waiting after %d of %d attachments", i+1, p.Attachments)
				}
				continue
			}
			if i+1 != p.Attachments || len(att) != p.Attachments {
				t.Fatalf("completed after %d frames with %d attachments, announced %d", i+1, len(att), p.Attachments)
			}
			var args Args
			if got.Type == BinaryEvent {
				if _, err := SplitEvent(got.Data, &args); err != nil {
					return
				}
			} else if err := ParseArgs(got.Data, &args); err != nil {
				return
			}
			args.SetAttachments(att)
			for j := 0; j < args.Len(); j++ {
				_, _ = args.Value(j) // must not panic whatever the placeholders say
			}
			return
		}
	})
}
