package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
)

// acceptGUID is the fixed string RFC 6455 §1.3 appends to the client key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey appends the Sec-WebSocket-Accept value for the client's
// Sec-WebSocket-Key to dst: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2).
// It does not allocate when dst has 28 bytes of spare capacity and key is a
// valid (24-byte) key.
func AcceptKey(dst []byte, key []byte) []byte {
	// sha1.New would put the digest on the heap behind a hash.Hash; sha1.Sum
	// over a stack array keeps the whole computation off the heap. 64 bytes
	// hold a 24-byte key plus the 36-byte GUID; a longer (invalid) key only
	// makes append move the input to the heap.
	var in [64]byte
	b := append(append(in[:0], key...), acceptGUID...)
	sum := sha1.Sum(b)
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// ValidKey reports whether key is a well-formed Sec-WebSocket-Key: the
// canonical padded base64 encoding of exactly 16 bytes (RFC 6455 §4.1).
func ValidKey(key []byte) bool {
	// 16 bytes always encode to 24 characters ending in "==". Checking the
	// length first also rules out CR/LF, which the base64 decoder skips.
	if len(key) != 24 {
		return false
	}
	var out [18]byte // base64.StdEncoding.DecodedLen(24)
	n, err := strictBase64.Decode(out[:], key)
	return err == nil && n == 16
}

// strictBase64 rejects encodings with non-zero padding bits, so a key has
// exactly one accepted spelling.
var strictBase64 = base64.StdEncoding.Strict()
