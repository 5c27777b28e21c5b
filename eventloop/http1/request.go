package http1

import "errors"

// Request is a parsed request head. All byte slices alias the buffer passed
// to Parse and are valid only until the caller discards or overwrites those
// bytes; copy what must outlive them. Reuse one Request per connection: Parse
// resets it and reuses its header storage, so steady-state parsing does not
// allocate.
type Request struct {
	// Method is the request method, e.g. "GET". Case-sensitive.
	Method []byte
	// Target is the raw request-target as sent.
	Target []byte
	// Path is Target before '?' (and before any '#'), not unescaped.
	Path []byte
	// RawQuery is Target after '?', without any '#fragment'; not unescaped.
	RawQuery []byte
	// ProtoMinor is 0 for HTTP/1.0 and 1 for HTTP/1.1.
	ProtoMinor int
	// ContentLength is the declared body length, or -1 when absent.
	ContentLength int64
	// KeepAlive reports whether the connection may serve another request
	// after this one: for HTTP/1.1 unless "Connection: close", for HTTP/1.0
	// only with "Connection: keep-alive".
	KeepAlive bool
	// HeadLen is the length of the head including the final CRLFCRLF.
	HeadLen int

	headers []field
}

// field is one header field; both slices alias the parsed buffer.
type field struct {
	Name, Value []byte
}

func (r *Request) reset() {
	// Keep the headers' backing array: reusing it is what makes Parse
	// allocation-free once a connection has seen its largest head.
	*r = Request{ContentLength: -1, headers: r.headers[:0]}
}

// Header returns the value of the first header field named name, compared
// case-insensitively, or nil if there is none. A present but empty field
// yields a non-nil empty slice.
func (r *Request) Header(name string) []byte {
	for i := range r.headers {
		if equalFold(r.headers[i].Name, name) {
			return r.headers[i].Value
		}
	}
	return nil
}

// HeaderValues calls fn with the value of every header field named name,
// compared case-insensitively, in the order received.
func (r *Request) HeaderValues(name string, fn func(value []byte)) {
	for i := range r.headers {
		if equalFold(r.headers[i].Name, name) {
			fn(r.headers[i].Value)
		}
	}
}

// HasToken reports whether any header field named name carries token in its
// comma-separated value list, both compared case-insensitively; e.g.
// HasToken("Connection", "upgrade") for "Connection: keep-alive, Upgrade".
func (r *Request) HasToken(name, token string) bool {
	for i := range r.headers {
		if equalFold(r.headers[i].Name, name) && hasToken(r.headers[i].Value, token) {
			return true
		}
	}
	return false
}

// VisitHeaders calls fn for every header field in the order received, with
// the name as sent (not canonicalized) and the value without surrounding
// whitespace.
func (r *Request) VisitHeaders(fn func(name, value []byte)) {
	for i := range r.headers {
		fn(r.headers[i].Name, r.headers[i].Value)
	}
}

// NumHeaders returns the number of header fields.
func (r *Request) NumHeaders() int { return len(r.headers) }

// Query returns the raw (still escaped) value of the first key=value pair in
// RawQuery whose raw key equals key, and whether there is one. A key without
// '=' has an empty value. Pass the value to Unescape if it may be escaped.
func (r *Request) Query(key string) (value []byte, ok bool) {
	q := r.RawQuery
	for len(q) > 0 {
		var pair []byte
		pair, q, _ = cut(q, '&')
		k, v, _ := cut(pair, '=')
		// The compiler turns string(k) == key into a comparison without
		// converting (allocating) k.
		if len(pair) > 0 && string(k) == key {
			return v, true
		}
	}
	return nil, false
}

// ErrBadEscape is returned by Unescape and UnescapePath for a '%' not
// followed by two hexadecimal digits.
var ErrBadEscape = errors.New("http1: invalid percent-encoding")

// Unescape appends src to dst with percent-encoding decoded and '+' turned
// into ' ', as for query keys and values
// (application/x-www-form-urlencoded). On error it returns dst unchanged.
func Unescape(dst, src []byte) ([]byte, error) {
	return unescape(dst, src, true)
}

// UnescapePath is Unescape for paths: '+' stays '+'.
func UnescapePath(dst, src []byte) ([]byte, error) {
	return unescape(dst, src, false)
}

func unescape(dst, src []byte, plusIsSpace bool) ([]byte, error) {
	start := len(dst)
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '%':
			if i+2 >= len(src) {
				return dst[:start], ErrBadEscape
			}
			hi, ok1 := unhex(src[i+1])
			lo, ok2 := unhex(src[i+2])
			if !ok1 || !ok2 {
				return dst[:start], ErrBadEscape
			}
			c = hi<<4 | lo
			i += 2
		case c == '+' && plusIsSpace:
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
