package bench

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestParseSourceIPs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "127.0.0.1", want: []string{"127.0.0.1"}},
		{in: "127.0.0.1-127.0.0.3", want: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}},
		{in: "127.0.0.1-3", want: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}},
		{in: "127.0.0.254-127.0.1.1", want: []string{"127.0.0.254", "127.0.0.255", "127.0.1.0", "127.0.1.1"}},
		{in: " 127.0.0.5 , 127.0.0.1-2 ,127.0.0.2", want: []string{"127.0.0.5", "127.0.0.1", "127.0.0.2"}},
		{in: "127.0.0.4-127.0.0.4", want: []string{"127.0.0.4"}},
		{in: "::1", want: []string{"::1"}},
		{in: "::ffff:127.0.0.1", want: []string{"127.0.0.1"}},
		{in: "127.0.0.3-127.0.0.1", wantErr: true},
		{in: "127.0.0.3-1", wantErr: true},
		{in: "127.0.0.1-256", wantErr: true},
		{in: "127.0.0.1-", wantErr: true},
		{in: "::1-::5", wantErr: true},
		{in: "127.0.0.1-::5", wantErr: true},
		{in: "localhost", wantErr: true},
		{in: "127.0.0", wantErr: true},
		{in: "", wantErr: true},
		{in: " , ", wantErr: true},
		{in: "10.0.0.0-10.0.255.255", wantErr: true}, // too many
	}
	for _, tt := range tests {
		got, err := ParseSourceIPs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSourceIPs(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		var gs []string
		for _, a := range got {
			gs = append(gs, a.String())
		}
		if !slices.Equal(gs, tt.want) {
			t.Errorf("ParseSourceIPs(%q) = %v, want %v", tt.in, gs, tt.want)
		}
	}
}

func TestParseOpen(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    OpenInfo
		wantErr bool
	}{
		{name: "node server", in: `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
			want: OpenInfo{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second,
				PingTimeout: 20 * time.Second, MaxPayload: 1000000}},
		{name: "websocket, no upgrades", in: `0{"sid":"x","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":100}`,
			want: OpenInfo{SID: "x", Upgrades: []string{}, PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 100}},
		{name: "extra fields and spaces", in: `0 { "sid" : "y", "upgrades":[], "pingInterval":1, "pingTimeout":1, "maxPayload":1, "x":true }`,
			want: OpenInfo{SID: "y", Upgrades: []string{}, PingInterval: time.Millisecond, PingTimeout: time.Millisecond, MaxPayload: 1}},
		{name: "not open", in: `4{"sid":"x"}`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
		{name: "type only", in: `0`, wantErr: true},
		{name: "not an object", in: `0[1,2]`, wantErr: true},
		{name: "bad json", in: `0{"sid":"x",`, wantErr: true},
		{name: "no sid", in: `0{"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
		{name: "empty sid", in: `0{"sid":"","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
		{name: "numeric sid", in: `0{"sid":5,"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
		{name: "no upgrades", in: `0{"sid":"x","pingInterval":1,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
		{name: "zero interval", in: `0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
		{name: "string timeout", in: `0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":"1","maxPayload":1}`, wantErr: true},
		{name: "no maxPayload (v3)", in: `0{"sid":"x","upgrades":[],"pingInterval":1,"pingTimeout":1}`, wantErr: true},
		{name: "fractional interval", in: `0{"sid":"x","upgrades":[],"pingInterval":1.5,"pingTimeout":1,"maxPayload":1}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOpen([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.SID != tt.want.SID || !slices.Equal(got.Upgrades, tt.want.Upgrades) || got.PingInterval != tt.want.PingInterval ||
				got.PingTimeout != tt.want.PingTimeout || got.MaxPayload != tt.want.MaxPayload {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSIOConnect(t *testing.T) {
	enc := []struct {
		ns, auth, want string
	}{
		{"/", "", "40"},
		{"", "", "40"},
		{"/", `{"token":"a"}`, `40{"token":"a"}`},
		{"/admin", "", "40/admin"},
		{"/admin", `{"t":1}`, `40/admin,{"t":1}`},
	}
	for _, e := range enc {
		if got := string(appendSIOConnect(nil, e.ns, []byte(e.auth))); got != e.want {
			t.Errorf("appendSIOConnect(%q, %q) = %q, want %q", e.ns, e.auth, got, e.want)
		}
	}
	dec := []struct {
		in, ns  string
		sid     string
		ok      bool
		wantErr bool
	}{
		{in: `0{"sid":"abc"}`, ns: "/", sid: "abc", ok: true},
		{in: `0/admin,{"sid":"abc"}`, ns: "/admin", sid: "abc", ok: true},
		{in: `0/admin,{"sid":"abc"}`, ns: "/"}, // another namespace
		{in: `0{"sid":"abc"}`, ns: "/admin"},   // another namespace
		{in: `2["hello"]`, ns: "/"},            // an event
		{in: `4{"message":"Not authorized"}`, ns: "/", ok: true, wantErr: true},
		{in: `0{}`, ns: "/", ok: true, wantErr: true},
		{in: `0`, ns: "/", ok: true, wantErr: true},
		{in: ``, ns: "/", wantErr: true},
	}
	for _, d := range dec {
		sid, ok, err := parseSIOConnectReply([]byte(d.in), d.ns)
		if sid != d.sid || ok != d.ok || (err != nil) != d.wantErr {
			t.Errorf("parseSIOConnectReply(%q, %q) = %q, %v, %v", d.in, d.ns, sid, ok, err)
		}
	}
	if _, _, err := parseSIOConnectReply([]byte(`4{"message":"no"}`), "/"); ErrorKind(stepError("sio", err)) != "sio_connect_error" {
		t.Errorf("CONNECT_ERROR kind = %q", ErrorKind(stepError("sio", err)))
	}
}

func TestBuildURL(t *testing.T) {
	tests := []struct {
		base, path string
		eio        bool
		want       string
		wantErr    bool
	}{
		{base: "ws://127.0.0.1:3000", want: "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"},
		{base: "ws://127.0.0.1:3000", eio: true, want: "ws://127.0.0.1:3000/engine.io/?EIO=4&transport=websocket"},
		{base: "http://127.0.0.1:3000/", want: "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"},
		{base: "127.0.0.1:3000", path: "custom", want: "ws://127.0.0.1:3000/custom?EIO=4&transport=websocket"},
		{base: "ws://localhost:3000/x/?token=1", want: "ws://127.0.0.1:3000/x/?EIO=4&token=1&transport=websocket"},
		{base: "ws://127.0.0.1", want: "ws://127.0.0.1:80/socket.io/?EIO=4&transport=websocket"},
		{base: "wss://127.0.0.1:3000", want: "wss://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"},
		{base: "https://example.com", want: "wss://example.com:443/socket.io/?EIO=4&transport=websocket"},
		{base: "ftp://127.0.0.1:3000", wantErr: true},
		{base: "ws://:3000", wantErr: true},
	}
	for _, tt := range tests {
		u, err := buildURL(tt.base, tt.path, tt.eio)
		if (err != nil) != tt.wantErr {
			t.Errorf("buildURL(%q) err = %v", tt.base, err)
			continue
		}
		if err == nil && u.String() != tt.want {
			t.Errorf("buildURL(%q, %q) = %s, want %s", tt.base, tt.path, u, tt.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	check := func(h *Histogram) {
		t.Helper()
		if h.Count() != 1000 || h.Min() != time.Millisecond || h.Max() != time.Second {
			t.Fatalf("count/min/max = %d %v %v", h.Count(), h.Min(), h.Max())
		}
		for _, q := range []struct {
			q    float64
			want time.Duration
		}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0, time.Millisecond}, {1, time.Second}} {
			got := h.Quantile(q.q)
			if d := float64(got-q.want) / float64(q.want); d > 0.07 || d < -0.07 {
				t.Errorf("q%.2f = %v, want about %v", q.q, got, q.want)
			}
		}
		if m := h.Mean(); m != 500500*time.Microsecond {
			t.Errorf("mean = %v", m)
		}
	}
	check(&h)
	b, err := json.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	check(&back)
	var a, c Histogram
	for i := 1; i <= 1000; i++ {
		if i%2 == 0 {
			a.Record(time.Duration(i) * time.Millisecond)
		} else {
			c.Record(time.Duration(i) * time.Millisecond)
		}
	}
	a.Merge(&c)
	check(&a)
	if err := json.Unmarshal([]byte(`{"n":2,"b":[[3,1]]}`), &back); err == nil {
		t.Error("inconsistent counts accepted")
	}
	if err := json.Unmarshal([]byte(`{"n":1,"b":[[99999,1]]}`), &back); err == nil {
		t.Error("bucket out of range accepted")
	}
	// Bucket bounds tile the number line.
	for i := 1; i < histBuckets; i++ {
		if histLow(i) != histHigh(i-1)+1 {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, histLow(i), histHigh(i-1))
		}
		if histIndex(histLow(i)) != i || histIndex(histHigh(i)) != i {
			t.Fatalf("bucket %d bounds do not map back", i)
		}
	}
}
