package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"
)

// Idle opens connections at a bounded rate, holds them while answering pings, and measures what each costs the
// server in memory, and what opening them cost in CPU.
type Idle struct {
	Hold   time.Duration `json:"hold"`   // how long the connections stay open once all are open
	Settle time.Duration `json:"settle"` // wait after the last open before the "after" memory sample
}

// Summary implements Scenario.
func (s *Idle) Summary() string {
	return "open --conns connections at --rate, hold them idle for --hold answering pings; server RSS and CPU per connection"
}

// Flags implements Scenario.
func (s *Idle) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&s.Hold, "hold", s.Hold, "how long to hold the connections once all are open")
	fs.DurationVar(&s.Settle, "settle", s.Settle, "wait after the last connect before sampling the server's memory")
}

// Validate implements Scenario.
func (s *Idle) Validate(*Options) error {
	if s.Hold < 0 || s.Hold > 24*time.Hour {
		return errors.New("--hold must be between 0 and 24h")
	}
	if s.Settle < 0 || s.Settle > time.Hour {
		return errors.New("--settle must be between 0 and 1h")
	}
	return nil
}

// IdleResult is the idle scenario's result.
type IdleResult struct {
	Scenario  string `json:"scenario" label:"scenario"`
	URL       string `json:"url" label:"endpoint"`
	Mode      string `json:"mode" label:"protocol"`
	Procs     int    `json:"procs" label:"worker processes (0: in-process)"`
	SourceIPs int    `json:"source_ips" label:"source addresses"`
	CPUs      int    `json:"cpus" label:"CPUs"`

	Conns       int            `json:"conns" label:"connections asked"`
	Opened      int            `json:"opened" label:"connections opened"`
	Failed      int            `json:"failed" label:"connections failed"`
	Failures    map[string]int `json:"failures" label:"failures by kind"`
	FirstErrors []string       `json:"first_errors,omitempty" label:"first errors"`

	ConnectSeconds float64        `json:"connect_seconds" label:"connect phase (s)"`
	ConnectsPerSec float64        `json:"connects_per_sec" label:"connects/s"`
	RateAsked      float64        `json:"rate_asked" label:"rate asked (connects/s, 0: unlimited)"`
	Connect        LatencySummary `json:"connect_ms" label:"connect time (handshake, ms)"`
	TCPConnect     LatencySummary `json:"tcp_connect_ms" label:"TCP connect time (ms)"`

	HoldSeconds   float64 `json:"hold_seconds" label:"held (s)"`
	Dropped       int64   `json:"dropped" label:"dropped while held"`
	PingsAnswered int64   `json:"pings_answered" label:"pings answered"`
	Closed        int64   `json:"closed" label:"closed by the generator"`
	Interrupted   bool    `json:"interrupted,omitempty" label:"interrupted"`

	ServerNote string         `json:"server_note,omitempty" label:"server process"`
	Server     *IdleServer    `json:"server,omitempty" label:"server"`
	Generator  IdleGenerator  `json:"generator" label:"generator"`
	PerAddr    map[string]int `json:"per_source_addr,omitempty" label:"connections per source address"`
	WorkerPIDs []int          `json:"worker_pids" label:"worker PIDs"`
	Warnings   []string       `json:"warnings,omitempty" label:"warnings"`
}

// IdleServer holds the server process figures.
type IdleServer struct {
	PID                int     `json:"pid" label:"pid"`
	RSSBefore          int64   `json:"rss_before_bytes" label:"RSS before" fmt:"bytes"`
	RSSAfter           int64   `json:"rss_after_bytes" label:"RSS all open, settled" fmt:"bytes"`
	RSSEnd             int64   `json:"rss_end_bytes" label:"RSS end of hold" fmt:"bytes"`
	RSSAfterClose      int64   `json:"rss_after_close_bytes" label:"RSS 1 s after close" fmt:"bytes"`
	HWM                int64   `json:"rss_peak_bytes" label:"RSS peak (VmHWM)" fmt:"bytes"`
	BytesPerConn       float64 `json:"bytes_per_conn" label:"bytes per connection"`
	KiBPerConn         float64 `json:"kib_per_conn" label:"KiB per connection"`
	CPUConnectSeconds  float64 `json:"cpu_connect_seconds" label:"CPU during connect phase (s)"`
	CPUPerConnectMicro float64 `json:"cpu_per_connect_us" label:"CPU per connect (µs)"`
	CPUHoldSeconds     float64 `json:"cpu_hold_seconds" label:"CPU while held (s)"`
	Threads            int     `json:"threads" label:"threads"`
}

// IdleGenerator holds the load generator's own figures.
type IdleGenerator struct {
	CPUConnectSeconds float64 `json:"cpu_connect_seconds" label:"CPU during connect phase (s)"`
	CPUSeconds        float64 `json:"cpu_seconds" label:"CPU, whole run (s)"`
	RSS               int64   `json:"rss_bytes" label:"RSS of worker processes, all open" fmt:"bytes"`
}

type idleClosed struct {
	CPU     time.Duration `json:"cpu"`
	Dropped int64         `json:"dropped"`
	Closed  int64         `json:"closed"`
	Pings   int64         `json:"pings"`
}

// Work implements Scenario: open, report, wait for "close", close, report.
func (s *Idle) Work(ctx context.Context, w *Worker) error {
	set, rep := w.OpenConns(ctx, w.ClientConfig())
	if err := w.Send("opened", rep); err != nil {
		set.CloseAll(5 * time.Second)
		return err
	}
	err := w.Expect(ctx, "close", nil)
	set.CloseAll(10 * time.Second)
	if err != nil {
		return err
	}
	var cpu time.Duration
	if !w.Spec.InProcess {
		cpu = processCPU(false)
	}
	return w.Send("closed", idleClosed{
		CPU: cpu, Dropped: w.Counters.Dropped.Load(), Closed: w.Counters.Closed.Load(),
		Pings: w.Counters.Stats.PingsAnswered.Load(),
	})
}

// Run implements Scenario.
func (s *Idle) Run(ctx context.Context, r *Runner) (any, error) {
	o := r.Opts
	res := &IdleResult{
		Scenario: "idle", URL: o.wsURL.String(), Mode: "socket.io", Procs: o.Procs,
		SourceIPs: len(o.sourceAddrs), CPUs: numCPU(), Conns: o.Conns, RateAsked: o.Rate,
	}
	if o.EngineIO {
		res.Mode = "engine.io"
	}
	if r.ServerPID <= 0 {
		res.ServerNote = "not sampled: " + r.ServerNote
	} else {
		res.ServerNote = r.ServerNote
	}
	r.Logf("idle: %d connections to %s (%s) over %d worker(s), %s, source %s", o.Conns, res.URL, res.Mode,
		max(o.Procs, 1), rateText(o.Rate), describeAddrs(o.sourceAddrs))

	before, haveServer := r.SampleServer()
	r.Phase("connecting", o.Conns)
	if err := r.StartWorkers(ctx); err != nil {
		return nil, err
	}

	// Connect phase, bounded by the workers' own limit plus slack.
	tally := newOpenTally()
	interrupted, err := r.Gather(ctx, "opened", openPhaseLimit(o), o.ConnectTimeout+10*time.Second, tally.gather)
	if err != nil {
		return nil, err
	}
	allOpen := time.Now()
	afterOpen, _ := r.SampleServer()
	res.Opened, res.Failed, res.Failures, res.FirstErrors, res.WorkerPIDs = tally.Opened, tally.Failed, tally.Failures,
		tally.FirstErrors, tally.PIDs
	res.Generator.RSS = tally.WorkerRSS
	res.Generator.CPUConnectSeconds = roundTo((processCPU(false) - r.cpuSelf0 + tally.WorkerCPU).Seconds(), 3)
	res.ConnectSeconds = roundTo(tally.Elapsed.Seconds(), 3)
	res.ConnectsPerSec = tally.perSec()
	res.Connect, res.TCPConnect = tally.Connect.Summary(), tally.TCP.Summary()
	if len(tally.PerAddr) > 1 {
		res.PerAddr = tally.PerAddr
	}
	r.Logf("idle: %d open, %d failed in %.2fs (%.0f/s); connect p50 %.2f ms p99 %.2f ms", res.Opened, res.Failed,
		tally.Elapsed.Seconds(), res.ConnectsPerSec, res.Connect.P50, res.Connect.P99)

	// Hold: sample memory after the settle time, then at the end of the hold.
	r.Phase("holding", res.Opened)
	if !interrupted {
		interrupted = !sleepCtx(ctx, s.Settle)
	}
	settled, _ := r.SampleServer()
	if !interrupted {
		interrupted = !sleepCtx(ctx, s.Hold-s.Settle)
	}
	holdEnd := time.Now()
	end, _ := r.SampleServer()
	res.HoldSeconds = roundTo(holdEnd.Sub(allOpen).Seconds(), 3)
	res.Interrupted = interrupted

	// Close, with a context that survives an interrupt but not forever.
	r.Phase("closing", 0)
	if err := r.Broadcast("close", nil); err != nil {
		return nil, err
	}
	closeCtx := context.WithoutCancel(ctx)
	_, err = r.Gather(closeCtx, "closed", 30*time.Second, 0, func(_ int, data json.RawMessage) error {
		var c idleClosed
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		res.Dropped += c.Dropped
		res.Closed += c.Closed
		res.PingsAnswered += c.Pings
		return nil
	})
	if err != nil {
		return nil, err
	}
	var afterClose ProcSample
	if haveServer {
		sleepCtx(closeCtx, time.Second)
		afterClose, _ = r.SampleServer()
	}
	if err := r.Close(); err != nil {
		r.Logf("idle: workers: %v", err)
	}
	res.Generator.CPUSeconds = roundTo(r.GeneratorCPU().Seconds(), 3)

	if haveServer {
		srv := &IdleServer{
			PID: r.ServerPID, RSSBefore: before.RSS, RSSAfter: settled.RSS, RSSEnd: end.RSS,
			RSSAfterClose: afterClose.RSS, HWM: max(afterClose.HWM, end.HWM), Threads: settled.Threads,
			CPUConnectSeconds: roundTo((afterOpen.CPU - before.CPU).Seconds(), 3),
			CPUHoldSeconds:    roundTo((end.CPU - afterOpen.CPU).Seconds(), 3),
		}
		if res.Opened > 0 {
			srv.BytesPerConn = roundTo(float64(settled.RSS-before.RSS)/float64(res.Opened), 1)
			srv.KiBPerConn = roundTo(srv.BytesPerConn/1024, 2)
			srv.CPUPerConnectMicro = roundTo(float64((afterOpen.CPU-before.CPU).Microseconds())/float64(res.Opened), 2)
		}
		res.Server = srv
		if before.HWM > before.RSS+8<<20 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the server's RSS peaked at %s before this run (it was %s at "+
				"the start): memory freed by earlier connections may be reused, so bytes per connection may read low; "+
				"restart the server for a clean figure", fmtBytes(before.HWM), fmtBytes(before.RSS)))
		}
	}
	if res.Failed > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d connections failed; per-connection figures count only the %d opened",
			res.Failed, res.Opened))
	}
	return res, nil
}

// sleepCtx sleeps for d or until ctx ends; it reports whether the full time passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func rateText(r float64) string {
	if r <= 0 {
		return "unlimited rate"
	}
	return fmtFloat(r) + " connects/s"
}
