// Package metrics writes fastio's counters in the Prometheus text exposition format (version 0.0.4).
//
// The exposition is written by hand rather than with prometheus/client_golang: every value already lives in an
// atomic counter of the engine (eventloop.Metrics) or of the application, read at scrape time, so a registry
// would only copy them; and the library would add about ten modules (protobuf, procfs, ...) to a module whose
// users embed it as a library.
package metrics

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fastio/fastio/eventloop"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Label is one label of a sample.
type Label struct{ Name, Value string }

// Sample is one value of a family, told apart from the family's other samples by its labels.
type Sample struct {
	Suffix string // appended to the family name: "_bucket", "_sum", "_count" for a histogram
	Labels []Label
	Value  float64
}

// Family is a metric: a name, a help text, a type ("counter", "gauge" or "histogram") and its samples.
type Family struct {
	Name    string
	Help    string
	Type    string
	Samples []Sample
}

// Counter returns a family of one unlabelled counter.
func Counter(name, help string, v int64) Family {
	return Family{Name: name, Help: help, Type: "counter", Samples: []Sample{{Value: float64(v)}}}
}

// Gauge returns a family of one unlabelled gauge.
func Gauge(name, help string, v float64) Family {
	return Family{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Value: v}}}
}

// Write writes the families in the text format. Families without samples are left out.
func Write(w io.Writer, fams []Family) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		buf = append(buf[:0], "# HELP "...)
		buf = append(buf, f.Name...)
		buf = append(buf, ' ')
		buf = appendEscaped(buf, f.Help, false)
		buf = append(buf, "\n# TYPE "...)
		buf = append(buf, f.Name...)
		buf = append(buf, ' ')
		buf = append(buf, f.Type...)
		buf = append(buf, '\n')
		for _, s := range f.Samples {
			buf = append(buf, f.Name...)
			buf = append(buf, s.Suffix...)
			if len(s.Labels) > 0 {
				buf = append(buf, '{')
				for i, l := range s.Labels {
					if i > 0 {
						buf = append(buf, ',')
					}
					buf = append(buf, l.Name...)
					buf = append(buf, `="`...)
					buf = appendEscaped(buf, l.Value, true)
					buf = append(buf, '"')
				}
				buf = append(buf, '}')
			}
			buf = append(buf, ' ')
			buf = appendValue(buf, s.Value)
			buf = append(buf, '\n')
		}
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendEscaped escapes a help text (backslash and newline) or a label value (also the double quote).
func appendEscaped(dst []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			dst = append(dst, `\\`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '"' && quote:
			dst = append(dst, `\"`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// Handler serves the families that collect returns at each scrape.
func Handler(collect func() []Family) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		_ = Write(w, collect())
	})
}

// engineCounter is one value of eventloop.Metrics: its key in /api/stats and its place in the exposition.
type engineCounter struct {
	key    string // snake_case key in the stats JSON
	family string
	label  *Label
	get    func(m *eventloop.Metrics) int64
}

var transportPolling, transportWebSocket = &Label{"transport", "polling"}, &Label{"transport", "websocket"}

var engineCounters = []engineCounter{
	{"connections", "fastio_connections", nil, func(m *eventloop.Metrics) int64 { return m.Connections.Load() }},
	{"sessions_polling", "fastio_sessions", transportPolling, func(m *eventloop.Metrics) int64 {
		return max(m.Sessions.Load()-m.WebSocketSessions.Load(), 0)
	}},
	{"sessions_websocket", "fastio_sessions", transportWebSocket, func(m *eventloop.Metrics) int64 { return m.WebSocketSessions.Load() }},
	{"handshakes_polling", "fastio_handshakes_total", transportPolling, func(m *eventloop.Metrics) int64 { return m.HandshakesPolling.Load() }},
	{"handshakes_websocket", "fastio_handshakes_total", transportWebSocket, func(m *eventloop.Metrics) int64 { return m.HandshakesWebSocket.Load() }},
	{"upgrades", "fastio_upgrades_total", nil, func(m *eventloop.Metrics) int64 { return m.Upgrades.Load() }},
	{"http_requests", "fastio_http_requests_total", nil, func(m *eventloop.Metrics) int64 { return m.Requests.Load() }},
	{"http_errors", "fastio_http_errors_total", nil, func(m *eventloop.Metrics) int64 { return m.HTTPErrors.Load() }},
	{"bad_requests", "fastio_bad_requests_total", nil, func(m *eventloop.Metrics) int64 { return m.BadRequests.Load() }},
	{"payload_too_large", "fastio_payload_too_large_total", nil, func(m *eventloop.Metrics) int64 { return m.PayloadTooLarge.Load() }},
	{"websocket_protocol_errors", "fastio_websocket_protocol_errors_total", nil, func(m *eventloop.Metrics) int64 { return m.WebSocketProtocolErrors.Load() }},
	{"parse_errors", "fastio_parse_errors_total", nil, func(m *eventloop.Metrics) int64 { return m.ParseErrors.Load() }},
	{"ping_timeouts", "fastio_ping_timeouts_total", nil, func(m *eventloop.Metrics) int64 { return m.PingTimeouts.Load() }},
	{"request_timeouts", "fastio_request_timeouts_total", nil, func(m *eventloop.Metrics) int64 { return m.RequestTimeouts.Load() }},
	{"tcp_connections_refused", "fastio_tcp_connections_refused_total", nil, func(m *eventloop.Metrics) int64 { return m.ConnectionsRefused.Load() }},
	{"packets_in", "fastio_packets_total", &Label{"direction", "in"}, func(m *eventloop.Metrics) int64 { return m.PacketsIn.Load() }},
	{"packets_out", "fastio_packets_total", &Label{"direction", "out"}, func(m *eventloop.Metrics) int64 { return m.PacketsOut.Load() }},
	{"bytes_in", "fastio_bytes_total", &Label{"direction", "in"}, func(m *eventloop.Metrics) int64 { return m.BytesIn.Load() }},
	{"bytes_out", "fastio_bytes_total", &Label{"direction", "out"}, func(m *eventloop.Metrics) int64 { return m.BytesOut.Load() }},
	{"broadcasts", "fastio_broadcasts_total", nil, func(m *eventloop.Metrics) int64 { return m.Broadcasts.Load() }},
	{"broadcast_recipients", "fastio_broadcast_recipients_total", nil, func(m *eventloop.Metrics) int64 { return m.BroadcastRecipients.Load() }},
	{"slow_consumers", "fastio_slow_consumers_total", nil, func(m *eventloop.Metrics) int64 { return m.SlowConsumers.Load() }},
	{"closed_sessions", "fastio_sessions_closed_total", nil, func(m *eventloop.Metrics) int64 { return m.ClosedSessions.Load() }},
}

var engineHelp = map[string]string{
	"fastio_connections":                     "Open TCP connections.",
	"fastio_sessions":                        "Open Engine.IO sessions, by current transport.",
	"fastio_handshakes_total":                "Engine.IO sessions opened, by the transport of the handshake.",
	"fastio_upgrades_total":                  "Polling sessions upgraded to WebSocket.",
	"fastio_http_requests_total":             "HTTP requests parsed.",
	"fastio_http_errors_total":               "HTTP requests answered with a 4xx or 5xx status by the engine.",
	"fastio_bad_requests_total":              "Malformed HTTP requests (400, 431, 501, 505).",
	"fastio_payload_too_large_total":         "Polling bodies and WebSocket messages over maxPayload.",
	"fastio_websocket_protocol_errors_total": "WebSocket connections closed for a framing error (1002, 1007, 1009).",
	"fastio_parse_errors_total":              "Sessions closed because a packet did not parse.",
	"fastio_ping_timeouts_total":             "Sessions closed for a missing pong.",
	"fastio_request_timeouts_total":          "Connections closed because a request did not arrive in time, or stayed idle.",
	"fastio_tcp_connections_refused_total":   "TCP connections answered 503 and closed at once by --max-tcp-connections or --max-tcp-connections-per-ip.",
	"fastio_packets_total":                   "Engine.IO packets received (in) and queued for sending (out; a broadcast counts one per recipient).",
	"fastio_bytes_total":                     "Bytes read from (in) and written to (out) connections, HTTP and WebSocket framing included.",
	"fastio_broadcasts_total":                "Broadcasts fanned out by this node (one per encoded frame handed to the event loops).",
	"fastio_broadcast_recipients_total":      "Sessions the broadcasts were delivered to.",
	"fastio_slow_consumers_total":            "Sessions closed because what waited for them exceeded the backlog bound.",
	"fastio_sessions_closed_total":           "Engine.IO sessions ended.",
}

// FanoutLatency returns the histogram family of the engine's broadcast fan-out latency, in seconds.
func FanoutLatency(h *eventloop.LatencyHistogram) Family {
	cum, sum := h.Snapshot()
	f := Family{Name: "fastio_fanout_latency_seconds", Type: "histogram",
		Help: "Time from a broadcast's hand-over to an event loop until the loop wrote it to all its recipients."}
	for i, b := range eventloop.LatencyBounds {
		f.Samples = append(f.Samples, Sample{Suffix: "_bucket", Labels: []Label{{"le", formatSeconds(b)}}, Value: float64(cum[i])})
	}
	total := float64(cum[len(cum)-1])
	f.Samples = append(f.Samples,
		Sample{Suffix: "_bucket", Labels: []Label{{"le", "+Inf"}}, Value: total},
		Sample{Suffix: "_sum", Value: sum.Seconds()},
		Sample{Suffix: "_count", Value: total})
	return f
}

func formatSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'g', -1, 64) }

// Engine returns the families of the engine's counters.
func Engine(m *eventloop.Metrics) []Family {
	var fams []Family
	for _, c := range engineCounters {
		if len(fams) == 0 || fams[len(fams)-1].Name != c.family {
			typ := "counter"
			if !strings.HasSuffix(c.family, "_total") {
				typ = "gauge"
			}
			fams = append(fams, Family{Name: c.family, Help: engineHelp[c.family], Type: typ})
		}
		s := Sample{Value: float64(c.get(m))}
		if c.label != nil {
			s.Labels = []Label{*c.label}
		}
		fams[len(fams)-1].Samples = append(fams[len(fams)-1].Samples, s)
	}
	return fams
}

// EngineCounters returns the engine's counters by their stats keys (connections, sessions_polling, ...).
func EngineCounters(m *eventloop.Metrics) map[string]int64 {
	out := make(map[string]int64, len(engineCounters))
	for _, c := range engineCounters {
		out[c.key] = c.get(m)
	}
	return out
}

// Sockets returns the family of connected sockets per namespace.
func Sockets(perNamespace map[string]int) Family {
	names := make([]string, 0, len(perNamespace))
	for n := range perNamespace {
		names = append(names, n)
	}
	slices.Sort(names)
	f := Family{Name: "fastio_sockets", Help: "Connected Socket.IO sockets, by namespace.", Type: "gauge"}
	for _, n := range names {
		f.Samples = append(f.Samples, Sample{Labels: []Label{{"namespace", n}}, Value: float64(perNamespace[n])})
	}
	return f
}

var runtimeSamples = []metrics.Sample{
	{Name: "/sched/goroutines:goroutines"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/gc/cycles/total:gc-cycles"},
}

// Process returns the process families: start time, uptime, goroutines, heap and memory from the Go runtime
// (runtime/metrics: no stop-the-world).
func Process(start time.Time, version string) []Family {
	samples := slices.Clone(runtimeSamples)
	metrics.Read(samples)
	value := func(i int) float64 {
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			return float64(samples[i].Value.Uint64())
		case metrics.KindFloat64:
			return samples[i].Value.Float64()
		}
		return math.NaN()
	}
	return []Family{
		{Name: "fastio_build_info", Help: "Version of the running binary.", Type: "gauge",
			Samples: []Sample{{Labels: []Label{{"version", version}}, Value: 1}}},
		Gauge("fastio_start_time_seconds", "Start time of the process, in seconds since the Unix epoch.", float64(start.UnixMilli())/1000),
		Gauge("fastio_uptime_seconds", "Seconds since the process started.", time.Since(start).Seconds()),
		Gauge("go_goroutines", "Goroutines that currently exist.", value(0)),
		Gauge("go_heap_objects_bytes", "Memory occupied by live and not yet swept heap objects.", value(1)),
		Gauge("go_memory_total_bytes", "All memory mapped by the Go runtime.", value(2)),
		Counter("go_gc_cycles_total", "Completed GC cycles.", int64(value(3))),
	}
}
