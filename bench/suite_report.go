package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Rendering of the suite's report (BENCHMARKS.md) and charts from a suiteReport.

var serverTitle = map[string]string{srvFastio: "fastio", srvFastioInline: "fastio, inline handlers", srvNode: "Node.js socket.io", srvBaseline: "baseline"}

// chartName is the server's name in chart legends.
var chartName = map[string]string{srvFastio: "fastio", srvNode: "Node.js", srvBaseline: "baseline"}

var serverColor = map[string]string{srvFastio: "#1f6fd1", srvNode: "#2e9e44", srvBaseline: "#777777"}

// reportData indexes a report's runs.
type reportData struct {
	rep  *suiteReport
	runs map[string]map[string]*suiteRun // case id -> server -> run
	plan []suiteCase
}

func newReportData(rep *suiteReport) *reportData {
	d := &reportData{rep: rep, runs: map[string]map[string]*suiteRun{}, plan: rep.Plan}
	for i := range rep.Runs {
		r := &rep.Runs[i]
		if d.runs[r.Case] == nil {
			d.runs[r.Case] = map[string]*suiteRun{}
		}
		d.runs[r.Case][r.Server] = r
	}
	return d
}

func (d *reportData) run(id, server string) *suiteRun {
	if m := d.runs[id]; m != nil {
		return m[server]
	}
	return nil
}

// result decodes the JSON result of a run into v; false when the run is missing or has no result.
func (d *reportData) result(id, server string, v any) bool {
	r := d.run(id, server)
	if r == nil || r.Result == nil {
		return false
	}
	return json.Unmarshal(r.Result, v) == nil
}

func (d *reportData) fanout(id, server string) *FanoutResult {
	var r FanoutResult
	if !d.result(id, server, &r) {
		return nil
	}
	return &r
}

func (d *reportData) cases(scenario string) []suiteCase {
	var out []suiteCase
	for _, c := range d.plan {
		if c.Scenario == scenario {
			out = append(out, c)
		}
	}
	return out
}

func (d *reportData) findCase(pred func(c suiteCase) bool) (suiteCase, bool) {
	for _, c := range d.plan {
		if pred(c) {
			return c, true
		}
	}
	return suiteCase{}, false
}

// Number formatting for the report.

// fmtCount prints an integer-ish figure with thousands separators: 465,479.
func fmtCount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtNum prints a measurement with about three significant digits.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmtCount(v)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// fmtRatio prints a ratio a/b as "1.34×", or "–" when it cannot be computed.
func fmtRatio(a, b float64) string {
	if a <= 0 || b <= 0 || math.IsNaN(a/b) {
		return "–"
	}
	r := a / b
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

type mdTable struct {
	head []string
	rows [][]string
	text map[int]bool // left-aligned columns besides the first
}

func (t *mdTable) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *mdTable) write(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.head, " | "))
	seps := make([]string, len(t.head))
	for i := range seps {
		seps[i] = "---"
		if i > 0 && !t.text[i] {
			seps[i] = "---:"
		}
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

// runStatus explains a run that produced no usable figures.
func runStatus(r *suiteRun) string {
	switch {
	case r == nil:
		return "not run"
	case r.ServerExit != "":
		return "server died: " + oneLine(r.ServerExit, 200)
	case r.Error != "":
		return "failed: " + oneLine(r.Error, 200)
	}
	return ""
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

// target is one line of the targets table.
type target struct {
	What   string
	Figure string
	Status string // met, missed, not measured
}

func (t target) statusCell() string {
	switch t.Status {
	case "met":
		return "met"
	case "missed":
		return "**missed**"
	}
	return "**not measured**"
}

// targets evaluates the lead engineer's targets against the report.
func (d *reportData) targets() []target {
	var out []target
	big := 0
	for _, c := range d.cases("fanout") {
		big = max(big, c.Audience)
	}
	fixed, _ := d.findCase(func(c suiteCase) bool { return c.Scenario == "fanout" && c.Audience == big && c.Mode == "fixed" })
	sat, _ := d.findCase(func(c suiteCase) bool { return c.Scenario == "fanout" && c.Audience == big && c.Mode == "max" })
	aud := fmtCount(float64(big))
	notMeasured := func(what string, runs ...*suiteRun) target {
		var why []string
		for _, r := range runs {
			if s := runStatus(r); s != "" {
				why = append(why, s)
			} else if r != nil && r.Result == nil {
				why = append(why, "no result")
			}
		}
		if len(why) == 0 {
			why = append(why, "no figures")
		}
		return target{What: what, Figure: strings.Join(why, "; "), Status: "not measured"}
	}
	for _, c := range []suiteCase{fixed, sat} {
		if c.ID == "" {
			continue
		}
		mode := fmt.Sprintf("at %s deliveries/s", fmtCount(fanoutDeliveryRate))
		if c.Mode == "max" {
			mode = "at saturation"
		}
		what := fmt.Sprintf("Fan-out to %s %s: server CPU per delivered message ≤ 1.2 × baseline", aud, mode)
		f, b := d.fanout(c.ID, srvFastio), d.fanout(c.ID, srvBaseline)
		if f == nil || b == nil || f.CPUPerMsg <= 0 || b.CPUPerMsg <= 0 {
			out = append(out, notMeasured(what, d.run(c.ID, srvFastio), d.run(c.ID, srvBaseline)))
			continue
		}
		st := "missed"
		if f.CPUPerMsg <= 1.2*b.CPUPerMsg {
			st = "met"
		}
		out = append(out, target{what, fmt.Sprintf("fastio %s µs, baseline %s µs: %s baseline", fmtNum(f.CPUPerMsg),
			fmtNum(b.CPUPerMsg), fmtRatio(f.CPUPerMsg, b.CPUPerMsg)), st})
	}
	if fixed.ID != "" {
		what := fmt.Sprintf("Fan-out to %s at %s deliveries/s: latency p99 no worse than baseline's", aud, fmtCount(fanoutDeliveryRate))
		f, b := d.fanout(fixed.ID, srvFastio), d.fanout(fixed.ID, srvBaseline)
		if f == nil || b == nil || f.Latency.Count == 0 || b.Latency.Count == 0 {
			out = append(out, notMeasured(what, d.run(fixed.ID, srvFastio), d.run(fixed.ID, srvBaseline)))
		} else {
			st := "missed"
			if f.Latency.P99 <= b.Latency.P99 {
				st = "met"
			}
			out = append(out, target{what, fmt.Sprintf("fastio %s ms, baseline %s ms", fmtNum(f.Latency.P99), fmtNum(b.Latency.P99)), st})
		}
	}
	if sat.ID != "" {
		what := fmt.Sprintf("Fan-out to %s at saturation: delivered msgs/s ≥ 3 × Node's or ≥ 0.9 × baseline's", aud)
		f, n, b := d.fanout(sat.ID, srvFastio), d.fanout(sat.ID, srvNode), d.fanout(sat.ID, srvBaseline)
		if f == nil || (n == nil && b == nil) {
			out = append(out, notMeasured(what, d.run(sat.ID, srvFastio), d.run(sat.ID, srvNode), d.run(sat.ID, srvBaseline)))
		} else {
			var parts []string
			st := "missed"
			if n != nil && n.DeliveredPerS > 0 {
				parts = append(parts, fmt.Sprintf("%s Node's (%s vs %s)", fmtRatio(f.DeliveredPerS, n.DeliveredPerS),
					fmtCount(f.DeliveredPerS), fmtCount(n.DeliveredPerS)))
				if f.DeliveredPerS >= 3*n.DeliveredPerS {
					st = "met"
				}
			}
			if b != nil && b.DeliveredPerS > 0 {
				parts = append(parts, fmt.Sprintf("%s baseline's (%s)", fmtRatio(f.DeliveredPerS, b.DeliveredPerS), fmtCount(b.DeliveredPerS)))
				if f.DeliveredPerS >= 0.9*b.DeliveredPerS {
					st = "met"
				}
			}
			if f.Lost > 0 {
				st = "missed"
				parts = append(parts, fmt.Sprintf("but %d deliveries lost", f.Lost))
			}
			out = append(out, target{what, "fastio " + strings.Join(parts, ", "), st})
		}
	}
	// Zero loss over every fan-out run of fastio.
	{
		what := "Fan-out: zero loss (every subscriber gets every message), all fastio runs"
		var lost, expected int64
		var bad []string
		runs := 0
		for _, c := range d.cases("fanout") {
			f := d.fanout(c.ID, srvFastio)
			if f == nil {
				if r := d.run(c.ID, srvFastio); r != nil {
					bad = append(bad, c.ID+": "+runStatus(r))
				}
				continue
			}
			runs++
			lost += f.Lost + f.OutOfOrder
			expected += f.Expected
			if f.Lost > 0 || f.OutOfOrder > 0 || f.Stalled {
				bad = append(bad, fmt.Sprintf("%s: %d lost, %d out of order", c.ID, f.Lost, f.OutOfOrder))
			}
		}
		switch {
		case runs == 0:
			out = append(out, target{what, strings.Join(append(bad, "no fan-out run"), "; "), "not measured"})
		case len(bad) > 0:
			out = append(out, target{what, strings.Join(bad, "; "), "missed"})
		default:
			out = append(out, target{what, fmt.Sprintf("0 lost of %s deliveries in %d runs", fmtCount(float64(expected)), runs), "met"})
		}
	}
	if c, ok := d.findCase(func(c suiteCase) bool { return c.Scenario == "idle" }); ok {
		what := fmt.Sprintf("Idle: ≤ 2 KiB RSS per WebSocket session at %s", fmtCount(float64(atoiSuffix(c.ID))))
		var r IdleResult
		if !d.result(c.ID, srvFastio, &r) || r.Server == nil || r.Opened == 0 {
			out = append(out, notMeasured(what, d.run(c.ID, srvFastio)))
		} else {
			st := "missed"
			if r.Server.BytesPerConn <= 2048 && r.Failed == 0 {
				st = "met"
			}
			fig := fmt.Sprintf("%s KiB (%s bytes) per session, %s of %s open", fmtNum(r.Server.KiBPerConn),
				fmtCount(r.Server.BytesPerConn), fmtCount(float64(r.Opened)), fmtCount(float64(r.Conns)))
			out = append(out, target{what, fig, st})
		}
	}
	if c, ok := d.findCase(func(c suiteCase) bool { return c.Scenario == "echo" }); ok {
		what := "Echo: ≤ 12 µs server CPU per ack"
		var r AckLoopResult
		if !d.result(c.ID, srvFastio, &r) || r.CPUPerAck <= 0 {
			out = append(out, notMeasured(what, d.run(c.ID, srvFastio)))
		} else {
			st := "missed"
			if r.CPUPerAck <= 12 {
				st = "met"
			}
			fig := fmt.Sprintf("%s µs per ack (%s acks/s)", fmtNum(r.CPUPerAck), fmtCount(r.AcksPerSec))
			var in, b AckLoopResult
			if d.result(c.ID, srvFastioInline, &in) && in.CPUPerAck > 0 {
				fig += fmt.Sprintf("; with inline handlers %s µs", fmtNum(in.CPUPerAck))
			}
			if d.result(c.ID, srvBaseline, &b) && b.CPUPerAck > 0 {
				fig += fmt.Sprintf("; the bare baseline %s µs", fmtNum(b.CPUPerAck))
				if st == "missed" && b.CPUPerAck > 12 {
					fig += " (the target is below what a bare server needs here)"
				}
			}
			out = append(out, target{what, fig, st})
		}
	}
	for _, c := range d.cases("connect") {
		tr := "WebSocket"
		if strings.Contains(c.ID, "polling") {
			tr = "polling then upgrade"
		}
		what := fmt.Sprintf("Connects (%s, %s): ≥ 5 × Node's rate", tr, fmtCount(float64(atoiSuffix(c.ID))))
		var f, n ConnectResult
		if !d.result(c.ID, srvFastio, &f) || !d.result(c.ID, srvNode, &n) || f.ConnectsPerSec <= 0 || n.ConnectsPerSec <= 0 {
			out = append(out, notMeasured(what, d.run(c.ID, srvFastio), d.run(c.ID, srvNode)))
			continue
		}
		st := "missed"
		if f.ConnectsPerSec >= 5*n.ConnectsPerSec && f.Failed == 0 {
			st = "met"
		}
		out = append(out, target{what, fmt.Sprintf("fastio %s/s, Node %s/s: %s", fmtCount(f.ConnectsPerSec),
			fmtCount(n.ConnectsPerSec), fmtRatio(f.ConnectsPerSec, n.ConnectsPerSec)), st})
	}
	return out
}

// servers returns the servers of a case in report order.
func (d *reportData) servers(c suiteCase) []string {
	var out []string
	for _, s := range allServers {
		for _, cs := range c.Servers {
			if cs == s {
				out = append(out, s)
			}
		}
	}
	return out
}

// write renders the report and the charts into the configured paths.
func (o *suiteOptions) write(rep *suiteReport, stdout io.Writer) error {
	if err := os.MkdirAll(o.charts, 0o755); err != nil {
		return err
	}
	d := newReportData(rep)
	charts := d.charts()
	for _, ch := range charts {
		if err := os.WriteFile(filepath.Join(o.charts, ch.file), ch.chart.SVG(), 0o644); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(o.out), o.charts)
	if err != nil {
		rel = o.charts
	}
	resRel, err := filepath.Rel(filepath.Dir(o.out), o.results)
	if err != nil {
		resRel = o.results
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	d.markdown(f, filepath.ToSlash(rel), filepath.ToSlash(resRel), charts)
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %d charts in %s\n", o.out, len(charts), o.charts)
	return nil
}

type namedChart struct {
	file, alt string
	chart     *lineChart
}

// charts builds the fan-out charts: p99 latency and server CPU per delivered message against the audience.
func (d *reportData) charts() []namedChart {
	fan := d.cases("fanout")
	if len(fan) == 0 {
		return nil
	}
	lat := &lineChart{Title: "Fan-out latency p99 by audience", XLabel: "subscribers in the room (log scale)",
		YLabel: "p99 latency, publish to delivery (ms, log scale)", XUnit: " subscribers", YUnit: " ms"}
	cpu := &lineChart{Title: "Server CPU per delivered message by audience", XLabel: "subscribers in the room (log scale)",
		YLabel: "server CPU per delivered message (µs, log scale)", XUnit: " subscribers", YUnit: " µs"}
	for _, mode := range []string{"fixed", "max"} {
		for _, s := range allServers {
			if s == srvFastioInline {
				continue // not in the fan-out cases
			}
			name := chartName[s]
			if mode == "fixed" {
				name += ", fixed " + fmtTick(fanoutDeliveryRate) + "/s"
			} else {
				name += ", saturation"
			}
			ls := chartSeries{Name: name, Color: serverColor[s], Dashed: mode == "max"}
			cs := ls
			for _, c := range fan {
				if c.Mode != mode {
					continue
				}
				f := d.fanout(c.ID, s)
				if f == nil || f.Lost > 0 && f.DeliveredPerS == 0 {
					continue
				}
				ls.X, ls.Y = append(ls.X, float64(c.Audience)), append(ls.Y, f.Latency.P99)
				cs.X, cs.Y = append(cs.X, float64(c.Audience)), append(cs.Y, f.CPUPerMsg)
			}
			if len(ls.X) > 0 {
				lat.Series = append(lat.Series, ls)
				cpu.Series = append(cpu.Series, cs)
			}
		}
	}
	return []namedChart{
		{"fanout-latency-p99.svg", "Fan-out latency p99 against audience size", lat},
		{"fanout-cpu-per-message.svg", "Server CPU per delivered message against audience size", cpu},
	}
}

func fmtDuration(d time.Duration) string {
	d = d.Round(time.Second)
	m := int(d / time.Minute)
	s := int((d % time.Minute) / time.Second)
	if m == 0 {
		return fmt.Sprintf("%d s", s)
	}
	return fmt.Sprintf("%d min %d s", m, s)
}

// markdown writes BENCHMARKS.md.
func (d *reportData) markdown(w io.Writer, chartDir, resultsPath string, charts []namedChart) {
	rep := d.rep
	m := rep.Machine
	fmt.Fprintln(w, "# Benchmarks")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "<!-- Generated by `fastio bench suite`; do not edit: run `make bench` again. -->")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "fastio (`fastio testserver`) against the Node.js reference server (socket.io %s running the same "+
		"[testserver contract](test/e2e/reference-server.js)), and for fan-out and echo against the baseline "+
		"(`fastio bench baseline-server`: a bare Go server, goroutine per connection, that writes one ready-made frame to "+
		"each room member, and answers an ack with one write from the connection's goroutine — the floor the targets "+
		"are measured against). The echo case also runs fastio with `--inline-handlers` (handlers on the event loops, "+
		"for applications whose handlers never block).\n\n", orDash(m.SocketIO))
	fmt.Fprintf(w, "Generated by `%s` on %s in %s. Every figure below comes from that one run; the raw results are in "+
		"[%s](%s).\n\n", rep.Command, rep.Started.UTC().Format("2006-01-02 15:04 MST"), fmtDuration(rep.Finished.Sub(rep.Started)),
		resultsPath, resultsPath)
	if rep.Quick {
		fmt.Fprintln(w, "> **Quick mode**: tiny sizes, a trial of the suite itself. These figures are not benchmarks.")
		fmt.Fprintln(w)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "> Not measured: %s\n\n", s)
	}

	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	mt := &mdTable{head: []string{"", ""}, text: map[int]bool{1: true}}
	mt.add("CPU", fmt.Sprintf("%s, %d cores", orDash(m.CPUModel), m.CPUs))
	mt.add("Memory", fmtBytes(m.MemBytes))
	mt.add("Kernel", orDash(m.Kernel))
	mt.add("Go", m.GoVersion+" (fastio and the load generator)")
	mt.add("Node.js", fmt.Sprintf("%s; socket.io %s, engine.io %s, ws %s", orDash(m.NodeVersion), orDash(m.SocketIO),
		orDash(m.EngineIO), orDash(m.WSVersion)))
	mt.add("fastio", "commit "+orDash(m.Commit))
	mt.add("Open files", fmt.Sprintf("%d per process", m.OpenFiles))
	mt.add("Busy before the suite", fmt.Sprintf("%s cores (other work on the machine)", fmtNum(m.BackgroundLoad)))
	if rep.Waited > 0 {
		mt.add("Waited for quiet", fmt.Sprintf("%s s in all, before runs that found other work keeping more than %s "+
			"core busy (at most %s s per run)", fmtNum(rep.Waited), trimFloat(busyOtherLimit), trimFloat(quietWaitPerRun.Seconds())))
	}
	mt.write(w)
	fmt.Fprintln(w, "Servers, the load generator and its worker processes all run on this machine over loopback "+
		"(127.0.0.0/8, connections spread over source addresses), so the server under test and the generator share "+
		"the same cores, with whatever else the machine runs: see [Who was the bottleneck](#who-was-the-bottleneck). "+
		"Each run starts a fresh server, with `--ping-interval 25s --ping-timeout 20s`.")
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	tt := &mdTable{head: []string{"target", "figure", "status"}, text: map[int]bool{1: true, 2: true}}
	for _, t := range d.targets() {
		tt.add(t.What, t.Figure, t.statusCell())
	}
	tt.write(w)

	d.fanoutSection(w, chartDir, charts)
	includeSection(w, filepath.Join(filepath.Dir(chartDir), "CLUSTER.md"))
	includeSection(w, filepath.Join(filepath.Dir(chartDir), "NETHTTP.md"))
	d.idleSection(w)
	d.ackLoopSection(w, "echo", "Echo: acknowledged events over WebSocket",
		"Each client emits `message-with-ack` with a small object and emits the next one as soon as the ack arrives "+
			"(a closed loop).")
	d.connectSection(w)
	d.ackLoopSection(w, "polling", "Echo over HTTP long-polling",
		"Each client stays on the polling transport: one connection keeps a GET pending, the other POSTs "+
			"`message-with-ack`; the ack comes back in a GET. One message = one acked event (two HTTP requests).")
	d.bottleneckSection(w)
	d.problemsSection(w)
	includeSection(w, filepath.Join(filepath.Dir(chartDir), "ANALYSIS.md"))
	d.commandsSection(w)
	d.methodSection(w)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func (d *reportData) fanoutSection(w io.Writer, chartDir string, charts []namedChart) {
	fan := d.cases("fanout")
	if len(fan) == 0 {
		return
	}
	fmt.Fprintln(w, "## Fan-out (room broadcast)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Subscribers connect to `/` with auth `{\"room\":\"bench\"}`; one publisher socket outside the room emits "+
		"`broadcast` with `(\"bench\", {\"t\": <send time ns>, \"seq\": n, \"pad\": ...})` (a 100-byte object) and the "+
		"server sends it to every member. Latency is receive time minus `t` (one clock: all on one machine). Every "+
		"subscriber checks it gets every `seq`. *Fixed rate*: the publisher is paced at %s deliveries/s "+
		"(rate = %s / audience). *Saturation*: the publisher keeps a window of messages outstanding (published but "+
		"not yet received by every subscriber; the window column), so queues stay bounded and the server is never "+
		"idle; latency there is mostly the window's queueing, and a server that batches the frames queued for a "+
		"connection into one write gains from the window. Server CPU per message = the server process's CPU over the measured window "+
		"/ deliveries in it.\n\n", fmtCount(fanoutDeliveryRate), fmtCount(fanoutDeliveryRate))
	for _, c := range fan {
		title := fmt.Sprintf("%s subscribers, %s deliveries/s (%s msg/s)", fmtCount(float64(c.Audience)),
			fmtCount(fanoutDeliveryRate), fmtNum(fanoutDeliveryRate/float64(c.Audience)))
		if c.Mode == "max" {
			title = fmt.Sprintf("%s subscribers, saturation", fmtCount(float64(c.Audience)))
		}
		fmt.Fprintf(w, "### %s\n\n", title)
		t := &mdTable{head: []string{"server", "delivered msgs/s", "latency p50", "p99", "max", "lost",
			"server CPU / msg", "server cores", "generator cores", "server RSS"}}
		if c.Mode == "max" {
			t.head = append(t.head, "window")
		}
		res := map[string]*FanoutResult{}
		for _, s := range d.servers(c) {
			f := d.fanout(c.ID, s)
			if f == nil {
				t.add(append([]string{serverTitle[s], runStatus(d.run(c.ID, s))}, make([]string, len(t.head)-2)...)...)
				continue
			}
			res[s] = f
			lost := fmtCount(float64(f.Lost))
			if f.OutOfOrder > 0 {
				lost += fmt.Sprintf(" (+%d out of order)", f.OutOfOrder)
			}
			if f.Lost > 0 || f.OutOfOrder > 0 || f.Stalled {
				lost = "**" + lost + "**"
			}
			row := []string{serverTitle[s], fmtCount(f.DeliveredPerS), fmtNum(f.Latency.P50) + " ms", fmtNum(f.Latency.P99) + " ms",
				fmtNum(f.Latency.Max) + " ms", lost, fmtNum(f.CPUPerMsg) + " µs", fmtNum(f.Figures.ServerCores),
				fmtNum(f.Figures.GeneratorCores), fmtBytes(f.Figures.ServerRSS)}
			if c.Mode == "max" {
				row = append(row, strconv.Itoa(f.Window))
			}
			if f.Ready < f.Subscribers {
				row[0] += fmt.Sprintf(" (%d of %d subscribers)", f.Ready, f.Subscribers)
			}
			t.add(row...)
		}
		t.write(w)
		f, n, b := res[srvFastio], res[srvNode], res[srvBaseline]
		var notes []string
		if f != nil && n != nil {
			notes = append(notes, fmt.Sprintf("fastio vs Node: throughput %s, p99 Node/fastio %s, CPU per message Node/fastio %s",
				fmtRatio(f.DeliveredPerS, n.DeliveredPerS), fmtRatio(n.Latency.P99, f.Latency.P99), fmtRatio(n.CPUPerMsg, f.CPUPerMsg)))
		}
		if f != nil && b != nil {
			notes = append(notes, fmt.Sprintf("fastio vs baseline: throughput %s, p99 %s baseline's, CPU per message %s baseline's",
				fmtRatio(f.DeliveredPerS, b.DeliveredPerS), fmtRatio(f.Latency.P99, b.Latency.P99), fmtRatio(f.CPUPerMsg, b.CPUPerMsg)))
		}
		writeList(w, notes)
	}
	for _, ch := range charts {
		fmt.Fprintf(w, "![%s](%s/%s)\n\n", ch.alt, chartDir, ch.file)
	}
	fmt.Fprintln(w, "Solid lines: fixed rate; dashed: saturation.")
	fmt.Fprintln(w)
}

func (d *reportData) idleSection(w io.Writer) {
	for _, c := range d.cases("idle") {
		fmt.Fprintf(w, "## Idle connections (%s WebSocket sessions)\n\n", fmtCount(float64(atoiSuffix(c.ID))))
		fmt.Fprintln(w, "Socket.IO sessions opened as fast as the server takes them (256 handshakes in flight), held idle, "+
			"closed. Memory per session = (server RSS 2 s after the last connect − RSS before) / sessions, on a freshly "+
			"started server.")
		fmt.Fprintln(w)
		t := &mdTable{head: []string{"server", "opened", "connects/s", "connect p50", "p99", "RSS per session",
			"server RSS", "server CPU / connect"}}
		res := map[string]*IdleResult{}
		for _, s := range d.servers(c) {
			var r IdleResult
			if !d.result(c.ID, s, &r) || r.Server == nil {
				t.add(serverTitle[s], runStatus(d.run(c.ID, s)), "", "", "", "", "", "")
				continue
			}
			res[s] = &r
			opened := fmtCount(float64(r.Opened))
			if r.Failed > 0 {
				opened += fmt.Sprintf(" (**%d failed**)", r.Failed)
			}
			t.add(serverTitle[s], opened, fmtCount(r.ConnectsPerSec), fmtNum(r.Connect.P50)+" ms", fmtNum(r.Connect.P99)+" ms",
				fmt.Sprintf("%s KiB", fmtNum(r.Server.KiBPerConn)), fmtBytes(r.Server.RSSAfter), fmtNum(r.Server.CPUPerConnectMicro)+" µs")
		}
		t.write(w)
		if f, n := res[srvFastio], res[srvNode]; f != nil && n != nil {
			fmt.Fprintf(w, "- fastio vs Node: connects/s %s, memory per session Node/fastio %s, CPU per connect Node/fastio %s\n\n",
				fmtRatio(f.ConnectsPerSec, n.ConnectsPerSec), fmtRatio(n.Server.BytesPerConn, f.Server.BytesPerConn),
				fmtRatio(n.Server.CPUPerConnectMicro, f.Server.CPUPerConnectMicro))
		}
	}
}

func atoiSuffix(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndex(id, "-")+1:])
	return n
}

func (d *reportData) ackLoopSection(w io.Writer, scenario, title, intro string) {
	for _, c := range d.cases(scenario) {
		fmt.Fprintf(w, "## %s (%d clients)\n\n%s\n\n", title, atoiSuffix(c.ID), intro)
		t := &mdTable{head: []string{"server", "msgs/s (acks)", "RTT p50", "p99", "server CPU / msg", "server cores",
			"generator cores"}}
		res := map[string]*AckLoopResult{}
		for _, s := range d.servers(c) {
			var r AckLoopResult
			if !d.result(c.ID, s, &r) {
				t.add(serverTitle[s], runStatus(d.run(c.ID, s)), "", "", "", "", "")
				continue
			}
			res[s] = &r
			name := serverTitle[s]
			if r.Failed > 0 || r.Unanswered > 0 || r.BadAcks > 0 || r.Dropped > 0 {
				name += fmt.Sprintf(" (**%d failed, %d unanswered, %d bad acks, %d dropped**)", r.Failed, r.Unanswered, r.BadAcks, r.Dropped)
			}
			t.add(name, fmtCount(r.AcksPerSec), fmtNum(r.RTT.P50)+" ms", fmtNum(r.RTT.P99)+" ms", fmtNum(r.CPUPerAck)+" µs",
				fmtNum(r.Figures.ServerCores), fmtNum(r.Figures.GeneratorCores))
		}
		t.write(w)
		if f, n := res[srvFastio], res[srvNode]; f != nil && n != nil {
			fmt.Fprintf(w, "- fastio vs Node: msgs/s %s, p99 Node/fastio %s, CPU per message Node/fastio %s\n",
				fmtRatio(f.AcksPerSec, n.AcksPerSec), fmtRatio(n.RTT.P99, f.RTT.P99), fmtRatio(n.CPUPerAck, f.CPUPerAck))
		}
		if f, n := res[srvFastioInline], res[srvNode]; f != nil && n != nil {
			fmt.Fprintf(w, "- fastio with inline handlers vs Node: msgs/s %s, CPU per message Node/fastio %s\n",
				fmtRatio(f.AcksPerSec, n.AcksPerSec), fmtRatio(n.CPUPerAck, f.CPUPerAck))
		}
		if b := res[srvBaseline]; b != nil {
			for _, s := range []string{srvFastio, srvFastioInline} {
				if f := res[s]; f != nil {
					fmt.Fprintf(w, "- %s vs the baseline: CPU per message %s of the baseline's\n", serverTitle[s],
						fmtRatio(f.CPUPerAck, b.CPUPerAck))
				}
			}
		}
		if len(res) > 0 {
			fmt.Fprintln(w)
		}
	}
}

func (d *reportData) connectSection(w io.Writer) {
	cs := d.cases("connect")
	if len(cs) == 0 {
		return
	}
	fmt.Fprintln(w, "## Connect storm")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Connections opened as fast as 64 handshakes in flight allow, then all closed. WebSocket: upgrade, "+
		"open packet, Socket.IO CONNECT and its reply. Polling then upgrade: the JavaScript client's default path — the "+
		"handshake GET, CONNECT by POST, its reply by GET, then a WebSocket with the sid, `2probe`/`3probe`/`5`. "+
		"Connect time runs from the TCP connect to the end of the handshake.")
	fmt.Fprintln(w)
	t := &mdTable{head: []string{"transport", "server", "opened", "connects/s", "connect p50", "p99", "server CPU / connect",
		"server cores", "generator cores"}, text: map[int]bool{1: true}}
	var notes []string
	for _, c := range cs {
		tr := "WebSocket"
		if strings.Contains(c.ID, "polling") {
			tr = "polling, then upgrade"
		}
		res := map[string]*ConnectResult{}
		for _, s := range d.servers(c) {
			var r ConnectResult
			if !d.result(c.ID, s, &r) {
				t.add(tr, serverTitle[s], runStatus(d.run(c.ID, s)), "", "", "", "", "", "")
				continue
			}
			res[s] = &r
			opened := fmt.Sprintf("%s of %s", fmtCount(float64(r.Opened)), fmtCount(float64(r.Conns)))
			if r.Failed > 0 {
				opened = "**" + opened + "**"
			}
			t.add(tr, serverTitle[s], opened, fmtCount(r.ConnectsPerSec), fmtNum(r.Connect.P50)+" ms", fmtNum(r.Connect.P99)+" ms",
				fmtNum(r.CPUPerConnect)+" µs", fmtNum(r.Figures.ServerCores), fmtNum(r.Figures.GeneratorCores))
		}
		if f, n := res[srvFastio], res[srvNode]; f != nil && n != nil {
			notes = append(notes, fmt.Sprintf("%s — fastio vs Node: connects/s %s, CPU per connect Node/fastio %s",
				tr, fmtRatio(f.ConnectsPerSec, n.ConnectsPerSec), fmtRatio(n.CPUPerConnect, f.CPUPerConnect)))
		}
	}
	t.write(w)
	writeList(w, notes)
}

// writeList writes items as a Markdown list followed by a blank line (nothing without items).
func writeList(w io.Writer, items []string) {
	for _, s := range items {
		fmt.Fprintf(w, "- %s\n", s)
	}
	if len(items) > 0 {
		fmt.Fprintln(w)
	}
}

// bottleneckSection lists, run by run, where the CPU went and what limited the run.
func (d *reportData) bottleneckSection(w io.Writer) {
	fmt.Fprintln(w, "## Who was the bottleneck")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU over each measured window (connect phase for the storms), in cores of the machine: the "+
		"server process, the load generator (its parent and worker processes), and everything else the machine ran "+
		"meanwhile (from /proc/stat; \"other, whole run\" covers the whole bench command, connects included — in bold "+
		"above 0.5 core, when the figures of that run are less reliable). On loopback the kernel's TCP work for both ends is charged mostly to the "+
		"sending process, so the split is approximate. \"Busiest thread\" is the server's busiest thread: from 0.75 "+
		"core, when it does most of the server's work, a single-threaded path (Node's event loop) was the limit. The "+
		"machine counts as saturated from 75% of its cores busy: on 2 shared cores a process seldom gets more.")
	fmt.Fprintln(w)
	t := &mdTable{head: []string{"run", "server", "server cores", "busiest thread", "generator cores", "other",
		"other, whole run", "generator CPU / op", "verdict"}, text: map[int]bool{1: true, 8: true}}
	for _, c := range d.plan {
		for _, s := range d.servers(c) {
			f, genPer, unit, ok := d.figuresOf(c, s)
			if !ok {
				continue
			}
			other := "–"
			if r := d.run(c.ID, s); r != nil {
				other = fmtNum(r.OtherCores)
				if r.OtherCores > busyOtherLimit {
					other = "**" + other + "**"
				}
			}
			busiest := fmtNum(f.ServerBusiestThread)
			if c.Scenario == "idle" {
				busiest = "–"
			}
			t.add(c.ID, serverTitle[s], fmtNum(f.ServerCores), busiest, fmtNum(f.GeneratorCores),
				fmtNum(f.OtherCores), other, fmtNum(genPer)+unit, oneLine(f.Bottleneck, 160))
		}
	}
	t.write(w)
	if notes := d.bottleneckNotes(); len(notes) > 0 {
		fmt.Fprintln(w, "In short, for the runs whose rate the servers set themselves (saturation, closed loops, storms):")
		fmt.Fprintln(w)
		writeList(w, notes)
	}
	fmt.Fprintln(w, "Reading it: at a fixed rate nothing should be saturated and the figures are the cost of that "+
		"load; at saturation, and in the closed loops, the throughput is a property of the server *and* this "+
		"generator on a shared machine — the generator's CPU per message is shown so the two can be told apart.")
	fmt.Fprintln(w)
}

// figuresOf returns the CPU figures of a run: its window's, or for idle the connect phase's (no machine figures:
// "other" then comes from the whole run).
func (d *reportData) figuresOf(c suiteCase, s string) (f WindowFigures, genPer float64, unit string, ok bool) {
	switch c.Scenario {
	case "fanout":
		r := d.fanout(c.ID, s)
		if r == nil {
			return f, 0, "", false
		}
		return r.Figures, r.GenPerMsg, " µs/msg", true
	case "echo", "polling":
		var r AckLoopResult
		if !d.result(c.ID, s, &r) {
			return f, 0, "", false
		}
		return r.Figures, r.GenPerAck, " µs/msg", true
	case "connect":
		var r ConnectResult
		if !d.result(c.ID, s, &r) {
			return f, 0, "", false
		}
		return r.Figures, r.GenPerConnect, " µs/connect", true
	case "idle":
		var r IdleResult
		if !d.result(c.ID, s, &r) || r.Server == nil || r.ConnectSeconds <= 0 || r.Opened == 0 {
			return f, 0, "", false
		}
		f = WindowFigures{Seconds: r.ConnectSeconds, CPUs: max(d.rep.Machine.CPUs, 1),
			ServerCores:    roundTo(r.Server.CPUConnectSeconds/r.ConnectSeconds, 3),
			GeneratorCores: roundTo(r.Generator.CPUConnectSeconds/r.ConnectSeconds, 3)}
		if run := d.run(c.ID, s); run != nil {
			f.OtherCores = run.OtherCores
		}
		f.MachineCores = roundTo(f.ServerCores+f.GeneratorCores+f.OtherCores, 3)
		f.Bottleneck = bottleneck(f, true, false)
		return f, perOp(r.Generator.CPUConnectSeconds, int64(r.Opened)), " µs/connect", true
	}
	return f, 0, "", false
}

// bottleneckNotes reads the figures of the runs not paced by the generator into one line per case.
func (d *reportData) bottleneckNotes() []string {
	var out []string
	for _, c := range d.plan {
		if c.Mode == "fixed" {
			continue
		}
		var parts []string
		for _, s := range d.servers(c) {
			f, _, _, ok := d.figuresOf(c, s)
			if !ok {
				continue
			}
			parts = append(parts, serverTitle[s]+" "+verdictShort(f))
		}
		if len(parts) > 0 {
			out = append(out, fmt.Sprintf("%s: %s.", c.ID, strings.Join(parts, "; ")))
		}
	}
	return out
}

// verdictShort says in a few words what limited a run, from its figures.
func verdictShort(f WindowFigures) string {
	switch limitOf(f, true, false) {
	case limitThread:
		return fmt.Sprintf("was held by one thread (%s of its %s cores, in one thread)", fmtNum(f.ServerBusiestThread),
			fmtNum(f.ServerCores))
	case limitMachine:
		if f.GeneratorCores >= f.ServerCores {
			return fmt.Sprintf("shared a saturated machine and the generator used more (server %s, generator %s, other %s "+
				"cores): the figure is a lower bound for the server", fmtNum(f.ServerCores), fmtNum(f.GeneratorCores),
				fmtNum(f.OtherCores))
		}
		return fmt.Sprintf("shared a saturated machine and used the most (server %s, generator %s, other %s cores)",
			fmtNum(f.ServerCores), fmtNum(f.GeneratorCores), fmtNum(f.OtherCores))
	case limitServer:
		return fmt.Sprintf("was CPU-bound (%s cores)", fmtNum(f.ServerCores))
	case limitGenerator:
		return fmt.Sprintf("was bound by the generator (%s cores): a lower bound for the server", fmtNum(f.GeneratorCores))
	}
	return fmt.Sprintf("saturated no CPU (server %s, generator %s, machine %s cores): bound by round trips",
		fmtNum(f.ServerCores), fmtNum(f.GeneratorCores), fmtNum(f.MachineCores))
}

func (d *reportData) problemsSection(w io.Writer) {
	var lines []string
	for _, c := range d.plan {
		for _, s := range d.servers(c) {
			r := d.run(c.ID, s)
			if r == nil {
				continue
			}
			if r.FirstAttempt != "" {
				lines = append(lines, fmt.Sprintf("- %s / %s: run twice: %s", c.ID, serverTitle[s], r.FirstAttempt))
			}
			if r.OtherCores > busyOtherLimit {
				lines = append(lines, fmt.Sprintf("- %s / %s: other processes kept %s cores busy during the run",
					c.ID, serverTitle[s], fmtNum(r.OtherCores)))
			}
			if st := runStatus(r); st != "" {
				l := fmt.Sprintf("- **%s / %s**: %s", c.ID, serverTitle[s], st)
				if r.LogTail != "" {
					l += "\n\n  ```\n  " + strings.ReplaceAll(r.LogTail, "\n", "\n  ") + "\n  ```"
				}
				lines = append(lines, l)
			}
			var warn struct {
				Warnings []string `json:"warnings"`
			}
			if r.Result != nil && json.Unmarshal(r.Result, &warn) == nil {
				for _, wn := range warn.Warnings {
					lines = append(lines, fmt.Sprintf("- %s / %s: %s", c.ID, serverTitle[s], wn))
				}
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "## Errors and warnings")
	fmt.Fprintln(w)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
}

func (d *reportData) commandsSection(w io.Writer) {
	fmt.Fprintln(w, "## Commands")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The whole suite: `%s` (from the repository root, after `go build -o bin/fastio ./cmd/fastio`). "+
		"Each run below started its server, ran the bench command (whose `--json` result is in the raw results) and "+
		"stopped the server; ports are free ports picked per run.\n\n", d.rep.Command)
	fmt.Fprintln(w, "```sh")
	for _, c := range d.plan {
		for _, s := range d.servers(c) {
			r := d.run(c.ID, s)
			if r == nil || r.Command == "" {
				continue
			}
			fmt.Fprintf(w, "# %s / %s (%s s)\n", c.ID, s, fmtNum(r.Seconds))
			fmt.Fprintf(w, "%s &\n", r.ServerCommand)
			fmt.Fprintf(w, "%s\n", r.Command)
		}
	}
	fmt.Fprintln(w, "```")
	fmt.Fprintln(w)
}

func (d *reportData) methodSection(w io.Writer) {
	fmt.Fprintln(w, "## Method")
	fmt.Fprintln(w)
	for _, s := range []string{
		"The generator is `fastio bench` (see [bench/README.md](bench/README.md)): a cheap Engine.IO/Socket.IO client " +
			"(one goroutine per connection, no per-message allocation), in worker processes sized to the open-file " +
			"limit, connections spread over loopback source addresses.",
		"Server figures come from /proc/PID of the server process: CPU is utime+stime over the measured window, RSS is " +
			"VmRSS. Generator CPU is the bench process and its workers (getrusage).",
		"Latencies are histograms with about 6% bucket resolution; p99 over every delivery (fan-out) or round trip in " +
			"the measured window.",
		"Fan-out loss: each subscriber expects seq 0, 1, 2, … in order on its connection; a seq skipped counts as lost " +
			"and one seen twice or late as out of order; after publishing stops each subscriber must reach the last seq " +
			"(the drain waits up to 20 s).",
		"Ratios: fastio/Node for throughput (higher is better for fastio), Node/fastio for costs — CPU, memory, " +
			"latency (higher is better for fastio); against the baseline, fastio/baseline for both (the targets' form).",
	} {
		fmt.Fprintf(w, "- %s\n", s)
	}
	fmt.Fprintln(w)
}

// includeSection copies a hand-written section into the report (bench/ANALYSIS.md: where the time and the memory
// go, from profiles; bench/CLUSTER.md: the two-node figures; bench/NETHTTP.md: the net/http transport), so that
// regenerating the figures keeps it.
func includeSection(w io.Writer, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		return
	}
	fmt.Fprintln(w, strings.TrimSpace(string(text)))
	fmt.Fprintln(w)
}
