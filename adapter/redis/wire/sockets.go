package wire

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SocketDetails is a socket as a REMOTE_FETCH response describes it: {id, handshake, rooms, data}, handshake
// being the handshake object of the Node.js server, {headers, time, address, xdomain, secure, issued, url,
// query, auth}.
type SocketDetails struct {
	ID        string
	Rooms     []string
	Data      json.RawMessage // JSON; null when absent
	Handshake HandshakeDetails
}

// HandshakeDetails is the handshake of a socket.
type HandshakeDetails struct {
	// Headers are the request headers, lower-case names as Node.js gives them.
	Headers map[string][]string
	// Time is the handshake time as Date.toString() writes it; Issued the same in milliseconds since the epoch.
	Time    string
	Issued  int64
	Address string
	XDomain bool
	Secure  bool
	URL     string
	// Query is the parsed query string of URL.
	Query map[string][]string
	// Auth is the JSON auth payload of the CONNECT packet.
	Auth json.RawMessage
}

// stringOrList decodes a string, or an array of strings (anything else is skipped).
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var l flexList
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*s = stringOrList(l)
		return nil
	}
	var f flexString
	if err := f.UnmarshalJSON(b); err != nil {
		return err
	}
	if len(b) > 0 && (b[0] == '"' || b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		*s = stringOrList{string(f)}
	}
	return nil
}

type jsonSocket struct {
	ID        flexString      `json:"id"`
	Rooms     flexList        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake *struct {
		Headers map[string]stringOrList `json:"headers"`
		Time    flexString              `json:"time"`
		Address flexString              `json:"address"`
		XDomain flexBool                `json:"xdomain"`
		Secure  flexBool                `json:"secure"`
		Issued  flexNumber              `json:"issued"`
		URL     flexString              `json:"url"`
		Query   map[string]stringOrList `json:"query"`
		Auth    json.RawMessage         `json:"auth"`
	} `json:"handshake"`
}

// DecodeSocketDetails decodes one element of the sockets of a REMOTE_FETCH response.
func DecodeSocketDetails(raw []byte) (*SocketDetails, error) {
	var s jsonSocket
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	d := &SocketDetails{ID: string(s.ID), Rooms: s.Rooms, Data: s.Data}
	if len(d.Data) == 0 {
		d.Data = json.RawMessage("null")
	}
	if h := s.Handshake; h != nil {
		d.Handshake = HandshakeDetails{
			Time:    string(h.Time),
			Issued:  int64(h.Issued),
			Address: string(h.Address),
			XDomain: bool(h.XDomain),
			Secure:  bool(h.Secure),
			URL:     string(h.URL),
			Auth:    h.Auth,
		}
		if len(h.Headers) > 0 {
			d.Handshake.Headers = make(map[string][]string, len(h.Headers))
			for k, v := range h.Headers {
				d.Handshake.Headers[k] = v
			}
		}
		if len(h.Query) > 0 {
			d.Handshake.Query = make(map[string][]string, len(h.Query))
			for k, v := range h.Query {
				d.Handshake.Query[k] = v
			}
		}
	}
	return d, nil
}

// AppendSocketDetails appends the JSON of a socket as the Node.js adapter writes it. Data and Auth must be valid
// JSON (Data null is written as {}, Node's default socket.data; Auth empty as {}).
func AppendSocketDetails(dst []byte, d *SocketDetails) []byte {
	w := newJSON(dst)
	w.str("id", d.ID)
	w.key("handshake")
	w.b = appendHandshake(w.b, &d.Handshake)
	w.list("rooms", d.Rooms)
	data := d.Data
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	w.raw("data", data)
	return w.done()
}

func appendHandshake(dst []byte, h *HandshakeDetails) []byte {
	w := newJSON(dst)
	w.key("headers")
	w.b = appendMultiMap(w.b, h.Headers, func(k string) bool { return k == "set-cookie" }, func(k string) string {
		if k == "cookie" {
			return "; "
		}
		return ", "
	})
	w.str("time", h.Time)
	w.str("address", h.Address)
	w.key("xdomain")
	w.b = strconv.AppendBool(w.b, h.XDomain)
	w.key("secure")
	w.b = strconv.AppendBool(w.b, h.Secure)
	w.num("issued", h.Issued)
	w.str("url", h.URL)
	w.key("query")
	w.b = appendMultiMap(w.b, h.Query, func(string) bool { return false }, nil)
	auth := h.Auth
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	w.raw("auth", auth)
	return w.done()
}

// appendMultiMap writes a map of lists as Node.js gives headers and query strings: one value as a string,
// several as an array (or joined with sep(key) when sep is not nil and the key is not always an array).
func appendMultiMap(dst []byte, m map[string][]string, alwaysList func(string) bool, sep func(string) string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, []byte(k))
		dst = append(dst, ':')
		v := m[k]
		switch {
		case alwaysList(k):
			dst = appendJSONStrings(dst, v)
		case len(v) == 1:
			dst = appendJSONString(dst, []byte(v[0]))
		case sep != nil:
			dst = appendJSONString(dst, []byte(strings.Join(v, sep(k))))
		default:
			dst = appendJSONStrings(dst, v)
		}
	}
	return append(dst, '}')
}

// DateString writes t as JavaScript's Date.prototype.toString does, the zone's abbreviation in parentheses
// (Node.js writes its long name).
func DateString(t time.Time) string {
	name, _ := t.Zone()
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (" + name + ")"
}
