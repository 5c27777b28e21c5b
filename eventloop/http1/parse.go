// Package http1 parses HTTP/1.x request heads and writes HTTP/1.1 response
// heads for an event loop.
//
// The parser works in place on the bytes the event loop has read from a
// connection: the Request it fills holds sub-slices of that buffer, and a
// Request reused across calls makes parsing allocation-free in steady state.
// Parse is stateless: when it reports ErrIncomplete the caller waits for more
// bytes and calls it again on the grown buffer.
//
// Choices where the RFCs leave room:
//
//   - Line endings must be CRLF. A bare LF (or a bare CR) is rejected with
//     ErrBadRequest rather than accepted leniently: disagreeing with a proxy
//     about where a line ends is the classic request-smuggling vector.
//   - One empty line before the request-line is skipped (RFC 9112 §2.2), as
//     some clients send a stray CRLF after a request body.
//   - Only HTTP/1.0 and HTTP/1.1 are accepted; any other well-formed version
//     is ErrUnsupportedVersion.
//   - obs-fold (header continuation lines) is rejected (RFC 9112 §5.2).
//   - Any Transfer-Encoding is ErrUnsupportedTransferEncoding: request bodies
//     are framed by Content-Length only.
//   - obs-text (bytes >= 0x80) is accepted in header values and in the
//     request-target.
package http1

import (
	"bytes"
	"errors"
	"math"
)

// Default limits, used for zero or negative Limits fields.
const (
	DefaultMaxHeaderBytes = 8192
	DefaultMaxHeaders     = 64
)

// Limits bounds what the parser accepts. The zero value selects the defaults.
type Limits struct {
	// MaxHeaderBytes bounds the whole head, request-line and final CRLFCRLF
	// included. Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxHeaders bounds the number of header fields. Default DefaultMaxHeaders.
	MaxHeaders int
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	return l
}

// Errors returned by Parse. Errors with more detail wrap one of them, so test
// with errors.Is; StatusFor gives the status code to answer with.
var (
	// ErrIncomplete means the head is not complete yet: read more and retry.
	ErrIncomplete = errors.New("http1: incomplete request head")
	// ErrHeaderTooLarge means the head exceeds Limits (431).
	ErrHeaderTooLarge = errors.New("http1: request header fields too large")
	// ErrBadRequest means the head is malformed (400).
	ErrBadRequest = errors.New("http1: bad request")
	// ErrUnsupportedTransferEncoding means the request uses
	// Transfer-Encoding, which this server does not implement (501).
	ErrUnsupportedTransferEncoding = errors.New("http1: transfer-encoding not supported")
	// ErrUnsupportedVersion means a well-formed HTTP version other than 1.0
	// or 1.1 (505).
	ErrUnsupportedVersion = errors.New("http1: HTTP version not supported")
)

// parseError is a static, detailed error wrapping one of the exported
// sentinels. The values are allocated once at init, so failing a parse
// costs no allocation either.
type parseError struct {
	msg  string
	kind error
}

func (e *parseError) Error() string { return "http1: " + e.msg }
func (e *parseError) Unwrap() error { return e.kind }

var (
	errBareLF           = &parseError{"line not terminated by CRLF", ErrBadRequest}
	errRequestLine      = &parseError{"malformed request-line", ErrBadRequest}
	errMethod           = &parseError{"invalid method", ErrBadRequest}
	errTarget           = &parseError{"invalid request-target", ErrBadRequest}
	errObsFold          = &parseError{"obsolete line folding", ErrBadRequest}
	errFieldName        = &parseError{"invalid header field name", ErrBadRequest}
	errFieldValue       = &parseError{"invalid header field value", ErrBadRequest}
	errContentLength    = &parseError{"invalid Content-Length", ErrBadRequest}
	errDupContentLength = &parseError{"conflicting Content-Length values", ErrBadRequest}
	errLengthAndTE      = &parseError{"both Content-Length and Transfer-Encoding", ErrBadRequest}
	errTooManyHeaders   = &parseError{"too many header fields", ErrHeaderTooLarge}
)

// StatusFor maps an error from Parse to the HTTP status code to answer with.
// It returns 0 for nil and ErrIncomplete (nothing to answer yet) and 500 for
// errors it does not know.
func StatusFor(err error) int {
	switch {
	case err == nil, errors.Is(err, ErrIncomplete):
		return 0
	case errors.Is(err, ErrBadRequest):
		return 400
	case errors.Is(err, ErrHeaderTooLarge):
		return 431
	case errors.Is(err, ErrUnsupportedTransferEncoding):
		return 501
	case errors.Is(err, ErrUnsupportedVersion):
		return 505
	}
	return 500
}

// Parse parses one request head at the start of buf into r, which it resets
// first. On success it returns r.HeadLen, the length of the head including
// the final CRLFCRLF; any body starts at buf[n]. It returns (0, ErrIncomplete)
// while the head may still complete within lim, and ErrHeaderTooLarge as soon
// as len(buf) reaches lim.MaxHeaderBytes without a complete head. Malformed
// input is rejected as early as the first complete bad line. On error the
// contents of r are unspecified.
func Parse(buf []byte, r *Request, lim Limits) (int, error) {
	lim = lim.withDefaults()
	r.reset()

	// Only the first MaxHeaderBytes bytes can belong to an acceptable head;
	// scanning no further bounds the work per call.
	win := buf
	if len(win) > lim.MaxHeaderBytes {
		win = win[:lim.MaxHeaderBytes]
	}
	// incomplete is the verdict when win ends before the head does.
	incomplete := ErrIncomplete
	if len(buf) >= lim.MaxHeaderBytes {
		incomplete = ErrHeaderTooLarge
	}

	line, pos, err := nextLine(win, 0)
	if err == nil && len(line) == 0 {
		line, pos, err = nextLine(win, pos) // skip one leading empty line
	}
	if err == ErrIncomplete {
		return 0, incomplete
	}
	if err != nil {
		return 0, err
	}
	if err := r.parseRequestLine(line); err != nil {
		return 0, err
	}

	for {
		line, pos, err = nextLine(win, pos)
		if err == ErrIncomplete {
			return 0, incomplete
		}
		if err != nil {
			return 0, err
		}
		if len(line) == 0 {
			break
		}
		if len(r.headers) == lim.MaxHeaders {
			return 0, errTooManyHeaders
		}
		if err := r.parseField(line); err != nil {
			return 0, err
		}
	}

	if err := r.interpretHeaders(); err != nil {
		return 0, err
	}
	r.HeadLen = pos
	return pos, nil
}

// nextLine returns the line starting at buf[pos] without its CRLF, and the
// position after the CRLF. It returns ErrIncomplete if buf holds no LF there.
func nextLine(buf []byte, pos int) (line []byte, next int, err error) {
	i := bytes.IndexByte(buf[pos:], '\n')
	if i < 0 {
		return nil, pos, ErrIncomplete
	}
	lf := pos + i
	if i == 0 || buf[lf-1] != '\r' {
		return nil, pos, errBareLF
	}
	return buf[pos : lf-1], lf + 1, nil
}

// parseRequestLine parses "METHOD SP request-target SP HTTP-version".
func (r *Request) parseRequestLine(line []byte) error {
	method, rest, ok := cut(line, ' ')
	if !ok {
		return errRequestLine
	}
	if !isToken(method) {
		return errMethod
	}
	target, version, ok := cut(rest, ' ')
	if !ok {
		return errRequestLine
	}
	if !isTarget(target) {
		return errTarget
	}
	minor, err := parseVersion(version)
	if err != nil {
		return err
	}

	r.Method = method
	r.Target = target
	r.ProtoMinor = minor
	// The fragment should never be sent, but if it is it belongs to neither
	// the path nor the query.
	target, _, _ = cut(target, '#')
	r.Path, r.RawQuery, _ = cut(target, '?')
	return nil
}

// parseVersion parses "HTTP/1.0" or "HTTP/1.1" and returns the minor version.
// Any other "HTTP/d.d" is ErrUnsupportedVersion; anything else is malformed.
func parseVersion(v []byte) (minor int, err error) {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		!isDigit(v[5]) || !isDigit(v[7]) {
		return 0, errRequestLine
	}
	if v[5] != '1' || v[7] > '1' {
		return 0, ErrUnsupportedVersion
	}
	return int(v[7] - '0'), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseField parses one "name: value" line and stores it in r.
func (r *Request) parseField(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	name, value, ok := cut(line, ':')
	// isToken also rejects "Name : value": whitespace before the colon is
	// not a token byte (RFC 9112 §5.1).
	if !ok || !isToken(name) {
		return errFieldName
	}
	value = trimOWS(value)
	if !isFieldValue(value) {
		return errFieldValue
	}
	r.headers = append(r.headers, field{name, value})
	return nil
}

// interpretHeaders derives ContentLength and KeepAlive from the header fields
// and rejects the framing this server does not accept.
func (r *Request) interpretHeaders() error {
	var hasTE, closeTok, keepAliveTok bool
	for i := range r.headers {
		f := &r.headers[i]
		switch {
		case equalFold(f.Name, "content-length"):
			n, ok := parseContentLength(f.Value)
			if !ok {
				return errContentLength
			}
			if r.ContentLength >= 0 && r.ContentLength != n {
				return errDupContentLength
			}
			r.ContentLength = n
		case equalFold(f.Name, "transfer-encoding"):
			hasTE = true
		case equalFold(f.Name, "connection"):
			closeTok = closeTok || hasToken(f.Value, "close")
			keepAliveTok = keepAliveTok || hasToken(f.Value, "keep-alive")
		}
	}
	if hasTE {
		if r.ContentLength >= 0 {
			return errLengthAndTE
		}
		return ErrUnsupportedTransferEncoding
	}
	r.KeepAlive = !closeTok && (r.ProtoMinor == 1 || keepAliveTok)
	return nil
}

// parseContentLength parses 1*DIGIT into a non-negative int64, rejecting
// signs, whitespace, lists and overflow.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
