package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file holds a small MessagePack reader and writer, enough for the messages of the Redis adapter. The
// writer picks the same forms as notepack.io (the codec of @socket.io/redis-adapter and redis-emitter): the
// smallest integer form for integral numbers, float 64 for the others, str 8/16/32 and bin 8/16/32.

// MaxDepth bounds the nesting of arrays and maps the decoders accept.
const MaxDepth = 200

// Decoding errors.
var (
	ErrTruncated = errors.New("wire: truncated msgpack")
	ErrTooDeep   = fmt.Errorf("wire: msgpack nested more than %d deep", MaxDepth)
	errBadCode   = errors.New("wire: invalid msgpack code 0xc1")
)

// kind is the type of a msgpack item.
type kind uint8

const (
	kNil kind = iota
	kBool
	kInt   // i holds the value
	kUint  // u holds the value (above the int64 range)
	kFloat // f holds the value
	kStr   // span holds the bytes
	kBin   // span holds the bytes
	kArray // n holds the count
	kMap   // n holds the count of pairs
	kExt   // ext holds the type, span the data
)

// item is one decoded msgpack header (and, for scalars, value).
type item struct {
	kind kind
	b    bool
	i    int64
	u    uint64
	f    float64
	n    int
	ext  int8
	code byte // the first byte (for extensions: fixext or ext)
	span []byte
}

// readItem decodes the item at b[off:] and returns it with the offset past its header (past the whole item for
// anything but arrays and maps, whose elements follow).
func readItem(b []byte, off int) (item, int, error) {
	if off >= len(b) {
		return item{}, off, ErrTruncated
	}
	c := b[off]
	off++
	switch {
	case c <= 0x7f:
		return item{kind: kInt, i: int64(c)}, off, nil
	case c <= 0x8f:
		return container(kMap, int(c&0x0f), b, off, 2)
	case c <= 0x9f:
		return container(kArray, int(c&0x0f), b, off, 1)
	case c <= 0xbf:
		return bytesItem(kStr, int(c&0x1f), b, off)
	case c >= 0xe0:
		return item{kind: kInt, i: int64(int8(c))}, off, nil
	}
	switch c {
	case 0xc0:
		return item{kind: kNil}, off, nil
	case 0xc2, 0xc3:
		return item{kind: kBool, b: c == 0xc3}, off, nil
	case 0xc4, 0xc5, 0xc6:
		n, off, err := readLen(b, off, 1<<(c-0xc4))
		if err != nil {
			return item{}, off, err
		}
		return bytesItem(kBin, n, b, off)
	case 0xc7, 0xc8, 0xc9:
		n, off, err := readLen(b, off, 1<<(c-0xc7))
		if err != nil {
			return item{}, off, err
		}
		return extItem(c, n, b, off)
	case 0xca:
		if len(b)-off < 4 {
			return item{}, off, ErrTruncated
		}
		return item{kind: kFloat, f: float64(math.Float32frombits(binary.BigEndian.Uint32(b[off:])))}, off + 4, nil
	case 0xcb:
		if len(b)-off < 8 {
			return item{}, off, ErrTruncated
		}
		return item{kind: kFloat, f: math.Float64frombits(binary.BigEndian.Uint64(b[off:]))}, off + 8, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		size := 1 << (c - 0xcc)
		if len(b)-off < size {
			return item{}, off, ErrTruncated
		}
		u := readUint(b[off:], size)
		if u > math.MaxInt64 {
			return item{kind: kUint, u: u}, off + size, nil
		}
		return item{kind: kInt, i: int64(u)}, off + size, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		size := 1 << (c - 0xd0)
		if len(b)-off < size {
			return item{}, off, ErrTruncated
		}
		u := readUint(b[off:], size)
		var i int64
		switch size {
		case 1:
			i = int64(int8(u))
		case 2:
			i = int64(int16(u))
		case 4:
			i = int64(int32(u))
		default:
			i = int64(u)
		}
		return item{kind: kInt, i: i}, off + size, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return extItem(c, 1<<(c-0xd4), b, off)
	case 0xd9, 0xda, 0xdb:
		n, off, err := readLen(b, off, 1<<(c-0xd9))
		if err != nil {
			return item{}, off, err
		}
		return bytesItem(kStr, n, b, off)
	case 0xdc, 0xdd:
		n, off, err := readLen(b, off, 2<<(c-0xdc))
		if err != nil {
			return item{}, off, err
		}
		return container(kArray, n, b, off, 1)
	case 0xde, 0xdf:
		n, off, err := readLen(b, off, 2<<(c-0xde))
		if err != nil {
			return item{}, off, err
		}
		return container(kMap, n, b, off, 2)
	}
	return item{}, off, errBadCode
}

func readUint(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

func readLen(b []byte, off, size int) (int, int, error) {
	if len(b)-off < size {
		return 0, off, ErrTruncated
	}
	u := readUint(b[off:], size)
	if u > uint64(len(b)) {
		return 0, off, ErrTruncated // longer than the whole message: cannot be complete
	}
	return int(u), off + size, nil
}

// container checks that a count of elements can fit in what remains (each takes at least one byte).
func container(k kind, n int, b []byte, off, per int) (item, int, error) {
	if n > (len(b)-off)/per {
		return item{}, off, ErrTruncated
	}
	return item{kind: k, n: n}, off, nil
}

func bytesItem(k kind, n int, b []byte, off int) (item, int, error) {
	if n > len(b)-off {
		return item{}, off, ErrTruncated
	}
	return item{kind: k, span: b[off : off+n : off+n]}, off + n, nil
}

func extItem(code byte, n int, b []byte, off int) (item, int, error) {
	if off >= len(b) {
		return item{}, off, ErrTruncated
	}
	t := int8(b[off])
	it, off, err := bytesItem(kExt, n, b, off+1)
	it.ext, it.code = t, code
	return it, off, err
}

// skip returns the offset past the whole item at b[off:].
func skip(b []byte, off, depth int) (int, error) {
	it, next, err := readItem(b, off)
	if err != nil {
		return next, err
	}
	count := 0
	switch it.kind {
	case kArray:
		count = it.n
	case kMap:
		count = 2 * it.n
	default:
		return next, nil
	}
	if depth >= MaxDepth {
		return next, ErrTooDeep
	}
	for range count {
		if next, err = skip(b, next, depth+1); err != nil {
			return next, err
		}
	}
	return next, nil
}

// AppendNil appends nil.
func AppendNil(dst []byte) []byte { return append(dst, 0xc0) }

// AppendBool appends true or false.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// AppendInt appends v in its smallest form, unsigned forms for non-negative values (as notepack.io).
func AppendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return AppendUint(dst, uint64(v))
	}
	switch {
	case v >= -32:
		return append(dst, byte(int8(v)))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

// AppendUint appends v in its smallest form.
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

// AppendNumber appends a JavaScript number as notepack.io does: integral values in [-2^63, 2^64) as integers,
// the others (fractions, NaN, ±Inf, huge values) as float 64.
func AppendNumber(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && !math.IsInf(f, 0) {
		if f >= -(1<<63) && f < 1<<63 {
			return AppendInt(dst, int64(f))
		}
		if f >= 0 && f < 1<<64 {
			return AppendUint(dst, uint64(f))
		}
	}
	return AppendFloat(dst, f)
}

// AppendFloat appends v as a float 64.
func AppendFloat(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(v))
}

// AppendString appends s as a str.
func AppendString(dst []byte, s string) []byte {
	dst = appendStrHeader(dst, len(s))
	return append(dst, s...)
}

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
}

// AppendBin appends b as a bin (a Node.js Buffer once decoded).
func AppendBin(dst []byte, b []byte) []byte {
	switch n := len(b); {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

// AppendArrayHeader appends the header of an array of n elements.
func AppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

// AppendMapHeader appends the header of a map of n pairs.
func AppendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

// headerSize is the size of the smallest array or map header for n elements.
func headerSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}
