package wire

import (
	"encoding/binary"
	"errors"
	"github.com/fastio/fastio/codec/jsonstr"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fastio/fastio/codec/sio"
)

// Values cross the Redis bus as MessagePack, encoded by notepack.io on the Node.js side, and reach clients as
// Socket.IO JSON. The two transcoders here go between the MessagePack form and the JSON text that
// socket.io-parser writes for the same JavaScript value, binary values included: in the JSON each one is a
// placeholder {"_placeholder":true,"num":N} whose N indexes a list of attachments. Key order is kept both
// ways, so a client of a fastio node sees an object's keys in the order the Node.js sender wrote them.

var errMapKey = errors.New("wire: msgpack map key is not a string, number, boolean or nil")

// MsgpackToJSON transcodes the msgpack value at the start of b into JSON appended to dst, as JSON.stringify
// writes the value notepack.io decodes: bin (a Buffer) and ext type 0 (an ArrayBuffer) become placeholders,
// their bytes appended to att (aliasing b); timestamps (Dates) their ISO string; notepack's undefined null in
// an array and a missing member in a map; NaN and ±Inf null. It returns the JSON, the attachments and the
// number of bytes of b read.
func MsgpackToJSON(dst []byte, att [][]byte, b []byte) (out []byte, atts [][]byte, n int, err error) {
	t := toJSON{out: dst, att: att}
	n, err = t.value(b, 0, 0)
	return t.out, t.att, n, err
}

type toJSON struct {
	out []byte
	att [][]byte
}

// isUndefined reports whether b[off:] is notepack's undefined: fixext 1 of type 0.
func isUndefined(b []byte, off int) bool {
	return off+3 <= len(b) && b[off] == 0xd4 && b[off+1] == 0x00
}

func (t *toJSON) value(b []byte, off, depth int) (int, error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return next, err
	}
	switch it.kind {
	case kNil:
		t.out = append(t.out, "null"...)
	case kBool:
		t.out = strconv.AppendBool(t.out, it.b)
	case kInt:
		t.out = strconv.AppendInt(t.out, it.i, 10)
	case kUint:
		t.out = strconv.AppendUint(t.out, it.u, 10)
	case kFloat:
		t.out = appendJSNumber(t.out, it.f)
	case kStr:
		t.out = appendJSONString(t.out, it.span)
	case kBin:
		t.placeholder(it.span)
	case kExt:
		t.ext(it)
	case kArray:
		if depth >= MaxDepth {
			return next, ErrTooDeep
		}
		t.out = append(t.out, '[')
		for i := range it.n {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			if next, err = t.value(b, next, depth+1); err != nil {
				return next, err
			}
		}
		t.out = append(t.out, ']')
	case kMap:
		if depth >= MaxDepth {
			return next, ErrTooDeep
		}
		t.out = append(t.out, '{')
		first := true
		for range it.n {
			keyStart := next
			if next, err = skip(b, next, depth+1); err != nil {
				return next, err
			}
			if isUndefined(b, next) { // JSON.stringify leaves out an undefined member
				next += 3
				continue
			}
			if !first {
				t.out = append(t.out, ',')
			}
			first = false
			if err = t.key(b, keyStart); err != nil {
				return next, err
			}
			t.out = append(t.out, ':')
			if next, err = t.value(b, next, depth+1); err != nil {
				return next, err
			}
		}
		t.out = append(t.out, '}')
	}
	return next, nil
}

// key writes a map key as the string JavaScript makes of it (String(key)).
func (t *toJSON) key(b []byte, off int) error {
	it, _, err := readItem(b, off)
	if err != nil {
		return err
	}
	switch it.kind {
	case kStr:
		t.out = appendJSONString(t.out, it.span)
		return nil
	case kNil:
		t.out = append(t.out, `"null"`...)
	case kBool:
		t.out = append(t.out, '"')
		t.out = strconv.AppendBool(t.out, it.b)
		t.out = append(t.out, '"')
	case kInt:
		t.out = append(t.out, '"')
		t.out = strconv.AppendInt(t.out, it.i, 10)
		t.out = append(t.out, '"')
	case kUint:
		t.out = append(t.out, '"')
		t.out = appendJSNumberString(t.out, float64(it.u))
		t.out = append(t.out, '"')
	case kFloat:
		t.out = append(t.out, '"')
		t.out = appendJSNumberString(t.out, it.f)
		t.out = append(t.out, '"')
	default:
		return errMapKey
	}
	return nil
}

func (t *toJSON) placeholder(data []byte) {
	t.out = append(t.out, `{"_placeholder":true,"num":`...)
	t.out = strconv.AppendInt(t.out, int64(len(t.att)), 10)
	t.out = append(t.out, '}')
	t.att = append(t.att, data)
}

// ext writes what notepack.io decodes an extension into: undefined (null here, as in an array), a Date (its ISO
// string), an ArrayBuffer (binary), or [type, Buffer] for the other types.
func (t *toJSON) ext(it item) {
	d := it.span
	fixed := it.code >= 0xd4 // fixext 1, 2, 4, 8, 16
	switch {
	case fixed && it.ext == 0 && len(d) == 1:
		t.out = append(t.out, "null"...) // undefined
		return
	case fixed && it.ext == 0 && len(d) == 8: // notepack's legacy Date: milliseconds
		ms := float64(int32(binary.BigEndian.Uint32(d)))*(1<<32) + float64(binary.BigEndian.Uint32(d[4:]))
		t.out = appendJSDate(t.out, ms)
		return
	case fixed && it.ext == -1 && len(d) == 4: // timestamp 32
		t.out = appendJSDate(t.out, float64(binary.BigEndian.Uint32(d))*1e3)
		return
	case fixed && it.ext == -1 && len(d) == 8: // timestamp 64
		hi, lo := binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		s := float64(hi&3)*(1<<32) + float64(lo)
		t.out = appendJSDate(t.out, s*1e3+float64(hi>>2)/1e6)
		return
	case it.code == 0xc7 && it.ext == -1 && len(d) == 12: // timestamp 96
		ns := binary.BigEndian.Uint32(d)
		s := float64(int32(binary.BigEndian.Uint32(d[4:])))*(1<<32) + float64(binary.BigEndian.Uint32(d[8:]))
		t.out = appendJSDate(t.out, s*1e3+float64(ns)/1e6)
		return
	case !fixed && it.ext == 0: // ext 8/16/32 of type 0: an ArrayBuffer
		t.placeholder(d)
		return
	}
	t.out = append(t.out, '[')
	t.out = strconv.AppendInt(t.out, int64(it.ext), 10)
	t.out = append(t.out, ',')
	t.placeholder(d)
	t.out = append(t.out, ']')
}

// appendJSDate writes what JSON.stringify writes for new Date(ms): its ISO string, or null for an invalid date.
func appendJSDate(dst []byte, ms float64) []byte {
	ms = math.Trunc(ms)
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return append(dst, "null"...)
	}
	tm := time.UnixMilli(int64(ms)).UTC()
	dst = append(dst, '"')
	switch y := tm.Year(); {
	case y < 0:
		dst = append(dst, '-')
		dst = appendPadded(dst, -y, 6)
	case y > 9999:
		dst = append(dst, '+')
		dst = appendPadded(dst, y, 6)
	default:
		dst = appendPadded(dst, y, 4)
	}
	dst = append(dst, '-')
	dst = appendPadded(dst, int(tm.Month()), 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, tm.Day(), 2)
	dst = append(dst, 'T')
	dst = appendPadded(dst, tm.Hour(), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, tm.Minute(), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, tm.Second(), 2)
	dst = append(dst, '.')
	dst = appendPadded(dst, tm.Nanosecond()/1e6, 3)
	return append(dst, 'Z', '"')
}

func appendPadded(dst []byte, v, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendJSNumber writes a number as JSON.stringify does (NaN and ±Inf as null).
func appendJSNumber(dst []byte, f float64) []byte {
	out, _ := sio.AppendJSON(dst, f)
	return out
}

// appendJSNumberString writes String(f) of JavaScript, NaN and Infinity included.
func appendJSNumberString(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendJSNumber(dst, f)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal, escaped as JSON.stringify does (see package jsonstr).
func appendJSONString(dst, s []byte) []byte { return jsonstr.AppendBytes(dst, s) }

// JSON to MessagePack.

var (
	errJSON     = errors.New("wire: invalid JSON")
	errJSONDeep = errors.New("wire: JSON nested too deep")
)

// JSONToMsgpack transcodes the JSON value at the start of j (leading white space allowed) into msgpack appended
// to dst, as notepack.io encodes the value JSON.parse makes of it, except that each placeholder object (a
// "_placeholder" member that is true and a "num" member that is an integer below len(att)) becomes a bin of
// its attachment. It returns the msgpack and the offset past the value in j.
func JSONToMsgpack(dst []byte, j []byte, att [][]byte) ([]byte, int, error) {
	t := toMsgpack{out: dst, att: att}
	end, err := t.value(j, skipWS(j, 0), 0)
	return t.out, end, err
}

type toMsgpack struct {
	out []byte
	att [][]byte
	str []byte // scratch for unescaped strings
}

func skipWS(j []byte, i int) int {
	for i < len(j) && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r') {
		i++
	}
	return i
}

func (t *toMsgpack) value(j []byte, i, depth int) (int, error) {
	if i >= len(j) {
		return i, errJSON
	}
	switch c := j[i]; {
	case c == '"':
		s, end, err := t.unquote(j, i)
		if err != nil {
			return end, err
		}
		t.out = appendStrHeader(t.out, len(s))
		t.out = append(t.out, s...)
		return end, nil
	case c == '{':
		return t.object(j, i, depth)
	case c == '[':
		return t.array(j, i, depth)
	case c == 't':
		return t.literal(j, i, "true", 0xc3)
	case c == 'f':
		return t.literal(j, i, "false", 0xc2)
	case c == 'n':
		return t.literal(j, i, "null", 0xc0)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number(j, i)
	}
	return i, errJSON
}

func (t *toMsgpack) literal(j []byte, i int, word string, code byte) (int, error) {
	if len(j)-i < len(word) || string(j[i:i+len(word)]) != word {
		return i, errJSON
	}
	t.out = append(t.out, code)
	return i + len(word), nil
}

// number writes a JSON number: integer literals exactly (int64 or uint64), the others as notepack.io writes
// the float64 JSON.parse makes of them.
func (t *toMsgpack) number(j []byte, i int) (int, error) {
	start := i
	if j[i] == '-' {
		i++
	}
	digits := i
	for i < len(j) && j[i] >= '0' && j[i] <= '9' {
		i++
	}
	if i == digits || (j[digits] == '0' && i-digits > 1) {
		return i, errJSON
	}
	integral := true
	if i < len(j) && j[i] == '.' {
		integral = false
		i++
		d := i
		for i < len(j) && j[i] >= '0' && j[i] <= '9' {
			i++
		}
		if i == d {
			return i, errJSON
		}
	}
	if i < len(j) && (j[i] == 'e' || j[i] == 'E') {
		integral = false
		i++
		if i < len(j) && (j[i] == '+' || j[i] == '-') {
			i++
		}
		d := i
		for i < len(j) && j[i] >= '0' && j[i] <= '9' {
			i++
		}
		if i == d {
			return i, errJSON
		}
	}
	lit := string(j[start:i])
	if integral {
		if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
			t.out = AppendInt(t.out, v)
			return i, nil
		}
		if v, err := strconv.ParseUint(lit, 10, 64); err == nil {
			t.out = AppendUint(t.out, v)
			return i, nil
		}
	}
	f, _ := strconv.ParseFloat(lit, 64) // a valid literal: only a range error (±Inf) is possible
	t.out = AppendNumber(t.out, f)
	return i, nil
}

// container reserves the largest header, and returns where the elements start.
func (t *toMsgpack) openContainer() int {
	t.out = append(t.out, 0, 0, 0, 0, 0)
	return len(t.out)
}

// closeContainer writes the header of a container of n elements whose elements start at body, moving them
// down when the header is smaller than the space reserved.
func (t *toMsgpack) closeContainer(body, n int, isMap bool) {
	hs := headerSize(n)
	hdrAt := body - 5
	var hdr [5]byte
	var h []byte
	if isMap {
		h = AppendMapHeader(hdr[:0], n)
	} else {
		h = AppendArrayHeader(hdr[:0], n)
	}
	copy(t.out[hdrAt:], h)
	if hs < 5 {
		copy(t.out[hdrAt+hs:], t.out[body:])
		t.out = t.out[:len(t.out)-(5-hs)]
	}
}

func (t *toMsgpack) array(j []byte, i, depth int) (int, error) {
	if depth >= MaxDepth {
		return i, errJSONDeep
	}
	body := t.openContainer()
	n := 0
	i = skipWS(j, i+1)
	if i < len(j) && j[i] == ']' {
		t.closeContainer(body, 0, false)
		return i + 1, nil
	}
	for {
		var err error
		if i, err = t.value(j, i, depth+1); err != nil {
			return i, err
		}
		n++
		i = skipWS(j, i)
		if i >= len(j) {
			return i, errJSON
		}
		if j[i] == ']' {
			t.closeContainer(body, n, false)
			return i + 1, nil
		}
		if j[i] != ',' {
			return i, errJSON
		}
		i = skipWS(j, i+1)
	}
}

// object writes a JSON object as a map; a placeholder is replaced by a bin of its attachment once the object
// is known to be one. A duplicate key is written twice, which JavaScript decodes as JSON.parse does (the last
// value, at the first position).
func (t *toMsgpack) object(j []byte, i, depth int) (int, error) {
	if depth >= MaxDepth {
		return i, errJSONDeep
	}
	start := len(t.out)
	body := t.openContainer()
	n := 0
	isPH, num, hasNum := false, 0.0, false
	i = skipWS(j, i+1)
	if i < len(j) && j[i] == '}' {
		t.closeContainer(body, 0, true)
		return i + 1, nil
	}
	for {
		if i >= len(j) || j[i] != '"' {
			return i, errJSON
		}
		key, end, err := t.unquote(j, i)
		if err != nil {
			return end, err
		}
		keyKind := 0
		switch string(key) {
		case "_placeholder":
			keyKind = 1
		case "num":
			keyKind = 2
		}
		t.out = appendStrHeader(t.out, len(key))
		t.out = append(t.out, key...)
		i = skipWS(j, end)
		if i >= len(j) || j[i] != ':' {
			return i, errJSON
		}
		i = skipWS(j, i+1)
		vstart := i
		if i, err = t.value(j, i, depth+1); err != nil {
			return i, err
		}
		switch keyKind {
		case 1:
			isPH = string(j[vstart:i]) == "true"
		case 2:
			c := j[vstart]
			hasNum = c == '-' || (c >= '0' && c <= '9')
			if hasNum {
				num, _ = strconv.ParseFloat(string(j[vstart:i]), 64)
			}
		}
		n++
		i = skipWS(j, i)
		if i >= len(j) {
			return i, errJSON
		}
		if j[i] == '}' {
			i++
			break
		}
		if j[i] != ',' {
			return i, errJSON
		}
		i = skipWS(j, i+1)
	}
	if isPH && hasNum && num >= 0 && num < float64(len(t.att)) && num == math.Trunc(num) {
		t.out = AppendBin(t.out[:start], t.att[int(num)])
		return i, nil
	}
	t.closeContainer(body, n, true)
	return i, nil
}

// unquote returns the unescaped content of the JSON string at j[i], and the offset past it. Unpaired UTF-16
// surrogates become U+FFFD. The result may alias j or t's scratch space.
func (t *toMsgpack) unquote(j []byte, i int) ([]byte, int, error) {
	i++
	start := i
	for i < len(j) && j[i] != '"' && j[i] != '\\' {
		if j[i] < 0x20 {
			return nil, i, errJSON
		}
		i++
	}
	if i >= len(j) {
		return nil, i, errJSON
	}
	if j[i] == '"' {
		return j[start:i], i + 1, nil
	}
	s := append(t.str[:0], j[start:i]...)
	for {
		if i >= len(j) {
			return nil, i, errJSON
		}
		c := j[i]
		switch {
		case c == '"':
			t.str = s
			return s, i + 1, nil
		case c < 0x20:
			return nil, i, errJSON
		case c != '\\':
			s = append(s, c)
			i++
			continue
		}
		if i+1 >= len(j) {
			return nil, i, errJSON
		}
		switch e := j[i+1]; e {
		case '"', '\\', '/':
			s = append(s, e)
		case 'b':
			s = append(s, '\b')
		case 'f':
			s = append(s, '\f')
		case 'n':
			s = append(s, '\n')
		case 'r':
			s = append(s, '\r')
		case 't':
			s = append(s, '\t')
		case 'u':
			r, ok := hex4(j, i+2)
			if !ok {
				return nil, i, errJSON
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(j, i+2); ok && i+1 < len(j) && j[i] == '\\' && j[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						s = utf8.AppendRune(s, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			s = utf8.AppendRune(s, r)
			continue
		default:
			return nil, i, errJSON
		}
		i += 2
	}
}

func hex4(j []byte, i int) (rune, bool) {
	if len(j)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range j[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
