package http1

import (
	"bytes"
	"encoding/binary"
)

// tchar reports whether a byte may appear in a token (RFC 9110 §5.6.2):
// method names and header field names. A table keeps the per-byte check to
// one load on the hot path.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tchar[c] {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b contains only field-vchar, SP and HTAB
// (RFC 9110 §5.5). obs-text (>= 0x80) is accepted; CR, LF, NUL and the other
// controls are not, which is what keeps a header value from smuggling a line.
func isFieldValue(b []byte) bool {
	// Values are most of a head's bytes, so check eight at a time: a word
	// with no byte below 0x20 and no 0x7f byte is valid as it stands. Only a
	// word holding such a byte (a control, or an allowed HTAB) is rechecked
	// byte by byte.
	for len(b) >= 8 {
		if w := binary.LittleEndian.Uint64(b); hasLess(w, ' ')|hasLess(w^(0x7f*ones), 1) != 0 {
			if !isFieldValueSlow(b[:8]) {
				return false
			}
		}
		b = b[8:]
	}
	return isFieldValueSlow(b)
}

// isFieldValueSlow is isFieldValue one byte at a time.
func isFieldValueSlow(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// ones has 0x01 in every byte of a uint64.
const ones = ^uint64(0) / 0xff

// hasLess is nonzero if and only if some byte of w is less than n, for
// n <= 128: subtracting n from every byte sets the high bit of a byte below
// n, and "& ^w" drops bytes whose high bit was already set (>= 0x80, never
// below n). A borrow can flag extra bytes above a true hit, never without one.
func hasLess(w uint64, n byte) uint64 {
	return (w - uint64(n)*ones) & ^w & (0x80 * ones)
}

// isTarget reports whether b is a non-empty request-target without
// whitespace or control bytes. The form (origin, absolute, authority, "*") is
// left to the caller.
func isTarget(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b and s are equal under ASCII case folding.
// Header names are ASCII tokens, so Unicode folding is neither needed nor
// wanted.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (SP and HTAB) from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cut is bytes.Cut for a single separator byte; it avoids building a
// one-byte separator slice on every call.
func cut(b []byte, sep byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}

// hasToken reports whether the comma-separated list v contains token,
// ignoring case and the optional whitespace around each element.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v, _ = cut(v, ',')
		if equalFold(trimOWS(elem), token) {
			return true
		}
	}
	return false
}
