package sio

import "testing"

// benchArgs is a typical chat message: a string, a number and a pre-encoded object.
var benchArgs = []any{"hello, world", 42, RawJSON(`{"user":"ann","room":"general","ts":1700000000000}`)}

func BenchmarkEncodeEvent(b *testing.B) {
	var e Encoder
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.AppendEvent(dst[:0], "/", NoID, "message", benchArgs)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
	b.SetBytes(int64(len(dst)))
}

func BenchmarkEncodeBinaryEvent(b *testing.B) {
	var e Encoder
	file := make([]byte, 4096)
	args := []any{"upload", file, map[string]any{"name": "a.bin", "thumb": file[:64]}}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.AppendEvent(dst[:0], "/files", 7, "put", args)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
	b.SetBytes(int64(len(dst)))
}

var benchWire = []byte(`2/chat,17["message",{"user":"ann","text":"hello, world \u00e9","room":"general","ts":1700000000000},true]`)

func BenchmarkDecodeEvent(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchWire)))
	for b.Loop() {
		if _, err := Decode(benchWire); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitEvent(b *testing.B) {
	p, err := Decode(benchWire)
	if err != nil {
		b.Fatal(err)
	}
	var args Args
	b.ReportAllocs()
	b.SetBytes(int64(len(p.Data)))
	for b.Loop() {
		if _, err := SplitEvent(p.Data, &args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeStruct measures the sonic path, for comparison.
func BenchmarkEncodeStruct(b *testing.B) {
	type message struct {
		User string `json:"user"`
		Text string `json:"text"`
		TS   int64  `json:"ts"`
	}
	var e Encoder
	args := []any{message{User: "ann", Text: "hello, world", TS: 1700000000000}}
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.AppendEvent(dst[:0], "/", NoID, "message", args)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}
