package sio

import (
	"errors"
	"testing"
)

func TestReassemblerInOrder(t *testing.T) {
	var r Reassembler
	read := []byte(`52-/admin,7["upload",{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}}]`)
	p, err := Decode(read)
	if err != nil {
		t.Fatal(err)
	}
	if r.Waiting() {
		t.Fatal("waiting before Start")
	}
	r.Start(p)
	for i := range read { // the read buffer is reused
		read[i] = 'X'
	}
	if !r.Waiting() {
		t.Fatal("not waiting after Start")
	}
	frame := []byte{1, 2}
	done, _, _, err := r.Add(frame)
	if done || err != nil || !r.Waiting() {
		t.Fatalf("first attachment: %v %v", done, err)
	}
	frame[0] = 9 // so is the frame buffer
	done, p, att, err := r.Add([]byte{3})
	if !done || err != nil {
		t.Fatalf("last attachment: %v %v", done, err)
	}
	if r.Waiting() {
		t.Error("still waiting")
	}
	if p.Type != BinaryEvent || string(p.Namespace) != "/admin" || p.ID != 7 || p.Attachments != 2 ||
		string(p.Data) != `["upload",{"_placeholder":true,"num":0},{"f":{"_placeholder":true,"num":1}}]` {
		t.Errorf("packet %+v %s", p, p.Data)
	}
	if len(att) != 2 || string(att[0]) != "\x01\x02" || string(att[1]) != "\x03" {
		t.Errorf("attachments %q", att)
	}
	var args Args
	name, err := SplitEvent(p.Data, &args)
	if err != nil || string(name) != "upload" {
		t.Fatal(name, err)
	}
	args.SetAttachments(att)
	if b, err := args.Bytes(0); err != nil || string(b) != "\x01\x02" {
		t.Errorf("Bytes(0) = %q %v", b, err)
	}
	if v, err := args.Value(1); err != nil || string(v.(map[string]any)["f"].([]byte)) != "\x03" {
		t.Errorf("Value(1) = %#v %v", v, err)
	}
}

func TestArgsBytesWholePlaceholderOnly(t *testing.T) {
	var args Args
	data := `["ev",{"f":{"_placeholder":true,"num":0}},{"x":{"_placeholder":true,"num":0},"_placeholder":true,"num":1},` +
		`{"_placeholder":true,"num":0.5},{"_placeholder":false,"num":0}]`
	if _, err := SplitEvent([]byte(data), &args); err != nil {
		t.Fatal(err)
	}
	args.SetAttachments([][]byte{[]byte("a"), []byte("b")})
	if b, err := args.Bytes(0); err == nil {
		t.Errorf("Bytes(0) = %q: a placeholder deeper down is not the argument", b)
	}
	if b, err := args.Bytes(1); err != nil || string(b) != "b" {
		t.Errorf("Bytes(1) = %q %v: a placeholder with a placeholder inside is still one", b, err)
	}
	for _, i := range []int{2, 3} {
		if b, err := args.Bytes(i); !errors.Is(err, ErrArgType) {
			t.Errorf("Bytes(%d) = %q %v", i, b, err)
		}
	}
}

func TestReassemblerUnexpectedBinary(t *testing.T) {
	var r Reassembler
	if _, _, _, err := r.Add([]byte{1}); !errors.Is(err, ErrInvalidPacket) || err != errUnexpectedBin {
		t.Errorf("Add without Start: %v", err)
	}
	p, _ := Decode([]byte(`61-3[{"_placeholder":true,"num":0}]`))
	r.Start(p)
	if done, _, _, err := r.Add(nil); !done || err != nil {
		t.Fatalf("empty attachment: %v %v", done, err)
	}
	if _, _, _, err := r.Add([]byte{1}); err != errUnexpectedBin {
		t.Errorf("Add after the last attachment: %v", err)
	}
	r.Start(p)
	r.Reset()
	if r.Waiting() {
		t.Error("waiting after Reset")
	}
	if _, _, _, err := r.Add([]byte{1}); err != errUnexpectedBin {
		t.Errorf("Add after Reset: %v", err)
	}
}

func TestReassemblerPlaceholders(t *testing.T) {
	cases := []struct {
		wire string
		ok   bool
	}{
		{`52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`, true},
		{`52-["a",{"_placeholder":true,"num":2}]`, false},                                  // out of range
		{`52-["a",{"_placeholder":true,"num":-1}]`, false},                                 // negative
		{`52-["a",{"_placeholder":true}]`, false},                                          // no num
		{`52-["a",{"_placeholder":true,"num":"0"}]`, false},                                // not a number
		{`52-["a",{"_placeholder":true,"num":1e400}]`, false},                              // Infinity
		{`52-["a",{"_placeholder":true,"num":0.5}]`, true},                                 // Node: buffers[0.5], undefined
		{`52-["a",{"_placeholder":true,"num":-0}]`, true},                                  // -0 >= 0
		{`52-["a",{"_placeholder":"true","num":9}]`, true},                                 // not a placeholder
		{`52-["a",{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]`, true}, // inner one replaced away
		{`52-["a",{"_placeholder":false,"num":9,"_placeholder":true}]`, false},             // the last key wins
		{`52-["a",{"_placeholder":true,"num":9,"num":1}]`, true},
		{`52-["a",{"_placeholde\u0072":true,"n\u0075m":7}]`, false}, // keys compared unescaped
		{`52-["a",[[{"_placeholder":true,"num":2}]]]`, false},
		{`52-["a",{"_placeholder":true,"num":2}`, false}, // (a Decode error)
	}
	for _, tc := range cases {
		p, err := Decode([]byte(tc.wire))
		if err != nil {
			if tc.ok {
				t.Errorf("Decode(%s): %v", tc.wire, err)
			}
			continue
		}
		var r Reassembler
		r.Start(p)
		_, _, _, err = r.Add([]byte{0})
		if err != nil {
			t.Fatalf("%s: first Add: %v", tc.wire, err)
		}
		done, _, _, err := r.Add([]byte{1})
		if tc.ok != (err == nil) || tc.ok != done {
			t.Errorf("%s: done %v, err %v; want ok %v", tc.wire, done, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidPacket) {
			t.Errorf("%s: %v does not wrap ErrInvalidPacket", tc.wire, err)
		}
		if r.Waiting() {
			t.Errorf("%s: still waiting", tc.wire)
		}
	}
}
