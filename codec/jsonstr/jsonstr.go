// Package jsonstr writes JSON string literals exactly as JavaScript's JSON.stringify does, so that what fastio
// sends is byte for byte what the Node.js server sends: '"' and '\\' escaped, \b \f \n \r \t, the other control
// characters as \u00xx (lower-case hex), everything else as is (no HTML escaping, U+2028 and U+2029 as they
// are). Invalid UTF-8 becomes U+FFFD, one per bad byte, as when Go converts to runes.
package jsonstr

import (
	"unicode/utf8"
	"unsafe"
)

// plain[c] is true for the ASCII bytes that JSON.stringify writes as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// Append appends s as a quoted JSON string. It allocates nothing beyond growing dst.
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendBytes is Append for a byte slice. b is only read, never kept.
func AppendBytes(dst []byte, b []byte) []byte {
	// Reading b through a string header avoids copying it; Append neither keeps nor modifies it.
	return Append(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}
