package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSuitePlan(t *testing.T) {
	plan := suitePlan([]int{1000, 10000}, false)
	ids := map[string]suiteCase{}
	for _, c := range plan {
		if _, dup := ids[c.ID]; dup {
			t.Errorf("duplicate case %s", c.ID)
		}
		ids[c.ID] = c
		if c.Limit <= 0 || len(c.Servers) == 0 || scenarios[c.Scenario] == nil {
			t.Errorf("case %+v", c)
		}
	}
	for _, id := range []string{"idle-15000", "fanout-fixed-1000", "fanout-max-1000", "fanout-fixed-10000", "fanout-max-10000",
		"echo-50", "connect-websocket-2000", "connect-polling-500", "polling-50"} {
		if _, ok := ids[id]; !ok {
			t.Errorf("plan lacks %s", id)
		}
	}
	if c := ids["fanout-fixed-10000"]; len(c.Servers) != 3 || c.Audience != 10000 || c.Mode != "fixed" ||
		!strings.Contains(strings.Join(c.Args, " "), "--delivery-rate 20000") {
		t.Errorf("fanout case %+v", c)
	}
	if c := ids["idle-15000"]; len(c.Servers) != 2 {
		t.Errorf("idle runs against %v, want fastio and node", c.Servers)
	}
	// Every case's arguments parse.
	for _, c := range plan {
		sc := scenarios[c.Scenario]()
		o := defaultOptions()
		if d, ok := sc.(OptionDefaulter); ok {
			d.DefaultOptions(&o)
		}
		fs := flagSetFor(sc, &o)
		if err := fs.Parse(c.Args); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		} else if err := sc.Validate(&o); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
	}
	if _, err := parseAudiences("1000, 10000"); err != nil {
		t.Error(err)
	}
	if _, err := parseAudiences("1000,x"); err == nil {
		t.Error("bad audience accepted")
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syntheticReport is a report with made-up figures: fastio meets some targets and misses others, one Node run
// failed.
func syntheticReport(t *testing.T) *suiteReport {
	plan := suitePlan([]int{1000, 10000}, false)
	rep := &suiteReport{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Plan: plan, Command: "bin/fastio bench suite",
		Machine: machineInfo{CPUModel: "Test CPU", CPUs: 2, MemBytes: 8 << 30, Kernel: "Linux 6.0", GoVersion: "go1.26",
			NodeVersion: "v20.0.0", SocketIO: "4.8.4", Commit: "abc123"}}
	rep.Finished = rep.Started.Add(5*time.Minute + 30*time.Second)
	fan := func(rate, cpu, p99 float64, lost int64) json.RawMessage {
		return mustJSON(t, FanoutResult{Subscribers: 10000, Ready: 10000, DeliveredPerS: rate, CPUPerMsg: cpu,
			Latency: LatencySummary{Count: 100, P50: p99 / 2, P99: p99, Max: p99 * 1.5}, Lost: lost, Expected: 1000000,
			Window: 16, Figures: WindowFigures{ServerCores: 1, GeneratorCores: 0.5, ServerRSS: 100 << 20,
				Bottleneck: "machine CPU: test"}})
	}
	add := func(id, server string, res json.RawMessage) {
		rep.Runs = append(rep.Runs, suiteRun{Case: id, Server: server, Result: res, Command: "bin/fastio bench x " + id,
			ServerCommand: "server " + server, Seconds: 10})
	}
	for _, n := range []string{"1000", "10000"} {
		add("fanout-fixed-"+n, srvFastio, fan(20000, 13, 300, 0))
		add("fanout-fixed-"+n, srvNode, fan(20000, 30, 360, 0))
		add("fanout-fixed-"+n, srvBaseline, fan(20000, 12, 250, 0))
		add("fanout-max-"+n, srvFastio, fan(270000, 4, 700, 0))
		add("fanout-max-"+n, srvNode, fan(22000, 21, 7000, 0))
		add("fanout-max-"+n, srvBaseline, fan(60000, 13, 2000, 0))
	}
	add("idle-15000", srvFastio, mustJSON(t, IdleResult{Conns: 15000, Opened: 15000, ConnectsPerSec: 4700,
		Server: &IdleServer{BytesPerConn: 2600, KiBPerConn: 2.54, CPUPerConnectMicro: 100}}))
	add("idle-15000", srvNode, mustJSON(t, IdleResult{Conns: 15000, Opened: 15000, ConnectsPerSec: 1000,
		Server: &IdleServer{BytesPerConn: 14500, KiBPerConn: 14.16, CPUPerConnectMicro: 600}}))
	add("echo-50", srvFastio, mustJSON(t, AckLoopResult{Opened: 50, AcksPerSec: 47000, CPUPerAck: 11.5,
		RTT: LatencySummary{Count: 10, P50: 1, P99: 5}}))
	rep.Runs = append(rep.Runs, suiteRun{Case: "echo-50", Server: srvNode, Error: "exit status 1", LogTail: "bench echo: boom",
		OtherCores: 0.9, FirstAttempt: "the first attempt failed: it failed (x) while other processes kept 0.90 cores busy"})
	add("connect-websocket-2000", srvFastio, mustJSON(t, ConnectResult{Conns: 2000, Opened: 2000, ConnectsPerSec: 6000, CPUPerConnect: 100}))
	add("connect-websocket-2000", srvNode, mustJSON(t, ConnectResult{Conns: 2000, Opened: 2000, ConnectsPerSec: 1000, CPUPerConnect: 1000}))
	add("connect-polling-500", srvFastio, mustJSON(t, ConnectResult{Conns: 500, Opened: 500, ConnectsPerSec: 1500, CPUPerConnect: 220}))
	add("connect-polling-500", srvNode, mustJSON(t, ConnectResult{Conns: 500, Opened: 500, ConnectsPerSec: 400, CPUPerConnect: 2800}))
	add("polling-50", srvFastio, mustJSON(t, AckLoopResult{Opened: 50, AcksPerSec: 20000, CPUPerAck: 44}))
	return rep
}

func TestTargets(t *testing.T) {
	d := newReportData(syntheticReport(t))
	got := map[string]target{}
	for _, tg := range d.targets() {
		got[tg.What] = tg
	}
	want := map[string]string{
		"Fan-out to 10,000 at 20,000 deliveries/s: server CPU per delivered message ≤ 1.2 × baseline": "met",
		"Fan-out to 10,000 at saturation: server CPU per delivered message ≤ 1.2 × baseline":          "met",
		"Fan-out to 10,000 at 20,000 deliveries/s: latency p99 no worse than baseline's":              "missed",
		"Fan-out to 10,000 at saturation: delivered msgs/s ≥ 3 × Node's or ≥ 0.9 × baseline's":        "met",
		"Fan-out: zero loss (every subscriber gets every message), all fastio runs":                   "met",
		"Idle: ≤ 2 KiB RSS per WebSocket session at 15,000":                                           "missed",
		"Echo: ≤ 12 µs server CPU per ack":                                                            "met",
		"Connects (WebSocket, 2,000): ≥ 5 × Node's rate":                                              "met",
		"Connects (polling then upgrade, 500): ≥ 5 × Node's rate":                                     "missed",
	}
	for what, st := range want {
		tg, ok := got[what]
		if !ok {
			t.Errorf("no target %q; have %v", what, got)
			continue
		}
		if tg.Status != st {
			t.Errorf("%s: %s (%s), want %s", what, tg.Status, tg.Figure, st)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d targets, want %d", len(got), len(want))
	}
	if f := got["Fan-out to 10,000 at 20,000 deliveries/s: server CPU per delivered message ≤ 1.2 × baseline"].Figure; f != "fastio 13.0 µs, baseline 12.0 µs: 1.08× baseline" {
		t.Errorf("figure %q", f)
	}
	if f := got["Connects (polling then upgrade, 500): ≥ 5 × Node's rate"].Figure; f != "fastio 1,500/s, Node 400/s: 3.75×" {
		t.Errorf("figure %q", f)
	}

	// Loss anywhere, or a fastio run that failed, is a miss; a missing baseline makes a comparison "not measured".
	rep := syntheticReport(t)
	for i := range rep.Runs {
		r := &rep.Runs[i]
		if r.Case == "fanout-fixed-1000" && r.Server == srvFastio {
			var f FanoutResult
			_ = json.Unmarshal(r.Result, &f)
			f.Lost = 7
			r.Result = mustJSON(t, f)
		}
		if r.Case == "fanout-max-10000" && r.Server == srvBaseline {
			r.Result, r.Error = nil, "server exited"
		}
	}
	d = newReportData(rep)
	for _, tg := range d.targets() {
		switch tg.What {
		case "Fan-out: zero loss (every subscriber gets every message), all fastio runs":
			if tg.Status != "missed" || !strings.Contains(tg.Figure, "fanout-fixed-1000: 7 lost") {
				t.Errorf("loss: %+v", tg)
			}
		case "Fan-out to 10,000 at saturation: server CPU per delivered message ≤ 1.2 × baseline":
			if tg.Status != "not measured" || !strings.Contains(tg.Figure, "server exited") {
				t.Errorf("no baseline: %+v", tg)
			}
		case "Fan-out to 10,000 at saturation: delivered msgs/s ≥ 3 × Node's or ≥ 0.9 × baseline's":
			if tg.Status != "met" || !strings.Contains(tg.Figure, "12.3× Node's") {
				t.Errorf("saturation without baseline: %+v", tg)
			}
		}
	}
}

func TestMarkdownReport(t *testing.T) {
	d := newReportData(syntheticReport(t))
	var b bytes.Buffer
	charts := d.charts()
	d.markdown(&b, "bench/charts", "bench/charts/results.json", charts)
	md := b.String()
	for _, want := range []string{
		"# Benchmarks\n",
		"Generated by `bin/fastio bench suite` on 2026-01-02 03:04 UTC in 5 min 30 s.",
		"| CPU | Test CPU, 2 cores |",
		"| Node.js | v20.0.0; socket.io 4.8.4, engine.io –, ws – |",
		"## Targets\n\n| target | figure | status |\n| --- | --- | --- |\n",
		"| Fan-out to 10,000 at 20,000 deliveries/s: latency p99 no worse than baseline's | fastio 300 ms, baseline 250 ms | **missed** |",
		"### 10,000 subscribers, 20,000 deliveries/s (2.00 msg/s)",
		"| fastio | 20,000 | 150 ms | 300 ms | 450 ms | 0 | 13.0 µs | 1.00 | 0.500 | 100.0 MiB |",
		"| fastio | 270,000 | 350 ms | 700 ms | 1,050 ms | 0 | 4.00 µs | 1.00 | 0.500 | 100.0 MiB | 16 |",
		"- fastio vs Node: throughput 12.3×, p99 Node/fastio 10.0×, CPU per message Node/fastio 5.25×",
		"- fastio vs baseline: throughput 4.50×, p99 0.35× baseline's, CPU per message 0.31× baseline's",
		"![Fan-out latency p99 against audience size](bench/charts/fanout-latency-p99.svg)",
		"![Server CPU per delivered message against audience size](bench/charts/fanout-cpu-per-message.svg)",
		"## Idle connections (15,000 WebSocket sessions)",
		"| fastio | 15,000 | 4,700 | 0 ms | 0 ms | 2.54 KiB |",
		"- fastio vs Node: connects/s 4.70×, memory per session Node/fastio 5.58×, CPU per connect Node/fastio 6.00×",
		"| Node.js socket.io | failed: exit status 1 |",
		"| polling, then upgrade | Node.js socket.io | 500 of 500 | 400 |",
		"## Who was the bottleneck",
		"## Errors and warnings",
		"- **echo-50 / Node.js socket.io**: failed: exit status 1\n\n  ```\n  bench echo: boom\n  ```",
		"- echo-50 / Node.js socket.io: run twice: the first attempt failed: it failed (x)",
		"- echo-50 / Node.js socket.io: other processes kept 0.900 cores busy during the run",
		"# fanout-max-10000 / baseline (10.0 s)\nserver baseline &\nbin/fastio bench x fanout-max-10000\n",
		"## Method",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(md, "Quick mode") {
		t.Error("quick-mode banner in a full report")
	}
	// Every table row has as many cells as its header.
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "| ") || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "| ---") {
			continue
		}
		cols := strings.Count(lines[i], " | ")
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "|"); j++ {
			if n := strings.Count(strings.ReplaceAll(lines[j], `\|`, ""), " | "); n != cols {
				t.Errorf("line %d has %d cells, header has %d:\n%s\n%s", j+1, n+1, cols+1, lines[i], lines[j])
			}
		}
	}
}

type svgDoc struct {
	Polylines []struct {
		Points string `xml:"points,attr"`
		Dash   string `xml:"stroke-dasharray,attr"`
	} `xml:"polyline"`
	Circles []struct {
		Title string `xml:"title"`
	} `xml:"circle"`
	Texts []string `xml:"text"`
}

func TestCharts(t *testing.T) {
	d := newReportData(syntheticReport(t))
	charts := d.charts()
	if len(charts) != 2 || charts[0].file != "fanout-latency-p99.svg" || charts[1].file != "fanout-cpu-per-message.svg" {
		t.Fatalf("charts %v", charts)
	}
	for _, ch := range charts {
		svg := ch.chart.SVG()
		var doc svgDoc
		if err := xml.Unmarshal(svg, &doc); err != nil {
			t.Fatalf("%s is not well-formed: %v", ch.file, err)
		}
		// 3 servers × 2 modes, each with 2 audiences.
		if len(doc.Polylines) != 6 || len(doc.Circles) != 12 {
			t.Errorf("%s: %d lines, %d points", ch.file, len(doc.Polylines), len(doc.Circles))
		}
		dashed := 0
		for _, p := range doc.Polylines {
			if p.Dash != "" {
				dashed++
			}
			if len(strings.Fields(p.Points)) != 2 {
				t.Errorf("%s: line with points %q", ch.file, p.Points)
			}
		}
		if dashed != 3 {
			t.Errorf("%s: %d dashed lines, want 3 (saturation)", ch.file, dashed)
		}
		texts := strings.Join(doc.Texts, "|")
		for _, want := range []string{"1k", "10k", "fastio, fixed 20k/s", "Node.js, saturation", "baseline, saturation"} {
			if !strings.Contains(texts, want) {
				t.Errorf("%s: no text %q in %q", ch.file, want, texts)
			}
		}
	}
	svg := string(charts[0].chart.SVG())
	if !strings.Contains(svg, "<title>fastio, saturation: 10k subscribers, 700 ms</title>") {
		t.Errorf("latency chart lacks the fastio saturation point")
	}
	// Deterministic output.
	if !bytes.Equal(charts[1].chart.SVG(), charts[1].chart.SVG()) {
		t.Error("SVG output differs between renders")
	}
}

func TestLogTicksAndFormat(t *testing.T) {
	lo, hi := logRange([]float64{1000, 10000})
	ticks := logTicks(lo, hi)
	if len(ticks) == 0 || ticks[0] > 1000 || ticks[len(ticks)-1] < 10000 {
		t.Errorf("ticks %v for [%v, %v]", ticks, lo, hi)
	}
	lo, hi = logRange([]float64{5})
	if hi-lo < 0.6 || math.Pow(10, lo) > 5 || math.Pow(10, hi) < 5 {
		t.Errorf("single value range [%v, %v]", lo, hi)
	}
	for v, want := range map[float64]string{0.5: "0.5", 2: "2", 1000: "1k", 20000: "20k", 1.5e6: "1.5M"} {
		if got := fmtTick(v); got != want {
			t.Errorf("fmtTick(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{465479.4: "465,479", 12.345: "12.3", 1.2345: "1.23", 0.12345: "0.123", 0: "0",
		-1234: "-1,234", 123.4: "123"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
	if fmtRatio(3, 2) != "1.50×" || fmtRatio(30, 2) != "15.0×" || fmtRatio(1, 0) != "–" {
		t.Error("fmtRatio")
	}
}

// TestSuiteQuickBaseline runs the suite for real, in quick mode, against the baseline server only, with this test
// binary as the fastio binary (TestMain serves `bench ...`): servers are started and stopped, the bench commands
// run, and the report, the charts and the raw results are written; --render gives the same report.
func TestSuiteQuickBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes for several seconds")
	}
	t.Setenv(testCLIEnv, "1")
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "BENCH.md")
	var stdout, stderr syncBuffer
	args := []string{"--quick", "--servers", "baseline", "--only", "fanout", "--audiences", "20", "--fastio", exe,
		"--repo", dir, "--out", out, "--charts", filepath.Join(dir, "charts"), "--limit", "2m"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := runSuite(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("suite: %v\n%s", err, stderr.String())
	}
	t.Logf("suite output:\n%s", stderr.String())
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep suiteReport
	b, err := os.ReadFile(filepath.Join(dir, "charts", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 || !rep.Quick {
		t.Fatalf("runs %+v", rep.Runs)
	}
	for _, r := range rep.Runs {
		var f FanoutResult
		if r.Error != "" || r.Server != srvBaseline || json.Unmarshal(r.Result, &f) != nil {
			t.Errorf("run %s: error %q log %s", r.Case, r.Error, r.LogTail)
			continue
		}
		if f.Ready != 20 || f.Lost != 0 || f.Delivered != f.Expected || f.Published == 0 || f.CPUPerMsg <= 0 {
			t.Errorf("%s: ready %d lost %d delivered %d of %d, %v µs/msg", r.Case, f.Ready, f.Lost, f.Delivered, f.Expected, f.CPUPerMsg)
		}
		if !strings.Contains(r.ServerCommand, "bench baseline-server --port") || !strings.Contains(r.Command, "--server-pid") {
			t.Errorf("commands %q / %q", r.ServerCommand, r.Command)
		}
	}
	for _, want := range []string{"Quick mode", "### 20 subscribers, saturation", "| baseline | ", "## Commands"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"fanout-latency-p99.svg", "fanout-cpu-per-message.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, "charts", f))
		if err != nil || xml.Unmarshal(b, new(svgDoc)) != nil {
			t.Errorf("chart %s: %v", f, err)
		}
	}
	// Rendering again from the raw results gives the same report.
	out2 := filepath.Join(dir, "again.md")
	if err := runSuite(ctx, []string{"--render", filepath.Join(dir, "charts", "results.json"), "--repo", dir, "--out", out2,
		"--charts", filepath.Join(dir, "charts")}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	md2, _ := os.ReadFile(out2)
	if !bytes.Equal(md, md2) {
		t.Error("--render differs from the report of the run")
	}
}
