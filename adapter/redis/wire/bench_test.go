package wire

import (
	"testing"

	"github.com/fastio/fastio/codec/sio"
)

func benchFixture(b *testing.B, name string) []byte {
	for _, f := range loadFixtures(b) {
		if f.Name == name {
			return mustHex(b, f.Hex)
		}
	}
	b.Fatalf("no fixture %q", name)
	return nil
}

// A broadcast from a Node.js node, as a fastio node handles it: decode, then encode for the clients.
func BenchmarkReceiveBroadcast(b *testing.B) {
	msg := benchFixture(b, "key order")
	var enc sio.Encoder
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := DecodeBroadcast(msg)
		if err != nil {
			b.Fatal(err)
		}
		if out, err = enc.AppendEvent(out[:0], "/", sio.NoID, m.Event, m.Args); err != nil {
			b.Fatal(err)
		}
	}
}

// A broadcast from a fastio node: the message published.
func BenchmarkPublishBroadcast(b *testing.B) {
	args := []any{map[string]any{"zeta": 1, "alpha": map[string]any{"y": 2, "x": []any{1, 2}}}, "text", 3.5}
	var enc sio.Encoder
	b.ReportAllocs()
	for b.Loop() {
		data, err := EncodeEvent(nil, &enc, "ev", args)
		if err != nil {
			b.Fatal(err)
		}
		_ = AppendBroadcast(nil, "uid", "/", data, Opts{Rooms: []string{"r"}})
	}
}
