package demo

import (
	"testing"
	"time"
)

func TestUserMessage(t *testing.T) {
	now := time.Date(2026, 11, 26, 2, 8, 5, 0, time.UTC)
	stamp := `"timestamp":"Thu, 26 Nov 2026 02:08:05 GMT"`
	cases := []struct{ in, want string }{
		{`{"text":"hi","from":"ann"}`, `{"text":"hi","from":"ann","type":"user_message",` + stamp + `}`},
		{`{"type":"x","text":"hi"}`, `{"type":"user_message","text":"hi",` + stamp + `}`},
		{`{"n":1.50,"deep":{"a":[1,2]}}`, `{"n":1.50,"deep":{"a":[1,2]},"type":"user_message",` + stamp + `}`},
		{`"just text"`, `{"type":"user_message",` + stamp + `}`},
		{``, `{"type":"user_message",` + stamp + `}`},
	}
	for _, tc := range cases {
		got, err := userMessage([]byte(tc.in), now)
		if err != nil || string(got) != tc.want {
			t.Errorf("userMessage(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := userMessage([]byte(`{"a":`), now); err == nil {
		t.Error("broken JSON accepted")
	}
}
