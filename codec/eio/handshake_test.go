package eio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAppendOpen(t *testing.T) {
	tests := []struct {
		name     string
		sid      string
		upgrades []string
		want     string
	}{
		{"websocket", "lv_VI97HAXpY6yYWAAAC", []string{"websocket"},
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"no upgrades", "lv_VI97HAXpY6yYWAAAC", []string{},
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"nil upgrades", "lv_VI97HAXpY6yYWAAAC", nil,
			`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
		{"two upgrades", "s", []string{"websocket", "webtransport"},
			`0{"sid":"s","upgrades":["websocket","webtransport"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendOpen(nil, tt.sid, tt.upgrades, 25*time.Second, 20*time.Second, 1000000)
			if string(got) != tt.want {
				t.Fatalf("AppendOpen =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestAppendOpenAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	up := []string{"websocket"}
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AppendOpen(dst[:0], "lv_VI97HAXpY6yYWAAAC", up, 25*time.Second, 20*time.Second, 1e6)
	})
	if allocs != 0 {
		t.Fatalf("AppendOpen: %v allocs per run, want 0", allocs)
	}
}

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		code ErrorCode
		n    int
		msg  string
		body string
	}{
		{CodeUnknownTransport, 0, "Transport unknown", `{"code":0,"message":"Transport unknown"}`},
		{CodeUnknownSID, 1, "Session ID unknown", `{"code":1,"message":"Session ID unknown"}`},
		{CodeBadHandshakeMethod, 2, "Bad handshake method", `{"code":2,"message":"Bad handshake method"}`},
		{CodeBadRequest, 3, "Bad request", `{"code":3,"message":"Bad request"}`},
		{CodeForbidden, 4, "Forbidden", `{"code":4,"message":"Forbidden"}`},
		{CodeUnsupportedProtocolVersion, 5, "Unsupported protocol version", `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, tt := range tests {
		if int(tt.code) != tt.n || tt.code.Message() != tt.msg {
			t.Errorf("code %d: value %d message %q, want %d %q", tt.n, int(tt.code), tt.code.Message(), tt.n, tt.msg)
		}
		if got := string(AppendErrorJSON(nil, tt.code, tt.code.Message())); got != tt.body {
			t.Errorf("AppendErrorJSON(%d) = %s, want %s", tt.n, got, tt.body)
		}
	}
	if ErrorCode(6).Message() != "" {
		t.Error("unknown code should have an empty message")
	}
}

func TestAppendErrorJSONEscaping(t *testing.T) {
	tests := []struct{ msg, want string }{
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"a\nb\rc\td\be\ff", `"a\nb\rc\td\be\ff"`},
		{"\x00\x1e\x1f", `"\u0000\u001e\u001f"`},
		{"<b>&amp;</b>", `"<b>&amp;</b>"`},         // JSON.stringify does not escape HTML
		{"€ \u2028 ✓ \x7f", "\"€ \u2028 ✓ \x7f\""}, // nor U+2028 or DEL
		{"bad \xff utf8 \xe2\x82", "\"bad \ufffd utf8 \ufffd\ufffd\""},
		{"", `""`},
	}
	for _, tt := range tests {
		got := AppendErrorJSON(nil, CodeBadRequest, tt.msg)
		want := `{"code":3,"message":` + tt.want + `}`
		if string(got) != want {
			t.Errorf("AppendErrorJSON(%q) = %s, want %s", tt.msg, got, want)
		}
		var v struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(got, &v); err != nil {
			t.Errorf("AppendErrorJSON(%q) is not valid JSON: %v", tt.msg, err)
		} else if v.Code != 3 || (v.Message != tt.msg && !strings.ContainsRune(v.Message, '\ufffd')) {
			t.Errorf("AppendErrorJSON(%q) decodes to %+v", tt.msg, v)
		}
	}
}

func TestNewSID(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		sid := NewSID()
		if len(sid) != 20 {
			t.Fatalf("NewSID() = %q, length %d, want 20", sid, len(sid))
		}
		for _, c := range sid {
			ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				t.Fatalf("NewSID() = %q has character %q outside the URL-safe alphabet", sid, c)
			}
		}
		if seen[sid] {
			t.Fatalf("NewSID() repeated %q", sid)
		}
		seen[sid] = true
	}
}
