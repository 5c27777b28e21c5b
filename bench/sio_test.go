package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEventPackets(t *testing.T) {
	if got := string(appendEventPacket(nil, -1, "broadcast", []byte(`"bench"`), []byte(`{"a":1}`))); got != `2["broadcast","bench",{"a":1}]` {
		t.Errorf("event: %s", got)
	}
	if got := string(appendEventPacket([]byte("4"), 17, "message-with-ack", []byte(`{"p":"x"}`))); got != `4217["message-with-ack",{"p":"x"}]` {
		t.Errorf("event with ack: %s", got)
	}
	if got := string(appendEventPacket(nil, 0, `q"uote`)); got != `20["q\"uote"]` {
		t.Errorf("quoted name: %s", got)
	}
	for p, want := range map[string]int64{`317[{"p":"x"}]`: 17, `30[]`: 0, `3123456789[1,2]`: 123456789} {
		if id, ok := parseAckID([]byte(p)); !ok || id != want {
			t.Errorf("parseAckID(%s) = %d %v, want %d", p, id, ok, want)
		}
	}
	for _, p := range []string{``, `3`, `3[]`, `31`, `2["x"]`, `3x[1]`, `312345678901234567890[1]`} {
		if id, ok := parseAckID([]byte(p)); ok {
			t.Errorf("parseAckID(%q) = %d, want not an ack", p, id)
		}
	}
	if !isEvent([]byte(`2["auth",{}]`), "auth") || isEvent([]byte(`2["author",{}]`), "auth") ||
		isEvent([]byte(`3["auth"]`), "auth") || isEvent([]byte(`2["au`), "auth") || isEvent([]byte(`2/x,["auth"]`), "auth") {
		t.Error("isEvent")
	}
}

func TestFanoutMessage(t *testing.T) {
	obj := appendFanoutObject(nil, 1732590000123456789, 42, fanoutPadSize)
	if len(obj) != fanoutPadSize {
		t.Errorf("object is %d bytes, want %d: %s", len(obj), fanoutPadSize, obj)
	}
	var v struct {
		T   int64  `json:"t"`
		Seq int64  `json:"seq"`
		Pad string `json:"pad"`
	}
	if err := json.Unmarshal(obj, &v); err != nil || v.T != 1732590000123456789 || v.Seq != 42 || v.Pad == "" {
		t.Errorf("object %s: %+v %v", obj, v, err)
	}
	// Long seq numbers keep the object near the size; an object that cannot be padded is just not padded.
	if n := len(appendFanoutObject(nil, 1732590000123456789, 123456789012, fanoutPadSize)); n != fanoutPadSize {
		t.Errorf("long seq: %d bytes", n)
	}
	if short := appendFanoutObject(nil, 1, 2, 10); !bytes.HasSuffix(short, []byte(`"pad":""}`)) {
		t.Errorf("short: %s", short)
	}

	pub := appendFanoutPublish(nil, "bench", 5, 7)
	if !bytes.HasPrefix(pub, []byte(`2["broadcast","bench",{"t":5,"seq":7,"pad":"`)) || !bytes.HasSuffix(pub, []byte(`"}]`)) {
		t.Errorf("publish packet %s", pub)
	}
	// What subscribers receive: the room argument is gone.
	recv := []byte(`2["broadcast",` + string(appendFanoutObject(nil, 1732590000123456789, 99, 100)) + `]`)
	if ts, seq, ok := parseFanout(recv); !ok || ts != 1732590000123456789 || seq != 99 {
		t.Errorf("parseFanout: %d %d %v", ts, seq, ok)
	}
	// A JavaScript server prints t rounded to a double, keys may come in another order, with spaces.
	if ts, seq, ok := parseFanout([]byte(`2["broadcast",{"seq": 3,"pad":"xx","t":1732590000123456800}]`)); !ok ||
		ts != 1732590000123456800 || seq != 3 {
		t.Errorf("reordered: %d %d %v", ts, seq, ok)
	}
	for _, p := range []string{`2["auth",{"t":1,"seq":2}]`, `2["broadcast",{"t":1}]`, `2["broadcast",{"seq":1}]`,
		`2["broadcast",{"t":-1,"seq":1}]`, `2["broadcast",{"t":99999999999999999999,"seq":1}]`} {
		if _, _, ok := parseFanout([]byte(p)); ok {
			t.Errorf("parseFanout(%s) accepted", p)
		}
	}
}

func TestSplitPayload(t *testing.T) {
	got := splitPayload([]byte("40{\"sid\":\"a\"}\x1e42[\"auth\",{}]\x1e2"))
	if len(got) != 3 || string(got[0]) != `40{"sid":"a"}` || string(got[1]) != `42["auth",{}]` || string(got[2]) != "2" {
		t.Errorf("split: %q", got)
	}
	if splitPayload(nil) != nil {
		t.Error("empty payload has packets")
	}
}

func TestEchoPayload(t *testing.T) {
	p := echoPayload(16)
	var v struct{ P string }
	if err := json.Unmarshal(p, &v); err != nil || len(v.P) != 16 || !strings.HasPrefix(v.P, "abc") {
		t.Errorf("%s %v", p, err)
	}
}

func TestPacer(t *testing.T) {
	start := time.Unix(1000, 0)
	p := Pacer{Start: start, Rate: 20}
	cases := []struct {
		at   time.Duration
		want int64
	}{{-time.Millisecond, 0}, {0, 1}, {49 * time.Millisecond, 1}, {50 * time.Millisecond, 2}, {time.Second, 21},
		{10*time.Second + time.Millisecond, 201}}
	for _, c := range cases {
		if got := p.Due(start.Add(c.at)); got != c.want {
			t.Errorf("Due(+%v) = %d, want %d", c.at, got, c.want)
		}
	}
	for n, want := range map[int64]time.Duration{0: 0, 1: 50 * time.Millisecond, 20: time.Second} {
		if got := p.At(n).Sub(start); got != want {
			t.Errorf("At(%d) = +%v, want +%v", n, got, want)
		}
	}
	// A slow rate: 2 per second over a 6 s window is 12 messages (+1 at the start).
	slow := Pacer{Start: start, Rate: 2}
	if got := slow.Due(start.Add(6 * time.Second)); got != 13 {
		t.Errorf("slow Due = %d", got)
	}
}

func TestWindowOpen(t *testing.T) {
	cases := []struct {
		published, completed int64
		window               int
		want                 bool
	}{{0, -1, 4, true}, {3, -1, 4, true}, {4, -1, 4, false}, {4, 0, 4, true}, {5, 0, 4, false}, {10, 9, 1, true},
		{11, 9, 1, false}, {0, -1, 1, true}}
	for _, c := range cases {
		if got := windowOpen(c.published, c.completed, c.window); got != c.want {
			t.Errorf("windowOpen(%d, %d, %d) = %v", c.published, c.completed, c.window, got)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	for _, s := range []int64{0, 1, 2, 5, 6, 4, 6, 7} { // 3 and 4 skipped, then 4 late and 6 twice
		tr.add(s)
	}
	if tr.received != 8 || tr.next != 8 || tr.skipped != 2 || tr.outOfOrder != 2 {
		t.Errorf("tracker %+v", tr)
	}
	if got := tr.lost(8); got != 2 {
		t.Errorf("lost(8) = %d, want 2", got)
	}
	if got := tr.lost(10); got != 4 { // and the tail 8, 9 never came
		t.Errorf("lost(10) = %d, want 4", got)
	}
	var clean seqTracker
	for s := range int64(100) {
		if !clean.add(s) {
			t.Fatal("in-order seq reported as old")
		}
	}
	if clean.lost(100) != 0 || clean.outOfOrder != 0 {
		t.Errorf("clean %+v", clean)
	}
	var none seqTracker
	if none.lost(5) != 5 {
		t.Error("a subscriber that got nothing lost everything")
	}
}

func TestCompletion(t *testing.T) {
	c := newCompletion(5, 3) // ring rounded up to 8
	if len(c.ring) != 8 || c.done.Load() != -1 {
		t.Fatalf("ring %d done %d", len(c.ring), c.done.Load())
	}
	// Three subscribers, each in order, interleaved.
	c.add(0)
	c.add(0)
	c.add(1)
	if c.done.Load() != -1 {
		t.Error("complete too early")
	}
	c.add(0)
	if c.done.Load() != 0 {
		t.Errorf("done %d, want 0", c.done.Load())
	}
	select {
	case <-c.bumps:
	default:
		t.Error("no bump")
	}
	c.add(1)
	c.add(1)
	if c.done.Load() != 1 {
		t.Errorf("done %d, want 1", c.done.Load())
	}
	// Slots are reused once complete: seq 8 uses slot 0 again.
	for s := int64(2); s <= 8; s++ {
		for range 3 {
			c.add(s)
		}
	}
	if c.done.Load() != 8 {
		t.Errorf("done %d, want 8", c.done.Load())
	}
}
