package http1

import "testing"

func TestQuery(t *testing.T) {
	var r Request
	if _, err := Parse([]byte(pollingGET), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"EIO", "4", true},
		{"transport", "polling", true},
		{"sid", "abc%2D_", true}, // raw, still escaped
		{"t", "x", true},
		{"eio", "", false}, // keys are case-sensitive
		{"si", "", false},
		{"sid=abc%2D_", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		v, ok := r.Query(tt.key)
		if ok != tt.ok || string(v) != tt.want {
			t.Errorf("Query(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want, tt.ok)
		}
	}

	if _, err := Parse([]byte("GET /?a&&b=&c=1&c=2&=z HTTP/1.1\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key, want string
		ok        bool
	}{
		{"a", "", true},  // key without '='
		{"b", "", true},  // empty value
		{"c", "1", true}, // first occurrence
		{"", "z", true},  // empty key with '='
		{"d", "", false},
	} {
		v, ok := r.Query(tt.key)
		if ok != tt.ok || string(v) != tt.want {
			t.Errorf("Query(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want, tt.ok)
		}
	}

	if _, err := Parse([]byte("GET /path HTTP/1.1\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Query("path"); ok || v != nil {
		t.Errorf("Query without a query string = %q, %v", v, ok)
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct {
		in, query, path string
		err             error
	}{
		{in: "", query: "", path: ""},
		{in: "plain", query: "plain", path: "plain"},
		{in: "abc%2D_", query: "abc-_", path: "abc-_"},
		{in: "a+b%20c", query: "a b c", path: "a+b c"},
		{in: "%2b%2B", query: "++", path: "++"},
		{in: "%e2%82%AC", query: "€", path: "€"},
		{in: "%00", query: "\x00", path: "\x00"},
		{in: "100%", err: ErrBadEscape},
		{in: "%4", err: ErrBadEscape},
		{in: "%zz", err: ErrBadEscape},
		{in: "%g0", err: ErrBadEscape},
		{in: "ok%2", err: ErrBadEscape},
	}
	for _, tt := range tests {
		prefix := []byte("pre:")
		got, err := Unescape(prefix, []byte(tt.in))
		if err != tt.err {
			t.Errorf("Unescape(%q) error = %v, want %v", tt.in, err, tt.err)
		}
		want := "pre:" + tt.query
		if err != nil {
			want = "pre:" // dst is returned unchanged on error
		}
		if string(got) != want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, want)
		}

		got, err = UnescapePath(nil, []byte(tt.in))
		if err != tt.err || (err == nil && string(got) != tt.path) {
			t.Errorf("UnescapePath(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.path, tt.err)
		}
	}

	dst := make([]byte, 0, 64)
	src := []byte("abc%2D_+x")
	if allocs := testing.AllocsPerRun(100, func() { dst, _ = Unescape(dst[:0], src) }); allocs != 0 {
		t.Errorf("Unescape into a large enough dst: %v allocs, want 0", allocs)
	}
}
