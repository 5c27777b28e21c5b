package wsframe

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func TestAppendHeader(t *testing.T) {
	cases := []struct {
		name   string
		op     ws.OpCode
		fin    bool
		length int
		want   []byte
	}{
		{
			name:   "empty final text",
			op:     ws.OpText,
			fin:    true,
			length: 0,
			want:   []byte{0x81, 0},
		},
		{
			name:   "125 bytes non-final binary",
			op:     ws.OpBinary,
			fin:    false,
			length: 125,
			want:   []byte{0x02, 125},
		},
		{
			name:   "126 bytes",
			op:     ws.OpBinary,
			fin:    true,
			length: 126,
			want:   []byte{0x82, 126, 0, 126},
		},
		{
			name:   "65535 bytes",
			op:     ws.OpText,
			fin:    true,
			length: 65535,
			want:   []byte{0x81, 126, 0xff, 0xff},
		},
		{
			name:   "65536 bytes continuation",
			op:     ws.OpContinuation,
			fin:    true,
			length: 65536,
			want:   []byte{0x80, 127, 0, 0, 0, 0, 0, 1, 0, 0},
		},
		{
			name:   "ping",
			op:     ws.OpPing,
			fin:    true,
			length: 4,
			want:   []byte{0x89, 4},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendHeader([]byte("prefix"), tc.op, tc.fin, tc.length)
			if !bytes.Equal(got, append([]byte("prefix"), tc.want...)) {
				t.Fatalf(
					"AppendHeader = % x, want prefix + % x",
					got, tc.want,
				)
			}
			if n := HeaderLen(tc.length); n != len(tc.want) {
				t.Fatalf(
					"HeaderLen(%d) = %d, want %d",
					tc.length, n, len(tc.want),
				)
			}
		})
	}
}

// TestAppendFrameGobwas reads server frames back with gobwas/ws.
func TestAppendFrameGobwas(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 100000} {
		payload := pattern(size)
		wire := AppendFrame(nil, ws.OpBinary, payload)
		if len(wire) != HeaderLen(size)+size {
			t.Fatalf(
				"size %d: frame is %d bytes, want %d",
				size, len(wire), HeaderLen(size)+size,
			)
		}
		f, err := ws.ReadFrame(bytes.NewReader(wire))
		if err != nil {
			t.Fatalf(
				"size %d: gobwas ReadFrame: %v",
				size, err,
			)
		}
		if !f.Header.Fin || f.Header.Masked || f.Header.OpCode != ws.OpBinary || !bytes.Equal(f.Payload, payload) {
			t.Fatalf(
				"size %d: got header %+v",
				size, f.Header,
			)
		}
	}
}

func TestAppendClose(t *testing.T) {
	if got := AppendClose(nil, 0, "ignored"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Fatalf(
			"AppendClose(0) = % x",
			got,
		)
	}

	got := AppendClose(nil, CloseGoingAway, "bye")
	if !bytes.Equal(got, []byte{0x88, 5, 0x03, 0xe9, 'b', 'y', 'e'}) {
		t.Fatalf(
			"AppendClose(1001, bye) = % x",
			got,
		)
	}

	// A reason too long for a control frame is cut at a rune boundary.
	long := strings.Repeat("é", 100) // 200 bytes
	got = AppendClose(nil, CloseNormal, long)
	if len(got) > 2+125 {
		t.Fatalf(
			"close frame is %d bytes",
			len(got),
		)
	}
	code, reason := ClosePayload(got[2:])
	if code != CloseNormal || !utf8.Valid(reason) || len(reason) != 122 {
		t.Fatalf(
			"code=%d reason len=%d valid=%v",
			code, len(reason), utf8.Valid(reason),
		)
	}

	// What AppendClose writes, a client-side decoder accepts: re-encode the
	// frame as a masked client frame and decode it.
	var d Decoder
	msg, _, ok, err := d.Decode(clientFrame{op: ws.OpClose, payload: got[2:]}.bytes())
	if !ok || err != nil || msg.Op != ws.OpClose {
		t.Fatalf(
			"decode of own close frame: ok=%v err=%v",
			ok, err,
		)
	}
}

func TestClosePayload(t *testing.T) {
	cases := []struct {
		name       string
		in         []byte
		wantCode   uint16
		wantReason string
	}{
		{
			name:     "empty",
			in:       nil,
			wantCode: 1005,
		},
		{
			name:     "one byte",
			in:       []byte{3},
			wantCode: 1005,
		},
		{
			name:     "code only",
			in:       []byte{0x03, 0xe8},
			wantCode: 1000,
		},
		{
			name:       "code and reason",
			in:         []byte{0x0f, 0xa0, 'o', 'k'},
			wantCode:   4000,
			wantReason: "ok",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := ClosePayload(tc.in)
			if code != tc.wantCode || string(reason) != tc.wantReason {
				t.Fatalf(
					"ClosePayload = %d %q, want %d %q",
					code, reason, tc.wantCode, tc.wantReason,
				)
			}
		})
	}
}

func TestAppendHeaderNegativeLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a negative length")
		}
	}()
	AppendHeader(nil, ws.OpText, true, -1)
}

func TestAllocsAppendFrame(t *testing.T) {
	payload := pattern(16 << 10)
	dst := make([]byte, 0, HeaderLen(len(payload))+len(payload))
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AppendFrame(dst[:0], ws.OpBinary, payload)
	})
	if allocs != 0 {
		t.Fatalf(
			"AppendFrame allocates %v times",
			allocs,
		)
	}
}
