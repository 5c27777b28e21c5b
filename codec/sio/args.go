package sio

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/bytedance/sonic"
)

// Args is the argument list of an EVENT or ACK: the raw JSON elements of the payload array (for an EVENT,
// without the event name) and the binary attachments of the packet. Nothing is decoded until asked for.
//
// The elements alias the payload they were split from; Clone makes an independent copy. The zero value is an
// empty list, and an Args is reused by passing it again to SplitEvent or ParseArgs.
type Args struct {
	elems [][]byte
	att   [][]byte
	name  []byte // decoded event name, when it needed unescaping or normalising
}

// ErrArgType is wrapped by the errors of the Args accessors when an element is not of the requested kind.
var ErrArgType = errors.New("sio: argument of another type")

// ErrNoArg is returned by the Args accessors for an index out of range.
var ErrNoArg = errors.New("sio: no such argument")

// SplitEvent parses an EVENT payload: it returns the event name and puts the other elements into dst,
// reusing dst's storage (nothing is allocated when it has enough capacity). data must be a JSON array whose
// first element is a string or a number.
//
// A string name is returned unescaped. A number is returned as JavaScript's String(number) writes it, which is
// the raw text for the usual integers ("1") and the key Node's EventEmitter files the handlers under otherwise
// (1.0 and 1e0 are both "1"). The name aliases data or dst, so it is valid until either is reused.
//
// SplitEvent checks the JSON fully but not the reserved names (Decode does). It clears dst's attachments:
// call SetAttachments afterwards for a binary event.
func SplitEvent(data []byte, dst *Args) (name []byte, err error) {
	dst.reset()
	if dst.elems, err = splitArray(data, dst.elems); err != nil {
		dst.reset()
		return nil, err
	}
	if len(dst.elems) == 0 {
		return nil, errNoEventName
	}
	first := dst.elems[0]
	if c := first[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
		dst.reset()
		return nil, errNoEventName
	}
	// Shift the arguments down over the name; copy keeps the backing array (and so the zero-alloc reuse).
	n := copy(dst.elems, dst.elems[1:])
	dst.elems[n] = nil
	dst.elems = dst.elems[:n]
	if first[0] == '"' {
		raw := first[1 : len(first)-1]
		if bytes.IndexByte(raw, '\\') < 0 {
			return raw, nil
		}
		dst.name = appendUnquoted(dst.name[:0], raw)
		return dst.name, nil
	}
	if isCanonicalInt(first) {
		return first, nil
	}
	f, _ := strconv.ParseFloat(unsafeString(first), 64) // valid JSON; out of range is ±Inf, as in JavaScript
	dst.name = appendJSNumberString(dst.name[:0], f)
	return dst.name, nil
}

// ParseArgs parses an ACK payload: every element of the JSON array data goes into dst, reusing its storage.
// An absent payload (nil or empty data) gives no arguments, as Node calls the acknowledgement callback with
// none. It clears dst's attachments: call SetAttachments afterwards for a binary acknowledgement.
func ParseArgs(data []byte, dst *Args) error {
	dst.reset()
	if len(data) == 0 {
		return nil
	}
	var err error
	if dst.elems, err = splitArray(data, dst.elems); err != nil {
		dst.reset()
	}
	return err
}

func (a *Args) reset() {
	clear(a.elems) // drop references to the previous payload
	a.elems = a.elems[:0]
	a.att = nil
}

// isCanonicalInt reports whether the JSON number is an integer that JavaScript writes back identically:
// no fraction, no exponent, not -0, and small enough to be exact.
func isCanonicalInt(b []byte) bool {
	digits := b
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) > 15 || (len(digits) == 1 && digits[0] == '0' && len(b) == 2) {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendJSNumberString appends String(f) of JavaScript, which unlike JSON.stringify writes NaN and Infinity.
func appendJSNumberString(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendJSFloat(dst, f, 64)
}

// Len returns the number of arguments.
func (a *Args) Len() int { return len(a.elems) }

// Raw returns the raw JSON of argument i (placeholders of binary attachments included as they are), nil when
// i is out of range.
func (a *Args) Raw(i int) []byte {
	if i < 0 || i >= len(a.elems) {
		return nil
	}
	return a.elems[i]
}

func (a *Args) elem(i int) ([]byte, error) {
	if i < 0 || i >= len(a.elems) {
		return nil, ErrNoArg
	}
	return a.elems[i], nil
}

func typeError(i int, want string, raw []byte) error {
	got := "null"
	switch c := raw[0]; {
	case c == '"':
		got = "string"
	case c == '[':
		got = "array"
	case c == '{':
		got = "object"
	case c == 't' || c == 'f':
		got = "boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		got = "number"
	}
	return fmt.Errorf("%w: argument %d is a %s, not a %s", ErrArgType, i, got, want)
}

// String returns argument i, which must be a JSON string, unescaped. (Unpaired UTF-16 surrogates, which
// JavaScript strings may hold and Go strings cannot, become U+FFFD.)
func (a *Args) String(i int) (string, error) {
	raw, err := a.elem(i)
	if err != nil {
		return "", err
	}
	if raw[0] != '"' {
		return "", typeError(i, "string", raw)
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body), nil
	}
	return string(appendUnquoted(make([]byte, 0, len(body)), body)), nil
}

// Float returns argument i, which must be a JSON number. A number beyond the float64 range is ±Inf, as in
// JavaScript.
func (a *Args) Float(i int) (float64, error) {
	raw, err := a.elem(i)
	if err != nil {
		return 0, err
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, typeError(i, "number", raw)
	}
	f, _ := strconv.ParseFloat(unsafeString(raw), 64) // valid JSON, so only a range error is possible
	return f, nil
}

// Int returns argument i, which must be a JSON number with an integer value in the int64 range ("1.0" and
// "1e3" are integers, as in JavaScript).
func (a *Args) Int(i int) (int64, error) {
	raw, err := a.elem(i)
	if err != nil {
		return 0, err
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, typeError(i, "number", raw)
	}
	if n, err := strconv.ParseInt(unsafeString(raw), 10, 64); err == nil {
		return n, nil
	}
	f, _ := strconv.ParseFloat(unsafeString(raw), 64)
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, fmt.Errorf("%w: argument %d (%s) is not an int64", ErrArgType, i, raw)
	}
	return int64(f), nil
}

// Bool returns argument i, which must be true or false.
func (a *Args) Bool(i int) (bool, error) {
	raw, err := a.elem(i)
	if err != nil {
		return false, err
	}
	switch raw[0] {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, typeError(i, "boolean", raw)
}

// Bytes returns the binary attachment that argument i stands for: the argument must be a placeholder
// {"_placeholder":true,"num":N} with N the index of an attachment. The slice is the attachment itself.
func (a *Args) Bytes(i int) ([]byte, error) {
	raw, err := a.elem(i)
	if err != nil {
		return nil, err
	}
	if raw[0] == '{' {
		var tmp [1]placeholder
		if phs, _ := findPlaceholders(raw, 0, tmp[:0]); isWholePlaceholder(phs, raw) {
			if n, ok := phs[0].index(len(a.att)); ok {
				return a.att[n], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: argument %d is not a binary attachment", ErrArgType, i)
}

// Decode unmarshals argument i into v with sonic (encoding/json rules). Placeholders of binary attachments
// are NOT replaced by their attachment: they decode as the objects they are ({"_placeholder":true,"num":0});
// use Bytes or Value for binary arguments.
func (a *Args) Decode(i int, v any) error {
	raw, err := a.elem(i)
	if err != nil {
		return err
	}
	return sonic.Unmarshal(raw, v)
}

// Value decodes argument i into the generic Go form of a JSON value, as JSON.parse would: map[string]any,
// []any, float64, string, bool or nil. In a packet with attachments, every placeholder, at any depth, is
// replaced by its attachment ([]byte), as the Node.js parser reconstructs the packet (a placeholder whose num
// is in range but not an integer stands for JavaScript's undefined, here nil). Duplicate object keys keep the
// last value, as in JavaScript.
func (a *Args) Value(i int) (any, error) {
	raw, err := a.elem(i)
	if err != nil {
		return nil, err
	}
	v, _ := buildValue(raw, 0, a.att)
	return v, nil
}

// Attachments returns the binary attachments of the packet, in placeholder order.
func (a *Args) Attachments() [][]byte { return a.att }

// SetAttachments sets the binary attachments that the placeholders of the arguments refer to.
func (a *Args) SetAttachments(att [][]byte) { a.att = att }

// Clone returns a deep copy of a, raw JSON and attachments, which stays valid after the buffers a aliases
// are reused. It allocates one block for the JSON and one for the attachments.
func (a *Args) Clone() Args {
	var c Args
	if len(a.elems) > 0 {
		c.elems = cloneAll(a.elems)
	}
	if a.att != nil {
		c.att = cloneAll(a.att)
	}
	return c
}

// cloneAll copies a list of byte slices into one new block.
func cloneAll(list [][]byte) [][]byte {
	size := 0
	for _, b := range list {
		size += len(b)
	}
	buf := make([]byte, 0, size)
	out := make([][]byte, len(list))
	for i, b := range list {
		buf = append(buf, b...)
		out[i] = buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	return out
}

// Spread returns the arguments as values to emit again: each one is a RawJSON, or, in a packet with
// attachments, a []byte for an argument that is a placeholder and a RawBinary for one that holds
// placeholders deeper down, so that the Encoder sends the same binary data. The values alias a: Clone it
// first if it outlives its buffers.
func (a *Args) Spread() []any {
	out := make([]any, len(a.elems))
	for i, e := range a.elems {
		out[i] = RawJSON(e)
		if len(a.att) == 0 {
			continue
		}
		var tmp [4]placeholder
		phs, _ := findPlaceholders(e, 0, tmp[:0])
		switch {
		case len(phs) == 0:
			// no binary inside: stays RawJSON
		case isWholePlaceholder(phs, e):
			if n, ok := phs[0].index(len(a.att)); ok {
				out[i] = a.att[n]
			} else {
				out[i] = nil // a fractional num: undefined in JavaScript, which JSON.stringify writes as null
			}
		default:
			out[i] = RawBinary{JSON: e, Attachments: a.att}
		}
	}
	return out
}
