package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/fastio/fastio/codec/sio"
)

func addFixtureSeeds(f *testing.F) {
	b, err := os.ReadFile("testdata/notepack.json")
	if err != nil {
		f.Fatal(err)
	}
	var fx []fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		f.Fatal(err)
	}
	for _, c := range fx {
		m, _ := hex.DecodeString(c.Hex)
		f.Add(m)
	}
	f.Add([]byte{0xd4, 0x00, 0x00})
	f.Add([]byte{0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x81, 0x01, 0xc0})
}

// FuzzDecodeMsgpack feeds arbitrary bytes to the msgpack decoders: they must not panic, and whatever
// MsgpackToJSON accepts must be valid JSON that transcodes back to msgpack and again to the same JSON.
func FuzzDecodeMsgpack(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeBroadcast(b); err == nil {
			var enc sio.Encoder
			if _, err := enc.AppendEvent(nil, "/", sio.NoID, m.Event, m.Args); err != nil && !sio.IsReservedEvent(m.Event) {
				t.Fatalf("decoded broadcast does not encode: %v", err)
			}
		}
		_, _ = DecodeRequest(b)
		_, _ = DecodeResponse(b)
		_, _ = DecodeClusterMessage(b)
		j, att, _, err := MsgpackToJSON(nil, nil, b)
		if err != nil {
			return
		}
		if !json.Valid(j) {
			t.Fatalf("invalid JSON %q from %x", j, b)
		}
		mp, _, err := JSONToMsgpack(nil, j, att)
		if err != nil {
			t.Fatalf("JSON %q does not go back to msgpack: %v", j, err)
		}
		j2, _, _, err := MsgpackToJSON(nil, nil, mp)
		if err != nil {
			t.Fatalf("re-encoded msgpack %x does not decode: %v", mp, err)
		}
		if !bytes.Equal(j, j2) {
			t.Fatalf("round trip changed the JSON:\n%s\n%s", j, j2)
		}
	})
}

// FuzzJSONToMsgpack feeds arbitrary text to the JSON transcoder: no panic, and valid JSON always transcodes.
func FuzzJSONToMsgpack(f *testing.F) {
	f.Add([]byte(`{"a":[1,2.5,-0,1e400,"x\u00e9\ud800"],"_placeholder":true,"num":0}`))
	f.Add([]byte(`[{"_placeholder":true,"num":0},{"num":0.5,"_placeholder":true}]`))
	f.Fuzz(func(t *testing.T, j []byte) {
		mp, end, err := JSONToMsgpack(nil, j, [][]byte{{1, 2}})
		if err != nil {
			return
		}
		if _, _, _, err := MsgpackToJSON(nil, nil, mp); err != nil {
			t.Fatalf("%q gave msgpack %x that does not decode: %v", j[:end], mp, err)
		}
	})
}
