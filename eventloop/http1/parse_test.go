package http1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const pollingGET = "GET /engine.io/?EIO=4&transport=polling&sid=abc%2D_&t=x HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"User-Agent: test\r\n" +
	"Accept: */*\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Upgrade: websocket\r\n" +
	"\r\n"

func TestParseValid(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		method     string
		target     string
		path       string
		query      string
		minor      int
		length     int64
		keepAlive  bool
		numHeaders int
	}{
		{
			name:   "simple GET",
			in:     "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 1, length: -1, keepAlive: true, numHeaders: 1,
		},
		{
			name:   "no headers",
			in:     "GET /x HTTP/1.1\r\n\r\n",
			method: "GET", target: "/x", path: "/x", minor: 1, length: -1, keepAlive: true,
		},
		{
			name:   "engine.io polling query",
			in:     pollingGET,
			method: "GET", target: "/engine.io/?EIO=4&transport=polling&sid=abc%2D_&t=x", path: "/engine.io/",
			query: "EIO=4&transport=polling&sid=abc%2D_&t=x", minor: 1, length: -1, keepAlive: true, numHeaders: 5,
		},
		{
			name:   "fragment is neither path nor query",
			in:     "GET /p?a=1#frag HTTP/1.1\r\n\r\n",
			method: "GET", target: "/p?a=1#frag", path: "/p", query: "a=1", minor: 1, length: -1, keepAlive: true,
		},
		{
			name:   "fragment without query",
			in:     "GET /p#frag?x HTTP/1.1\r\n\r\n",
			method: "GET", target: "/p#frag?x", path: "/p", minor: 1, length: -1, keepAlive: true,
		},
		{
			name:   "POST with Content-Length",
			in:     "POST /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n",
			method: "POST", target: "/engine.io/?EIO=4&transport=polling&sid=s", path: "/engine.io/",
			query: "EIO=4&transport=polling&sid=s", minor: 1, length: 11, keepAlive: true, numHeaders: 2,
		},
		{
			name:   "Content-Length zero",
			in:     "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			method: "POST", target: "/", path: "/", minor: 1, length: 0, keepAlive: true, numHeaders: 1,
		},
		{
			name:   "duplicate identical Content-Length",
			in:     "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:5\r\n\r\n",
			method: "POST", target: "/", path: "/", minor: 1, length: 5, keepAlive: true, numHeaders: 2,
		},
		{
			name:   "max int64 Content-Length",
			in:     "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n",
			method: "POST", target: "/", path: "/", minor: 1, length: 1<<63 - 1, keepAlive: true, numHeaders: 1,
		},
		{
			name:   "HTTP/1.1 close",
			in:     "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 1, length: -1, keepAlive: false, numHeaders: 1,
		},
		{
			name:   "HTTP/1.1 close among tokens, any case",
			in:     "GET / HTTP/1.1\r\nConnection: Upgrade , CLOSE\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 1, length: -1, keepAlive: false, numHeaders: 1,
		},
		{
			name:   "HTTP/1.1 close in second Connection field",
			in:     "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 1, length: -1, keepAlive: false, numHeaders: 2,
		},
		{
			name:   "HTTP/1.0 default close",
			in:     "GET / HTTP/1.0\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 0, length: -1, keepAlive: false,
		},
		{
			name:   "HTTP/1.0 keep-alive",
			in:     "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 0, length: -1, keepAlive: true, numHeaders: 1,
		},
		{
			name:   "HTTP/1.0 close wins over keep-alive",
			in:     "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 0, length: -1, keepAlive: false, numHeaders: 1,
		},
		{
			name:   "keep-alive is not a substring match",
			in:     "GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 0, length: -1, keepAlive: false, numHeaders: 1,
		},
		{
			name:   "one leading empty line is skipped",
			in:     "\r\nGET / HTTP/1.1\r\n\r\n",
			method: "GET", target: "/", path: "/", minor: 1, length: -1, keepAlive: true,
		},
		{
			name:   "OWS trimmed, empty value, obs-text value",
			in:     "OPTIONS * HTTP/1.1\r\nA: \t x y \t\r\nB:\r\nC: caf\xc3\xa9\r\n\r\n",
			method: "OPTIONS", target: "*", path: "*", minor: 1, length: -1, keepAlive: true, numHeaders: 3,
		},
		{
			name:   "absolute-form target",
			in:     "GET http://h/p?q HTTP/1.1\r\n\r\n",
			method: "GET", target: "http://h/p?q", path: "http://h/p", query: "q", minor: 1, length: -1, keepAlive: true,
		},
	}
	var r Request
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(tt.in + "TRAILING BYTES ARE NOT PART OF THE HEAD")
			n, err := Parse(buf, &r, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tt.in) || r.HeadLen != n {
				t.Errorf("n = %d, HeadLen = %d, want %d", n, r.HeadLen, len(tt.in))
			}
			check := func(field, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Method", string(r.Method), tt.method)
			check("Target", string(r.Target), tt.target)
			check("Path", string(r.Path), tt.path)
			check("RawQuery", string(r.RawQuery), tt.query)
			if r.ProtoMinor != tt.minor {
				t.Errorf("ProtoMinor = %d, want %d", r.ProtoMinor, tt.minor)
			}
			if r.ContentLength != tt.length {
				t.Errorf("ContentLength = %d, want %d", r.ContentLength, tt.length)
			}
			if r.KeepAlive != tt.keepAlive {
				t.Errorf("KeepAlive = %v, want %v", r.KeepAlive, tt.keepAlive)
			}
			if r.NumHeaders() != tt.numHeaders {
				t.Errorf("NumHeaders = %d, want %d", r.NumHeaders(), tt.numHeaders)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	in := "GET / HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"X-Multi: one\r\n" +
		"content-TYPE:  text/plain ; charset=utf-8 \r\n" +
		"x-multi: two\r\n" +
		"Empty:\r\n" +
		"Connection: keep-alive, Upgrade\r\n" +
		"\r\n"
	var r Request
	if _, err := Parse([]byte(in), &r, Limits{}); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"Content-Type", "content-type", "CONTENT-TYPE", "cOnTeNt-TyPe"} {
		if got := string(r.Header(name)); got != "text/plain ; charset=utf-8" {
			t.Errorf("Header(%q) = %q", name, got)
		}
	}
	if got := string(r.Header("x-multi")); got != "one" {
		t.Errorf("Header returns %q, want the first occurrence", got)
	}
	if got := r.Header("Missing"); got != nil {
		t.Errorf("Header(Missing) = %q, want nil", got)
	}
	if got := r.Header("Empty"); got == nil || len(got) != 0 {
		t.Errorf("Header(Empty) = %#v, want non-nil empty", got)
	}
	if got := r.Header("Content-Typ"); got != nil {
		t.Errorf("Header matched a prefix: %q", got)
	}

	var values []string
	r.HeaderValues("X-MULTI", func(v []byte) { values = append(values, string(v)) })
	if strings.Join(values, ",") != "one,two" {
		t.Errorf("HeaderValues = %q", values)
	}

	var names []string
	r.VisitHeaders(func(name, value []byte) { names = append(names, string(name)) })
	if want := "Host,X-Multi,content-TYPE,x-multi,Empty,Connection"; strings.Join(names, ",") != want {
		t.Errorf("VisitHeaders names = %q, want %q", names, want)
	}

	tokens := []struct {
		name, token string
		want        bool
	}{
		{"Connection", "keep-alive", true},
		{"connection", "upgrade", true},
		{"Connection", "UPGRADE", true},
		{"Connection", "close", false},
		{"Connection", "keep", false},
		{"Connection", "keep-alive, Upgrade", false},
		{"Upgrade", "websocket", false},
		{"Host", "example.com", true},
		{"Missing", "x", false},
	}
	for _, tt := range tokens {
		if got := r.HasToken(tt.name, tt.token); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tt.name, tt.token, got, tt.want)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	long := strings.Repeat("a", DefaultMaxHeaderBytes)
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error // exact error (a detailed one where there is one)
	}{
		{"empty request line", "\r\n\r\n", Limits{}, errRequestLine},
		{"garbage", "hello world\r\n\r\n", Limits{}, errRequestLine},
		{"no target", "GET HTTP/1.1\r\n\r\n", Limits{}, errRequestLine},
		{"double space", "GET  / HTTP/1.1\r\n\r\n", Limits{}, errTarget},
		{"space before method", " GET / HTTP/1.1\r\n\r\n", Limits{}, errMethod},
		{"bad method char", "G@T / HTTP/1.1\r\n\r\n", Limits{}, errMethod},
		{"extra field in request line", "GET / HTTP/1.1 x\r\n\r\n", Limits{}, errRequestLine},
		{"control in target", "GET /\x01 HTTP/1.1\r\n\r\n", Limits{}, errTarget},
		{"tab in target", "GET /a\tb HTTP/1.1\r\n\r\n", Limits{}, errTarget},
		{"lowercase version", "GET / http/1.1\r\n\r\n", Limits{}, errRequestLine},
		{"version garbage", "GET / HTTP/1.x\r\n\r\n", Limits{}, errRequestLine},
		{"version too long", "GET / HTTP/1.10\r\n\r\n", Limits{}, errRequestLine},
		{"HTTP/2.0", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Limits{}, ErrUnsupportedVersion},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", Limits{}, ErrUnsupportedVersion},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", Limits{}, ErrUnsupportedVersion},
		{"bare LF request line", "GET / HTTP/1.1\n\r\n", Limits{}, errBareLF},
		{"bare LF head", "GET / HTTP/1.1\n\n", Limits{}, errBareLF},
		{"bare LF header", "GET / HTTP/1.1\r\nA: b\n\r\n", Limits{}, errBareLF},
		{"bare LF end", "GET / HTTP/1.1\r\nA: b\r\n\n", Limits{}, errBareLF},
		{"bare LF first", "\nGET / HTTP/1.1\r\n\r\n", Limits{}, errBareLF},
		{"bare CR in value", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", Limits{}, errFieldValue},
		{"NUL in value", "GET / HTTP/1.1\r\nA: b\x00\r\n\r\n", Limits{}, errFieldValue},
		{"bare CR ends request line", "GET / HTTP/1.1\r\r\n\r\n", Limits{}, errRequestLine},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", Limits{}, errFieldName},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", Limits{}, errFieldName},
		{"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", Limits{}, errFieldName},
		{"empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", Limits{}, errFieldName},
		{"bad name char", "GET / HTTP/1.1\r\nA(b): c\r\n\r\n", Limits{}, errFieldName},
		{"obs-fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", Limits{}, errObsFold},
		{"obs-fold tab", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n", Limits{}, errObsFold},
		{"fold after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", Limits{}, errObsFold},
		{"Content-Length empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length plus", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length inner space", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length overflow", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", Limits{}, errContentLength},
		{"Content-Length conflict", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Limits{}, errDupContentLength},
		{"Transfer-Encoding chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, ErrUnsupportedTransferEncoding},
		{"Transfer-Encoding identity", "POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", Limits{}, ErrUnsupportedTransferEncoding},
		{"Transfer-Encoding HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, ErrUnsupportedTransferEncoding},
		{"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Limits{}, errLengthAndTE},
		{"Transfer-Encoding and Content-Length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Limits{}, errLengthAndTE},
		{"too many headers", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", Limits{MaxHeaders: 3}, errTooManyHeaders},
		{"too large, complete", "GET / HTTP/1.1\r\nA: " + long + "\r\n\r\n", Limits{}, ErrHeaderTooLarge},
		{"too large, incomplete", "GET / HTTP/1.1\r\nA: " + long, Limits{}, ErrHeaderTooLarge},
		{"too large, no line end", "GET /" + long, Limits{}, ErrHeaderTooLarge},
		{"too large, small limit", "GET / HTTP/1.1\r\nHost: example.com\r\n", Limits{MaxHeaderBytes: 32}, ErrHeaderTooLarge},
		// Errors are reported as soon as the offending line is complete,
		// without waiting for the end of the head.
		{"early bad request line", "GARBAGE\r\n", Limits{}, errRequestLine},
		{"early bad header", "GET / HTTP/1.1\r\nBad Name: x\r\nHost: a", Limits{}, errFieldName},
		{"early bad version", "GET / HTTP/3.0\r\n", Limits{}, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			n, err := Parse([]byte(tt.in), &r, tt.lim)
			if err != tt.want {
				t.Fatalf("Parse = %d, %v; want %v", n, err, tt.want)
			}
			if n != 0 {
				t.Errorf("n = %d on error, want 0", n)
			}
		})
	}
}

// TestIsFieldValue checks the word-at-a-time validation against the plain
// byte loop for every byte value at every position of a word and its tail.
func TestIsFieldValue(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("v", n))
				b[pos] = byte(c)
				want := c == '\t' || (c >= ' ' && c != 0x7f)
				if got := isFieldValue(b); got != want || isFieldValueSlow(b) != want {
					t.Fatalf("isFieldValue(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func TestStatusFor(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{ErrIncomplete, 0},
		{ErrBadRequest, 400},
		{errObsFold, 400},
		{errDupContentLength, 400},
		{ErrHeaderTooLarge, 431},
		{errTooManyHeaders, 431},
		{ErrUnsupportedTransferEncoding, 501},
		{ErrUnsupportedVersion, 505},
		{fmt.Errorf("conn 7: %w", errFieldName), 400},
		{errors.New("other"), 500},
	}
	for _, tt := range tests {
		if got := StatusFor(tt.err); got != tt.want {
			t.Errorf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if !errors.Is(errContentLength, ErrBadRequest) || errContentLength.Error() != "http1: invalid Content-Length" {
		t.Errorf("errContentLength = %q, does not wrap ErrBadRequest", errContentLength)
	}
}

func TestParseEveryPrefixIncomplete(t *testing.T) {
	heads := []string{
		pollingGET,
		"POST /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nContent-Length: 11\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n\r\n",
	}
	var r Request
	for _, head := range heads {
		for i := 0; i < len(head); i++ {
			if n, err := Parse([]byte(head[:i]), &r, Limits{}); err != ErrIncomplete {
				t.Errorf("Parse(%q) = %d, %v; want ErrIncomplete", head[:i], n, err)
			}
		}
		if n, err := Parse([]byte(head), &r, Limits{}); n != len(head) || err != nil {
			t.Errorf("Parse(%q) = %d, %v; want %d, nil", head, n, err, len(head))
		}
	}
}

func TestParseHeaderBytesLimit(t *testing.T) {
	// A head of exactly MaxHeaderBytes is accepted; one byte more is not.
	const max = 64
	prefix := "GET / HTTP/1.1\r\nX: "
	value := strings.Repeat("v", max-len(prefix)-len("\r\n\r\n"))
	head := prefix + value + "\r\n\r\n"
	if len(head) != max {
		t.Fatalf("test head is %d bytes", len(head))
	}
	lim := Limits{MaxHeaderBytes: max}
	var r Request
	if n, err := Parse([]byte(head), &r, lim); n != max || err != nil {
		t.Errorf("head of exactly the limit: %d, %v", n, err)
	}
	if _, err := Parse([]byte(prefix+value+"v\r\n\r\n"), &r, lim); err != ErrHeaderTooLarge {
		t.Errorf("head one byte over the limit: %v, want ErrHeaderTooLarge", err)
	}
	// Incomplete input is refused once it reaches the limit, without
	// waiting for the rest of the head.
	partial := []byte(strings.Repeat("GET /"+strings.Repeat("a", max), 2))
	if _, err := Parse(partial[:max-1], &r, lim); err != ErrIncomplete {
		t.Errorf("partial head under the limit: %v, want ErrIncomplete", err)
	}
	if _, err := Parse(partial[:max], &r, lim); err != ErrHeaderTooLarge {
		t.Errorf("partial head at the limit: %v, want ErrHeaderTooLarge", err)
	}
	// A complete head within the limit wins even when a body follows that
	// takes the buffer past the limit.
	body := head + strings.Repeat("b", 10*max)
	if n, err := Parse([]byte(body), &r, lim); n != max || err != nil {
		t.Errorf("head followed by a long body: %d, %v", n, err)
	}
}

func TestParseMaxHeaders(t *testing.T) {
	head := "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
	var r Request
	if _, err := Parse([]byte(head), &r, Limits{MaxHeaders: 3}); err != nil {
		t.Errorf("exactly MaxHeaders fields: %v", err)
	}
	if _, err := Parse([]byte(head), &r, Limits{MaxHeaders: 2}); err != errTooManyHeaders {
		t.Errorf("MaxHeaders+1 fields: %v, want errTooManyHeaders", err)
	}
	many := "GET / HTTP/1.1\r\n" + strings.Repeat("A: 1\r\n", DefaultMaxHeaders+1) + "\r\n"
	if _, err := Parse([]byte(many), &r, Limits{}); StatusFor(err) != 431 {
		t.Errorf("default MaxHeaders: %v, want 431", err)
	}
}

// TestParsePipelined shows how a caller steps through pipelined requests:
// the next head starts HeadLen+ContentLength bytes further on.
func TestParsePipelined(t *testing.T) {
	stream := "POST /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nContent-Length: 5\r\n\r\n" +
		"hello" +
		"GET /engine.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\n\r\n" +
		"GET /third HTTP/1.1\r\nConnection: close\r\n\r\n" +
		"GET /fourth HTTP/1.1\r\n" // not complete yet
	buf := []byte(stream)

	type got struct {
		method, path, body string
		keepAlive          bool
	}
	var (
		r    Request
		reqs []got
		off  int
	)
	for {
		n, err := Parse(buf[off:], &r, Limits{})
		if err == ErrIncomplete {
			break
		}
		if err != nil {
			t.Fatalf("at offset %d: %v", off, err)
		}
		bodyLen := int(max(r.ContentLength, 0))
		if off+n+bodyLen > len(buf) {
			break // the caller would wait for the rest of the body
		}
		body := string(buf[off+n : off+n+bodyLen])
		reqs = append(reqs, got{string(r.Method), string(r.Path), body, r.KeepAlive})
		off += n + bodyLen
	}
	want := []got{
		{"POST", "/engine.io/", "hello", true},
		{"GET", "/engine.io/", "", true},
		{"GET", "/third", "", false},
	}
	if fmt.Sprint(reqs) != fmt.Sprint(want) {
		t.Errorf("requests = %v\nwant %v", reqs, want)
	}
	if rest := string(buf[off:]); rest != "GET /fourth HTTP/1.1\r\n" {
		t.Errorf("left over %q", rest)
	}
}

// TestParseResets checks that nothing leaks from one request into the next
// when a Request is reused.
func TestParseResets(t *testing.T) {
	var r Request
	if _, err := Parse([]byte("POST /a?x=1 HTTP/1.1\r\nContent-Length: 3\r\nX: y\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("GET /b HTTP/1.0\r\n\r\n"), &r, Limits{}); err != nil {
		t.Fatal(err)
	}
	if r.ContentLength != -1 || r.RawQuery != nil || r.NumHeaders() != 0 || r.Header("X") != nil || r.KeepAlive {
		t.Errorf("state leaked into the next request: %+v", r)
	}
}

func TestParseZeroAllocs(t *testing.T) {
	buf := []byte(pollingGET)
	bad := []byte("GET / HTTP/1.1\r\nA : b\r\n\r\n")
	var r Request
	lim := Limits{}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := Parse(buf, &r, lim); err != nil {
			t.Fatal(err)
		}
		if string(r.Header("upgrade")) != "websocket" {
			t.Fatal("Header")
		}
		if v, ok := r.Query("sid"); !ok || string(v) != "abc%2D_" {
			t.Fatal("Query")
		}
		if !r.HasToken("Connection", "upgrade") {
			t.Fatal("HasToken")
		}
		if _, err := Parse(buf[:len(buf)-1], &r, lim); err != ErrIncomplete {
			t.Fatal("incomplete")
		}
		if _, err := Parse(bad, &r, lim); err != errFieldName {
			t.Fatal("malformed")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse+Header+Query+HasToken: %v allocs per run, want 0", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	bench := func(name, head string) {
		b.Run(name, func(b *testing.B) {
			buf := []byte(head)
			var r Request
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if _, err := Parse(buf, &r, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	bench("polling", pollingGET)
	bench("browser", "GET /socket.io/?EIO=4&transport=websocket&sid=Lbo5JLzTotvW3g2LAAAA HTTP/1.1\r\n"+
		"Host: localhost:3000\r\n"+
		"Connection: Upgrade\r\n"+
		"Pragma: no-cache\r\n"+
		"Cache-Control: no-cache\r\n"+
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"+
		"Upgrade: websocket\r\n"+
		"Origin: http://localhost:3000\r\n"+
		"Sec-WebSocket-Version: 13\r\n"+
		"Accept-Encoding: gzip, deflate, br\r\n"+
		"Accept-Language: en-US,en;q=0.9\r\n"+
		"Cookie: io=Lbo5JLzTotvW3g2LAAAA; session=abcdef0123456789\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"+
		"\r\n")
}
