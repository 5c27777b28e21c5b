// Package demo is the application `fastio` runs by default: the seed document's example server, in Go. It
// counts connections, tells everyone else when a user joins, and relays each "message" to everyone as a
// "notification" with the message's fields plus a type and a UTC timestamp.
//
// Beyond the seed, a client that connects with the auth payload {"watchCount": true} (the demo page does) gets
// a "count" event with the number of connected clients when it joins and whenever the number changes, at most
// once per CountInterval: a burst of joins costs one broadcast, and clients that do not ask (the seed's, the
// load generator's) get nothing more than the seed sends. The package also serves the demo page (see Page).
package demo

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/fastio/fastio/server"
)

// CountInterval is the shortest time between two "count" broadcasts.
const CountInterval = 100 * time.Millisecond

// countRoom holds the sockets that asked for "count" events.
const countRoom = "fastio:count-watchers"

// Mount installs the demo handlers on io's main namespace.
func Mount(io *server.Server, log *slog.Logger) {
	var count atomic.Int64
	counter := &countBroadcaster{io: io, count: &count}
	io.OnConnection(func(s *server.Socket) {
		// Emit a notification to all users but the newcomer.
		_ = s.Broadcast().Emit("notification", map[string]any{
			"id":      s.ID(),
			"message": "a new user has joined",
		})
		log.Info("total connections", "count", count.Add(1))
		if watchesCount(s) {
			s.Join(countRoom)
			_ = s.Emit("count", count.Load())
		}
		counter.changed()

		s.On("message", func(e *server.Event) {
			var data []byte
			if e.Args.Len() > 0 {
				data = e.Args.Raw(0)
			}
			note, err := userMessage(data, time.Now())
			if err != nil {
				log.Debug("message not relayed", "sid", s.ID(), "err", err)
				return
			}
			_ = io.Emit("notification", server.RawJSON(note))
		})
		s.OnDisconnect(func(string) {
			log.Info("total connections", "count", count.Add(-1))
			counter.changed()
		})
	})
}

// watchesCount reports whether the client asked for "count" events: auth {"watchCount": true}.
func watchesCount(s *server.Socket) bool {
	auth := s.Handshake().Auth
	if !bytes.Contains(auth, []byte("watchCount")) { // the common case, without decoding
		return false
	}
	var a struct {
		WatchCount bool `json:"watchCount"`
	}
	return json.Unmarshal(auth, &a) == nil && a.WatchCount
}

// countBroadcaster sends the count to its watchers at most once per CountInterval, always the latest value.
type countBroadcaster struct {
	io      *server.Server
	count   *atomic.Int64
	pending atomic.Bool
}

func (c *countBroadcaster) changed() {
	if !c.pending.CompareAndSwap(false, true) {
		return // a broadcast is scheduled; it will read the latest count
	}
	time.AfterFunc(CountInterval, func() {
		c.pending.Store(false)
		_ = c.io.To(countRoom).Emit("count", c.count.Load())
	})
}

// userMessage builds the JSON of JavaScript's {...data, type: "user_message", timestamp: now.toUTCString()}:
// the fields of data in their order, then type and timestamp (replacing fields of those names in place). Data
// that is not an object contributes no fields.
func userMessage(data []byte, now time.Time) ([]byte, error) {
	type field struct {
		key   string
		value json.RawMessage
	}
	var fields []field
	// put sets key, in place when present: a repeated key keeps its first position, as in JavaScript.
	put := func(key string, v json.RawMessage) {
		for i := range fields {
			if fields[i].key == key {
				fields[i].value = v
				return
			}
		}
		fields = append(fields, field{key, v})
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil { // {
			return nil, err
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, err
			}
			put(tok.(string), v)
		}
	}
	put("type", json.RawMessage(`"user_message"`))
	ts, _ := json.Marshal(now.UTC().Format(http.TimeFormat))
	put("timestamp", ts)
	var out bytes.Buffer
	out.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(f.value)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
