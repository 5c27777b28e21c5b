package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// OpenInfo is the content of an Engine.IO v4 open packet.
type OpenInfo struct {
	SID          string
	Upgrades     []string
	PingInterval time.Duration
	PingTimeout  time.Duration
	MaxPayload   int64
}

// ParseOpen checks an Engine.IO v4 open packet (the whole text packet, type byte included):
//
//	0{"sid":"...","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//
// The sid must be a non-empty string, pingInterval and pingTimeout positive integers (milliseconds), upgrades a
// list of strings, and maxPayload, which v4 servers send, a positive integer.
func ParseOpen(p []byte) (OpenInfo, error) {
	var info OpenInfo
	if len(p) == 0 || p[0] != '0' {
		return info, fmt.Errorf("not an open packet: %q", clip(p))
	}
	var raw struct {
		SID          *string   `json:"sid"`
		Upgrades     *[]string `json:"upgrades"`
		PingInterval *int64    `json:"pingInterval"`
		PingTimeout  *int64    `json:"pingTimeout"`
		MaxPayload   *int64    `json:"maxPayload"`
	}
	body := p[1:]
	if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		return info, fmt.Errorf("open packet: payload is not a JSON object: %q", clip(p))
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return info, fmt.Errorf("open packet: %w", err)
	}
	switch {
	case raw.SID == nil || *raw.SID == "":
		return info, errors.New("open packet: no sid")
	case raw.Upgrades == nil:
		return info, errors.New("open packet: no upgrades")
	case raw.PingInterval == nil || *raw.PingInterval <= 0:
		return info, errors.New("open packet: pingInterval missing or not positive")
	case raw.PingTimeout == nil || *raw.PingTimeout <= 0:
		return info, errors.New("open packet: pingTimeout missing or not positive")
	case raw.MaxPayload == nil || *raw.MaxPayload <= 0:
		return info, errors.New("open packet: maxPayload missing or not positive")
	}
	info.SID = *raw.SID
	info.Upgrades = *raw.Upgrades
	info.PingInterval = time.Duration(*raw.PingInterval) * time.Millisecond
	info.PingTimeout = time.Duration(*raw.PingTimeout) * time.Millisecond
	info.MaxPayload = *raw.MaxPayload
	return info, nil
}

// appendSIOConnect appends the Socket.IO CONNECT packet for namespace ns with an optional auth JSON object, as an
// Engine.IO message: 40, 40{"token":"x"}, 40/admin, or 40/admin,{"token":"x"}.
func appendSIOConnect(dst []byte, ns string, auth []byte) []byte {
	dst = append(dst, '4', '0')
	if ns != "" && ns != "/" {
		dst = append(dst, ns...)
		if len(auth) > 0 {
			dst = append(dst, ',')
		}
	}
	return append(dst, auth...)
}

// errConnectError is a Socket.IO CONNECT_ERROR from the server.
var errConnectError = errors.New("socket.io CONNECT_ERROR")

// parseSIOConnectReply checks the server's answer to CONNECT, given as the Engine.IO message payload (without the
// leading '4'): 0{"sid":"..."} (or 0/ns,{"sid":"..."}) yields the Socket.IO sid; 4{...} is a CONNECT_ERROR.
// Packets for another namespace are reported with ok == false.
func parseSIOConnectReply(p []byte, ns string) (sid string, ok bool, err error) {
	if len(p) == 0 {
		return "", false, errors.New("empty socket.io packet")
	}
	typ := p[0]
	rest := p[1:]
	// Namespace: "/name," prefix, absent for "/".
	pktNS := "/"
	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			end = len(rest)
		}
		pktNS = string(rest[:end])
		rest = rest[min(end+1, len(rest)):]
	}
	if pktNS != ns {
		return "", false, nil
	}
	switch typ {
	case '0':
		var body struct {
			SID string `json:"sid"`
		}
		if err := json.Unmarshal(rest, &body); err != nil {
			return "", true, fmt.Errorf("socket.io CONNECT reply: %w", err)
		}
		if body.SID == "" {
			return "", true, errors.New("socket.io CONNECT reply: no sid")
		}
		return body.SID, true, nil
	case '4':
		return "", true, fmt.Errorf("%w: %s", errConnectError, clip(rest))
	}
	return "", false, nil
}

// clip shortens a packet for an error message.
func clip(p []byte) string {
	if len(p) > 80 {
		return string(p[:80]) + "..."
	}
	return string(p)
}
