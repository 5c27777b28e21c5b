package sio

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// isJSSpace reports whether r is JavaScript whitespace (WhiteSpace or LineTerminator), what Number() and
// String.prototype.trim ignore. It differs from unicode.IsSpace: U+FEFF is JavaScript whitespace, U+0085 is not.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// trimJSSpace removes leading and trailing JavaScript whitespace from valid UTF-8.
func trimJSSpace(s []byte) []byte {
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if !isJSSpace(r) {
			break
		}
		s = s[size:]
	}
	for len(s) > 0 {
		r, size := utf8.DecodeLastRune(s)
		if !isJSSpace(r) {
			break
		}
		s = s[:len(s)-size]
	}
	return s
}

// jsNumber converts s as JavaScript's Number(string) does (the StringNumericLiteral grammar): surrounding
// whitespace is ignored, empty is 0, and a decimal literal with optional sign, fraction and exponent,
// "Infinity", or an unsigned 0x / 0o / 0b integer is accepted. ok is false where Number() gives NaN.
// The Node.js parser reads the attachment count this way.
func jsNumber(s []byte) (f float64, ok bool) {
	s = trimJSSpace(s)
	if len(s) == 0 {
		return 0, true
	}
	if len(s) > 2 && s[0] == '0' {
		base := 0
		switch s[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			for _, c := range s[2:] {
				d := digitValue(c)
				if d >= base {
					return 0, false
				}
				f = f*float64(base) + float64(d) // rounding past 2^53 does not matter: only small counts are valid
			}
			return f, true
		}
	}
	body := s
	neg := false
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	if string(body) == "Infinity" {
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	}
	// DecimalDigits [. DecimalDigits] [ExponentPart], with at least one digit in the mantissa.
	i, digits := 0, 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if i < len(body) && body[i] == '.' {
		i++
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(body) && (body[i] == 'e' || body[i] == 'E') {
		i++
		if i < len(body) && (body[i] == '+' || body[i] == '-') {
			i++
		}
		e := i
		for i < len(body) && body[i] >= '0' && body[i] <= '9' {
			i++
		}
		if i == e {
			return 0, false
		}
	}
	if i != len(body) {
		return 0, false
	}
	// The grammar is checked, so ParseFloat can only report a range error, whose ±Inf or 0 is what
	// JavaScript gives too.
	f, _ = strconv.ParseFloat(unsafeString(s), 64)
	return f, true
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// unsafeString views b as a string without copying, for the strconv parsers: they do not keep their
// argument (only in the error they return, which callers here drop).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// appendJSFloat appends f as JavaScript's Number.prototype.toString (and so JSON.stringify) writes it:
// integers plainly, other values with the fewest digits that read back to f, in exponent form ("1e+21",
// "1.5e-7") only when the decimal exponent is below -6 or at least 21; -0 is "0"; NaN and ±Inf are "null"
// (JSON.stringify's rule). bitSize 32 takes the fewest digits that read back to the float32 value.
func appendJSFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(dst, "null"...)
	case f == 0:
		return append(dst, '0') // also -0
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		// Every integer below 2^53 is exact and its shortest form is itself: the common case skips the
		// shortest-digit search.
		return strconv.AppendInt(dst, int64(f), 10)
	}
	// Shortest round-trip digits and decimal exponent, from strconv's "d.ddde±xx" form.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bitSize)
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	var digs [24]byte
	nd := 0
	k := 0
	for ; e[k] != 'e'; k++ {
		if e[k] != '.' {
			digs[nd] = e[k]
			nd++
		}
	}
	exp, _ := strconv.Atoi(unsafeString(e[k+1:]))
	digits := digs[:nd]
	n := exp + 1 // the position of the decimal point relative to the digits, as in ECMA-262's Number::toString
	switch {
	case nd <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - nd {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if nd > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}
