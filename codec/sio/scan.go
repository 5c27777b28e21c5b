package sio

import (
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small JSON scanner (RFC 8259) that validates and delimits values in one pass without
// allocating. Callers check UTF-8 validity of the whole input first (utf8.Valid is much faster than
// decoding runes here), so inside strings every byte from 0x80 up is taken as is.

// strSafe[c] is true for the bytes that stand for themselves inside a JSON string: everything except '"',
// '\\' and the control characters below 0x20.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipWS returns the index of the first non-whitespace byte of b at or after i (JSON whitespace only:
// space, tab, line feed, carriage return, as JSON.parse).
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue validates the JSON value that starts at b[i] (no whitespace before it) and returns the index
// just past it. depth is the number of arrays and objects around the value.
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errJSON
	}
	switch c := b[i]; c {
	case '"':
		return scanString(b, i)
	case '[':
		return scanArray(b, i, depth+1)
	case '{':
		return scanObject(b, i, depth+1)
	case 't':
		return scanLiteral(b, i, "true")
	case 'f':
		return scanLiteral(b, i, "false")
	case 'n':
		return scanLiteral(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return scanNumber(b, i)
		}
	}
	return i, errJSON
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, errJSON
}

// scanString validates the string that starts with the quote at b[i] and returns the index past its
// closing quote.
func scanString(b []byte, i int) (int, error) {
	i++
	for {
		// The common run of plain bytes first, one table load per byte.
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, errJSON
		}
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(b) {
				return i, errJSON
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, errJSON
				}
				i += 6
			default:
				return i, errJSON
			}
		default: // a control character
			return i, errJSON
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, errJSON
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return i, errJSON
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return i, errJSON
		}
		i = j
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func scanArray(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = scanValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, errJSON
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, errJSON
		}
	}
}

func scanObject(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errJSON
		}
		var err error
		if i, err = scanString(b, i); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, errJSON
		}
		if i, err = scanValue(b, skipWS(b, i+1), depth); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return i, errJSON
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, errJSON
		}
	}
}

// splitArray validates b as one JSON array (whitespace around it allowed) and appends the raw text of its
// elements, without surrounding whitespace, to elems.
func splitArray(b []byte, elems [][]byte) ([][]byte, error) {
	if !utf8.Valid(b) {
		return elems, errUTF8
	}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		if _, err := scanValue(b, i, 0); err != nil {
			return elems, err
		}
		return elems, errNotArray
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			end, err := scanValue(b, i, 1)
			if err != nil {
				return elems, err
			}
			elems = append(elems, b[i:end])
			i = skipWS(b, end)
			if i >= len(b) {
				return elems, errJSON
			}
			if b[i] == ']' {
				i++
				break
			}
			if b[i] != ',' {
				return elems, errJSON
			}
			i = skipWS(b, i+1)
		}
	}
	if skipWS(b, i) != len(b) {
		return elems, errJSON
	}
	return elems, nil
}

// validJSON reports whether b is one valid JSON value, whitespace around it allowed.
func validJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errUTF8
	}
	_, err := scanOne(b)
	return err
}

// scanOne validates b, already known to be valid UTF-8, as one JSON value with whitespace around it allowed,
// and returns the index where the value starts.
func scanOne(b []byte) (int, error) {
	start := skipWS(b, 0)
	end, err := scanValue(b, start, 0)
	if err != nil {
		return start, err
	}
	if skipWS(b, end) != len(b) {
		return start, errJSON
	}
	return start, nil
}

// appendUnquoted appends the decoded text of raw, the content of a valid JSON string between its quotes.
// Escaped UTF-16 surrogate pairs are joined; a lone surrogate, which a Go string cannot hold, becomes U+FFFD.
func appendUnquoted(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			// Copy the run up to the next escape at once.
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && len(raw)-i >= 6 && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := hex4(raw[i+2:]); r2 >= 0xDC00 && r2 <= 0xDFFF {
						r = utf16.DecodeRune(r, r2)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(digitValue(c))
	}
	return r
}
