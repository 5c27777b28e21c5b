package sio

import (
	"bytes"
	"math"
	"strconv"
)

// A binary packet carries its binary values out of band: in the JSON each one is replaced by a placeholder
// {"_placeholder":true,"num":N}, and the values follow the packet as attachments, one binary message each, in
// the order of N. The Node.js parser takes as placeholder any object whose (last) "_placeholder" member is
// true, whatever its other members, and requires its "num" to be a number >= 0 below the attachment count.

// placeholder is a placeholder object found in JSON text.
type placeholder struct {
	start, end int     // the object's extent in the text
	num        float64 // the value of its "num" member
	isNum      bool    // whether "num" is present and a number
}

// valid is Node's check (isIndexValid): num is a number, num >= 0 and num < n.
func (p placeholder) valid(n int) bool { return p.isNum && p.num >= 0 && p.num < float64(n) }

// index returns the attachment the placeholder stands for, among n. ok is false for an invalid placeholder
// and for one whose num is in range but not an integer (JavaScript's buffers[0.5] is undefined).
func (p placeholder) index(n int) (int, bool) {
	if !p.valid(n) || p.num != math.Trunc(p.num) {
		return 0, false
	}
	return int(p.num), true
}

// findPlaceholders appends the placeholders of the valid JSON value at b[i] to out, in text order, and returns
// the index past the value. The members of a placeholder are not looked into: the whole object is replaced.
func findPlaceholders(b []byte, i int, out []placeholder) ([]placeholder, int) {
	switch b[i] {
	case '[':
		i = skipWS(b, i+1)
		if b[i] == ']' {
			return out, i + 1
		}
		for {
			out, i = findPlaceholders(b, i, out)
			i = skipWS(b, i)
			if b[i] != ',' {
				return out, i + 1 // ']'
			}
			i = skipWS(b, i+1)
		}
	case '{':
		start, mark := i, len(out)
		var ph placeholder
		isPH := false
		i = skipWS(b, i+1)
		if b[i] == '}' {
			return out, i + 1
		}
		for {
			keyEnd, _ := scanString(b, i)
			key := b[i+1 : keyEnd-1]
			v := skipWS(b, skipWS(b, keyEnd)+1) // past the ':'
			out, i = findPlaceholders(b, v, out)
			if k := memberKind(key); k == keyPlaceholder {
				isPH = string(b[v:i]) == "true"
			} else if k == keyNum {
				ph.isNum = b[v] == '-' || (b[v] >= '0' && b[v] <= '9')
				if ph.isNum {
					ph.num, _ = strconv.ParseFloat(unsafeString(b[v:i]), 64)
				}
			}
			i = skipWS(b, i)
			if b[i] != ',' {
				i++ // '}'
				break
			}
			i = skipWS(b, i+1)
		}
		if isPH {
			ph.start, ph.end = start, i
			out = append(out[:mark], ph) // drop the placeholders found inside it
		}
		return out, i
	case '"':
		end, _ := scanString(b, i)
		return out, end
	default:
		end, _ := scanValue(b, i, 0)
		return out, end
	}
}

// isWholePlaceholder reports whether phs, the placeholders found in the JSON value v, is v itself.
func isWholePlaceholder(phs []placeholder, v []byte) bool {
	return len(phs) == 1 && phs[0].start == 0 && phs[0].end == len(v)
}

const (
	keyOther = iota
	keyPlaceholder
	keyNum
)

// memberKind tells whether the raw JSON key (between its quotes, escapes not decoded) is "_placeholder",
// "num" or another key, comparing decoded text as JSON.parse does.
func memberKind(raw []byte) int {
	if len(raw) > 6*len("_placeholder") {
		return keyOther // too long to decode to either key, even fully escaped
	}
	s := raw
	if bytes.IndexByte(raw, '\\') >= 0 {
		var tmp [6 * len("_placeholder")]byte
		s = appendUnquoted(tmp[:0], raw)
	}
	if len(s) > len("_placeholder") {
		return keyOther // also keeps the conversion below on a stack buffer
	}
	switch string(s) {
	case "_placeholder":
		return keyPlaceholder
	case "num":
		return keyNum
	}
	return keyOther
}

// checkPlaceholders verifies, as the Node.js parser does when the last attachment arrives, that every
// placeholder in the JSON payload data refers to one of n attachments.
func checkPlaceholders(data []byte, n int) error {
	if len(data) == 0 {
		return nil
	}
	var tmp [8]placeholder
	phs, _ := findPlaceholders(data, skipWS(data, 0), tmp[:0])
	for _, ph := range phs {
		if !ph.valid(n) {
			return errIllegalPlaceVal
		}
	}
	return nil
}

// buildValue decodes the valid JSON value at b[i] into its generic Go form and returns the index past it.
// With attachments, placeholders are replaced by them.
func buildValue(b []byte, i int, att [][]byte) (any, int) {
	switch c := b[i]; c {
	case '"':
		end, _ := scanString(b, i)
		return string(appendUnquoted(make([]byte, 0, end-i-2), b[i+1:end-1])), end
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	case '[':
		list := []any{}
		i = skipWS(b, i+1)
		if b[i] == ']' {
			return list, i + 1
		}
		for {
			var v any
			v, i = buildValue(b, i, att)
			list = append(list, v)
			i = skipWS(b, i)
			if b[i] != ',' {
				return list, i + 1
			}
			i = skipWS(b, i+1)
		}
	case '{':
		m := map[string]any{}
		i = skipWS(b, i+1)
		if b[i] == '}' {
			return m, i + 1
		}
		for {
			keyEnd, _ := scanString(b, i)
			key := string(appendUnquoted(nil, b[i+1:keyEnd-1]))
			var v any
			v, i = buildValue(b, skipWS(b, skipWS(b, keyEnd)+1), att)
			m[key] = v // a duplicate key keeps the last value, as in JSON.parse
			i = skipWS(b, i)
			if b[i] != ',' {
				i++
				break
			}
			i = skipWS(b, i+1)
		}
		if len(att) > 0 && m["_placeholder"] == true {
			num, isNum := m["num"].(float64)
			ph := placeholder{num: num, isNum: isNum}
			if n, ok := ph.index(len(att)); ok {
				return att[n], i
			}
			if ph.valid(len(att)) {
				return nil, i // num in range but fractional: undefined in JavaScript
			}
		}
		return m, i
	default:
		end, _ := scanNumber(b, i)
		f, _ := strconv.ParseFloat(unsafeString(b[i:end]), 64)
		return f, end
	}
}

// Reassembler collects the binary attachments that follow a BINARY_EVENT or BINARY_ACK packet. The zero
// value is ready; it is not safe for concurrent use.
type Reassembler struct {
	p   Packet // the packet waiting for its attachments; p.Attachments is 0 when none is
	att [][]byte
}

// Start remembers p, a decoded BINARY_EVENT or BINARY_ACK, and waits for its p.Attachments attachments. The
// packet's namespace and payload are copied, since the read buffer they alias is reused. A packet that
// was waiting is dropped (Node refuses a text packet while attachments are awaited: check Waiting first).
func (r *Reassembler) Start(p Packet) {
	buf := make([]byte, len(p.Namespace)+len(p.Data))
	n := copy(buf, p.Namespace)
	copy(buf[n:], p.Data)
	p.Namespace = buf[:n:n]
	if p.Data != nil {
		p.Data = buf[n:]
	}
	r.p = p
	r.att = make([][]byte, 0, p.Attachments)
}

// Waiting reports whether a packet waits for attachments.
func (r *Reassembler) Waiting() bool { return r.p.Attachments > 0 }

// Add takes the next binary message, which it copies. When it is the last attachment of the packet, Add
// returns done with the packet (its type still BinaryEvent or BinaryAck) and its attachments, which the caller
// now owns, and the Reassembler is ready for the next packet. It fails when no packet is waiting (an
// unexpected binary frame) and, at the last attachment, when a placeholder of the payload refers to no
// attachment (Node: "illegal attachments"); both are ErrInvalidPacket.
func (r *Reassembler) Add(b []byte) (done bool, p Packet, att [][]byte, err error) {
	if !r.Waiting() {
		return false, Packet{}, nil, errUnexpectedBin
	}
	r.att = append(r.att, append(make([]byte, 0, len(b)), b...))
	if len(r.att) < r.p.Attachments {
		return false, Packet{}, nil, nil
	}
	p, att = r.p, r.att
	r.Reset()
	if err := checkPlaceholders(p.Data, len(att)); err != nil {
		return false, Packet{}, nil, err
	}
	return true, p, att, nil
}

// Reset drops the packet being reassembled, if any.
func (r *Reassembler) Reset() {
	*r = Reassembler{}
}
