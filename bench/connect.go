package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"
)

// Connect is a handshake storm: --conns connections opened as fast as --concurrency allows (no rate limit by
// default), over WebSocket or, with --transport polling, over long-polling then upgraded to WebSocket as the
// JavaScript client does; then all are closed.
type Connect struct {
	Transport string        `json:"transport"`
	Settle    time.Duration `json:"settle"`
}

func init() {
	Register("connect", func() Scenario { return &Connect{Transport: "websocket", Settle: 500 * time.Millisecond} })
}

// Summary implements Scenario.
func (s *Connect) Summary() string {
	return "handshake storm: open --conns at --concurrency (websocket, or polling then upgrade), then close; connects/s, connect time, server CPU per connect"
}

// Flags implements Scenario.
func (s *Connect) Flags(fs *flag.FlagSet) {
	fs.StringVar(&s.Transport, "transport", s.Transport, "websocket, or polling (handshake and CONNECT over polling, then upgrade)")
	fs.DurationVar(&s.Settle, "settle", s.Settle, "wait after the last connect before closing")
}

// DefaultOptions implements OptionDefaulter: 2000 connections, no rate limit, 64 handshakes at once.
func (s *Connect) DefaultOptions(o *Options) {
	o.Conns, o.Rate, o.Concurrency = 2000, 0, 64
}

// Validate implements Scenario.
func (s *Connect) Validate(o *Options) error {
	switch s.Transport {
	case "websocket", "polling":
	default:
		return errors.New("--transport must be websocket or polling")
	}
	if s.Settle < 0 {
		return errors.New("--settle must not be negative")
	}
	return nil
}

// ConnectResult is the connect scenario's result.
type ConnectResult struct {
	Scenario  string `json:"scenario" label:"scenario"`
	URL       string `json:"url" label:"endpoint"`
	Transport string `json:"transport" label:"transport"`
	Mode      string `json:"mode" label:"protocol"`
	Procs     int    `json:"procs" label:"worker processes (0: in-process)"`
	SourceIPs int    `json:"source_ips" label:"source addresses"`

	Conns       int            `json:"conns" label:"connections asked"`
	Concurrency int            `json:"concurrency" label:"handshakes in flight at most (per worker)"`
	RateAsked   float64        `json:"rate_asked" label:"rate asked (connects/s, 0: unlimited)"`
	Opened      int            `json:"opened" label:"connections opened"`
	Failed      int            `json:"failed" label:"connections failed"`
	Failures    map[string]int `json:"failures" label:"failures by kind"`
	FirstErrors []string       `json:"first_errors,omitempty" label:"first errors"`

	ConnectSeconds float64        `json:"connect_seconds" label:"connect phase (s)"`
	ConnectsPerSec float64        `json:"connects_per_sec" label:"connects/s"`
	Connect        LatencySummary `json:"connect_ms" label:"connect time (whole handshake, ms)"`
	TCPConnect     LatencySummary `json:"tcp_connect_ms" label:"TCP connect time (ms)"`
	CPUPerConnect  float64        `json:"server_cpu_per_connect_us" label:"server CPU per connect (µs)"`
	GenPerConnect  float64        `json:"generator_cpu_per_connect_us" label:"generator CPU per connect (µs)"`
	CloseSeconds   float64        `json:"close_seconds" label:"close phase (s)"`
	CPUPerClose    float64        `json:"server_cpu_per_close_us" label:"server CPU per close, 1 s after (µs)"`
	Dropped        int64          `json:"dropped" label:"dropped before the close"`
	Interrupted    bool           `json:"interrupted,omitempty" label:"interrupted"`

	ServerNote string        `json:"server_note,omitempty" label:"server process"`
	ServerPID  int           `json:"server_pid,omitempty" label:"server pid"`
	Figures    WindowFigures `json:"window" label:"connect phase"`
	WorkerPIDs []int         `json:"worker_pids" label:"worker PIDs"`
	Warnings   []string      `json:"warnings,omitempty" label:"warnings"`
}

type connectClosed struct {
	Dropped int64         `json:"dropped"`
	Elapsed time.Duration `json:"elapsed"`
}

// Work implements Scenario.
func (s *Connect) Work(ctx context.Context, w *Worker) error {
	cfg := w.ClientConfig()
	cfg.Polling = s.Transport == "polling"
	set, rep := w.OpenConns(ctx, cfg)
	if err := w.Send("opened", rep); err != nil {
		set.CloseAll(5 * time.Second)
		return err
	}
	err := w.Expect(ctx, "close", nil)
	dropped := w.Counters.Dropped.Load()
	start := time.Now()
	set.CloseAll(10 * time.Second)
	if err != nil {
		return err
	}
	return w.Send("closed", connectClosed{Dropped: dropped, Elapsed: time.Since(start)})
}

// Run implements Scenario.
func (s *Connect) Run(ctx context.Context, r *Runner) (any, error) {
	o := r.Opts
	res := &ConnectResult{
		Scenario: "connect", URL: o.wsURL.String(), Transport: s.Transport, Mode: "socket.io", Procs: o.Procs,
		SourceIPs: len(o.sourceAddrs), Conns: o.Conns, Concurrency: o.Concurrency, RateAsked: o.Rate,
		ServerPID: r.ServerPID, ServerNote: r.ServerNote,
	}
	if o.EngineIO {
		res.Mode = "engine.io"
	}
	if s.Transport == "polling" {
		res.URL = "http://" + o.wsURL.Host + pollingTarget(&ClientConfig{URL: o.wsURL}, "") + " then websocket"
	}
	if r.ServerPID <= 0 {
		res.ServerNote = "not sampled: " + r.ServerNote
	}
	r.Logf("connect: %d connections over %s to %s, %d in flight per worker, %s", o.Conns, s.Transport, o.wsURL.Host,
		o.Concurrency, rateText(o.Rate))

	var m0 windowMark
	m0.At, m0.ParentCPU = time.Now(), processCPU(false)
	m0.Server, m0.HaveServer = r.SampleServer()
	if m0.HaveServer {
		m0.Threads = threadCPU(r.ServerPID)
	}
	m0.Machine, m0.HaveMachine = sampleMachineCPU()
	r.Phase("connecting", o.Conns)
	if err := r.StartWorkers(ctx); err != nil {
		return nil, err
	}
	tally := newOpenTally()
	interrupted, err := r.Gather(ctx, "opened", openPhaseLimit(o), o.ConnectTimeout+10*time.Second, tally.gather)
	if err != nil {
		return nil, err
	}
	m1 := windowMark{At: time.Now(), ParentCPU: processCPU(false), WorkerCPU: tally.WorkerCPU}
	m1.Server, m1.HaveServer = r.SampleServer()
	if m1.HaveServer {
		m1.Threads = threadCPU(r.ServerPID)
	}
	m1.Machine, m1.HaveMachine = sampleMachineCPU()
	if o.Procs == 0 {
		m1.WorkerCPU = 0 // counted in the parent's own CPU
	}
	res.Interrupted = interrupted
	res.Opened, res.Failed, res.Failures, res.FirstErrors, res.WorkerPIDs = tally.Opened, tally.Failed, tally.Failures,
		tally.FirstErrors, tally.PIDs
	res.ConnectSeconds = roundTo(tally.Elapsed.Seconds(), 3)
	res.ConnectsPerSec = tally.perSec()
	res.Connect, res.TCPConnect = tally.Connect.Summary(), tally.TCP.Summary()
	res.Figures = figures(m0, m1, o.Rate > 0)
	if r.ServerPID > 0 {
		res.CPUPerConnect = perOp(res.Figures.ServerCPUSeconds, int64(res.Opened))
	}
	res.GenPerConnect = perOp(res.Figures.GeneratorCPUSeconds, int64(res.Opened))
	r.Logf("connect: %d open, %d failed in %.2fs (%.0f/s); connect p50 %.2f ms p99 %.2f ms; server %.1f µs/connect",
		res.Opened, res.Failed, tally.Elapsed.Seconds(), res.ConnectsPerSec, res.Connect.P50, res.Connect.P99, res.CPUPerConnect)

	r.Phase("settling", res.Opened)
	if !interrupted {
		sleepCtx(ctx, s.Settle)
	}
	before, _ := r.SampleServer()
	r.Phase("closing", 0)
	if err := r.Broadcast("close", nil); err != nil {
		return nil, err
	}
	var closeElapsed time.Duration
	_, err = r.Gather(context.WithoutCancel(ctx), "closed", 30*time.Second, 0, func(_ int, data json.RawMessage) error {
		var c connectClosed
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		res.Dropped += c.Dropped
		closeElapsed = max(closeElapsed, c.Elapsed)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.CloseSeconds = roundTo(closeElapsed.Seconds(), 3)
	if r.ServerPID > 0 {
		sleepCtx(context.WithoutCancel(ctx), time.Second)
		if after, ok := r.SampleServer(); ok {
			res.CPUPerClose = perOp((after.CPU - before.CPU).Seconds(), int64(res.Opened))
		}
	}
	if err := r.Close(); err != nil {
		r.Logf("connect: workers: %v", err)
	}
	if res.Failed > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d connections failed: %v", res.Failed, res.Failures))
	}
	if res.Dropped > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d connections were dropped before the close", res.Dropped))
	}
	return res, nil
}
