package http1

import "testing"

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{101, "HTTP/1.1 101 Switching Protocols\r\n"},
		{200, "HTTP/1.1 200 OK\r\n"},
		{204, "HTTP/1.1 204 No Content\r\n"},
		{400, "HTTP/1.1 400 Bad Request\r\n"},
		{403, "HTTP/1.1 403 Forbidden\r\n"},
		{404, "HTTP/1.1 404 Not Found\r\n"},
		{405, "HTTP/1.1 405 Method Not Allowed\r\n"},
		{408, "HTTP/1.1 408 Request Timeout\r\n"},
		{413, "HTTP/1.1 413 Content Too Large\r\n"},
		{431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{500, "HTTP/1.1 500 Internal Server Error\r\n"},
		{501, "HTTP/1.1 501 Not Implemented\r\n"},
		{503, "HTTP/1.1 503 Service Unavailable\r\n"},
		{505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
		{299, "HTTP/1.1 299 \r\n"},
		{99, "HTTP/1.1 500 Internal Server Error\r\n"},
		{1000, "HTTP/1.1 500 Internal Server Error\r\n"},
		{-200, "HTTP/1.1 500 Internal Server Error\r\n"},
	}
	for _, tt := range tests {
		if got := string(AppendStatusLine([]byte("x"), tt.status)); got != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d) = %q, want %q", tt.status, got, "x"+tt.want)
		}
	}
	if StatusText(418) != "" {
		t.Errorf("StatusText(418) = %q, want empty", StatusText(418))
	}
}

func TestAppendHeaders(t *testing.T) {
	var b []byte
	b = AppendStatusLine(b, 200)
	b = AppendHeader(b, "Content-Type", "text/plain; charset=UTF-8")
	b = AppendHeaderBytes(b, "Access-Control-Allow-Origin", []byte("http://a"))
	b = AppendContentLength(b, 1234)
	b = AppendContentLength(b, 0)
	b = append(b, "\r\n"...)
	want := "HTTP/1.1 200 OK\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\n" +
		"Access-Control-Allow-Origin: http://a\r\n" +
		"Content-Length: 1234\r\n" +
		"Content-Length: 0\r\n" +
		"\r\n"
	if string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}

	// CR and LF must not split the response.
	b = AppendHeader([]byte("keep\r\n"), "X-A\r\n", "v\r\nSet-Cookie: evil")
	if got := string(b); got != "keep\r\nX-A  : v  Set-Cookie: evil\r\n" {
		t.Errorf("injection not neutralized: %q", got)
	}
	b = AppendHeaderBytes(nil, "X", []byte("a\nb\rc"))
	if got := string(b); got != "X: a b c\r\n" {
		t.Errorf("injection not neutralized: %q", got)
	}
}

func TestAppendZeroAllocs(t *testing.T) {
	dst := make([]byte, 0, 512)
	value := []byte("websocket")
	allocs := testing.AllocsPerRun(1000, func() {
		dst = AppendStatusLine(dst[:0], 101)
		dst = AppendHeader(dst, "Connection", "Upgrade")
		dst = AppendHeaderBytes(dst, "Upgrade", value)
		dst = AppendContentLength(dst, 1<<40)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per run, want 0", allocs)
	}
}
