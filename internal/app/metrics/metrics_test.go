package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fastio/fastio/eventloop"
)

var (
	nameRe   = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRe  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	sampleRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$`)
)

// parse checks text against the exposition format (0.0.4) and returns the samples as "name{labels}" -> value.
func parse(t *testing.T, text string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	types := map[string]string{}
	helped := map[string]bool{}
	current := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, _, _ := strings.Cut(line[7:], " ")
			if !nameRe.MatchString(name) || helped[name] {
				t.Errorf("line %d: bad or repeated HELP %q", n, line)
			}
			helped[name] = true
			current = name
		case strings.HasPrefix(line, "# TYPE "):
			parts := strings.Fields(line[7:])
			if len(parts) != 2 || parts[0] != current || types[parts[0]] != "" {
				t.Errorf("line %d: TYPE %q not right after its HELP", n, line)
				continue
			}
			if parts[1] != "counter" && parts[1] != "gauge" {
				t.Errorf("line %d: type %q", n, parts[1])
			}
			types[parts[0]] = parts[1]
		case line == "" || strings.HasPrefix(line, "#"):
			t.Errorf("line %d: unexpected %q", n, line)
		default:
			m := sampleRe.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("line %d: not a sample: %q", n, line)
				continue
			}
			if m[1] != current || types[current] == "" {
				t.Errorf("line %d: sample of %s outside its family %s", n, m[1], current)
			}
			if types[current] == "counter" && !strings.HasSuffix(m[1], "_total") {
				t.Errorf("line %d: counter %s without _total", n, m[1])
			}
			if m[2] != "" {
				checkLabels(t, n, m[2])
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil && m[3] != "+Inf" && m[3] != "-Inf" && m[3] != "NaN" {
				t.Errorf("line %d: value %q", n, m[3])
			}
			key := m[1] + m[2]
			if _, dup := samples[key]; dup {
				t.Errorf("line %d: duplicate sample %s", n, key)
			}
			samples[key] = v
		}
	}
	if !strings.HasSuffix(text, "\n") {
		t.Error("no final newline")
	}
	return samples
}

// checkLabels parses {a="x",b="y\"z"} by hand: names, quoting and escapes.
func checkLabels(t *testing.T, n int, s string) {
	t.Helper()
	s = s[1 : len(s)-1]
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || !labelRe.MatchString(s[:eq]) || len(s) < eq+2 || s[eq+1] != '"' {
			t.Errorf("line %d: bad label in %q", n, s)
			return
		}
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
				if i >= len(s) || !strings.ContainsRune(`\"n`, rune(s[i])) {
					t.Errorf("line %d: bad escape in %q", n, s)
					return
				}
			}
			if s[i] == '\n' {
				t.Errorf("line %d: raw newline", n)
			}
		}
		if i >= len(s) {
			t.Errorf("line %d: unterminated label value in %q", n, s)
			return
		}
		s = s[i+1:]
		if s != "" {
			if s[0] != ',' {
				t.Errorf("line %d: want a comma in %q", n, s)
				return
			}
			s = s[1:]
		}
	}
}

func TestExpositionFormat(t *testing.T) {
	var m eventloop.Metrics
	m.Connections.Store(7)
	m.Sessions.Store(5)
	m.WebSocketSessions.Store(3)
	m.HandshakesPolling.Store(11)
	m.SlowConsumers.Store(2)
	fams := Engine(&m)
	fams = append(fams, Sockets(map[string]int{"/": 4, "/chat": 1, `/we"ird\name` + "\n": 2}))
	fams = append(fams, Process(time.Now().Add(-time.Minute), "v1.2.3")...)
	fams = append(fams, Family{Name: "empty_total", Help: "no samples", Type: "counter"})
	fams = append(fams, Gauge("special", "help with \\ and\nnewline", math.Inf(1)))
	var b bytes.Buffer
	if err := Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	got := parse(t, b.String())
	for key, want := range map[string]float64{
		`fastio_connections`:                           7,
		`fastio_sessions{transport="polling"}`:         2,
		`fastio_sessions{transport="websocket"}`:       3,
		`fastio_handshakes_total{transport="polling"}`: 11,
		`fastio_slow_consumers_total`:                  2,
		`fastio_sockets{namespace="/"}`:                4,
		`fastio_sockets{namespace="/chat"}`:            1,
		`fastio_sockets{namespace="/we\"ird\\name\n"}`: 2,
		`fastio_build_info{version="v1.2.3"}`:          1,
		`special`:                                      math.Inf(1),
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if up := got["fastio_uptime_seconds"]; up < 59 || up > 120 {
		t.Errorf("uptime %v", up)
	}
	if got["go_goroutines"] < 1 {
		t.Errorf("goroutines %v", got["go_goroutines"])
	}
	if strings.Contains(b.String(), "empty_total") {
		t.Error("a family without samples was written")
	}
	if !strings.Contains(b.String(), `# HELP special help with \\ and\nnewline`) {
		t.Errorf("help not escaped:\n%s", b.String())
	}
}

// TestEveryEngineCounterIsExported fails when eventloop.Metrics gains a counter that the exposition and the
// stats do not show.
func TestEveryEngineCounterIsExported(t *testing.T) {
	var m eventloop.Metrics
	v := reflect.ValueOf(&m).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).Addr().Interface().(*atomic.Int64).Store(int64(1000 + i*10))
	}
	m.Sessions.Store(5000) // more than the WebSocket sessions
	counters := EngineCounters(&m)
	var b bytes.Buffer
	_ = Write(&b, Engine(&m))
	text := b.String()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		if name == "Sessions" { // shown as polling = Sessions - WebSocketSessions
			continue
		}
		want := int64(1000 + i*10)
		found := false
		for _, c := range counters {
			found = found || c == want
		}
		if !found || !strings.Contains(text, fmt.Sprintf(" %d\n", want)) {
			t.Errorf("eventloop.Metrics.%s is not exported (stats %v)", name, counters)
		}
	}
	if p := counters["sessions_polling"]; p != m.Sessions.Load()-m.WebSocketSessions.Load() {
		t.Errorf("polling sessions %d", p)
	}
}

func TestHandler(t *testing.T) {
	h := Handler(func() []Family { return []Family{Counter("x_total", "x", 3)} })
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != ContentType || rec.Body.String() != "# HELP x_total x\n# TYPE x_total counter\nx_total 3\n" {
		t.Errorf("%d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestValues(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 3: "3", -2: "-2", 0.25: "0.25", 1e20: "1e+20", math.NaN(): "NaN", math.Inf(-1): "-Inf"} {
		if got := string(appendValue(nil, v)); got != want {
			t.Errorf("%v: %q, want %q", v, got, want)
		}
	}
}

func TestFanoutLatencyHistogram(t *testing.T) {
	var h eventloop.LatencyHistogram
	h.Observe(30 * time.Microsecond)
	h.Observe(3 * time.Millisecond)
	h.Observe(time.Second)
	var b bytes.Buffer
	if err := Write(&b, []Family{FanoutLatency(&h)}); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"# TYPE fastio_fanout_latency_seconds histogram\n",
		`fastio_fanout_latency_seconds_bucket{le="5e-05"} 1` + "\n",
		`fastio_fanout_latency_seconds_bucket{le="0.005"} 2` + "\n",
		`fastio_fanout_latency_seconds_bucket{le="+Inf"} 3` + "\n",
		"fastio_fanout_latency_seconds_count 3\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}
