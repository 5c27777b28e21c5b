package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Echo is a closed loop of acknowledged events over WebSocket: each of --clients sockets emits
// "message-with-ack" with a small payload, waits for the ack, and emits the next one at once.
type Echo struct {
	Clients     int           `json:"clients"`
	Payload     int           `json:"payload"`
	Warmup      time.Duration `json:"warmup"`
	Duration    time.Duration `json:"duration"`
	AckTimeout  time.Duration `json:"ack_timeout"`
	ConnectRate float64       `json:"connect_rate"`
}

func init() {
	Register("echo", func() Scenario {
		return &Echo{Payload: 16, Warmup: time.Second, Duration: 5 * time.Second, AckTimeout: 10 * time.Second}
	})
}

// DefaultOptions implements OptionDefaulter: 50 clients, connected without a rate limit.
func (s *Echo) DefaultOptions(o *Options) { o.Conns, o.Rate = 50, 0 }

// Summary implements Scenario.
func (s *Echo) Summary() string {
	return "closed loop over WebSocket: --clients each emit message-with-ack and wait for the ack; acks/s, RTT, server CPU per ack"
}

// Flags implements Scenario.
func (s *Echo) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Clients, "clients", s.Clients, "clients in the loop (default: --conns)")
	fs.IntVar(&s.Payload, "payload", s.Payload, "length of the string sent in each event")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "time in the loop before the measured window")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "measured window")
	fs.DurationVar(&s.AckTimeout, "ack-timeout", s.AckTimeout, "how long the end of the run waits for the last acks")
}

// Validate implements Scenario.
func (s *Echo) Validate(o *Options) error {
	return validateLoop(o, &s.Clients, s.Payload, s.Warmup, s.Duration, s.AckTimeout)
}

func validateLoop(o *Options, clients *int, payload int, warmup, duration, ackTimeout time.Duration) error {
	if *clients < 0 {
		return errors.New("--clients must be positive")
	}
	if *clients > 0 {
		o.Conns = *clients
	}
	*clients = o.Conns
	if payload < 0 || payload > 1<<20 {
		return errors.New("--payload must be between 0 and 1 MiB")
	}
	if warmup < 0 || duration <= 0 || ackTimeout <= 0 {
		return errors.New("--duration and --ack-timeout must be positive, --warmup not negative")
	}
	if o.EngineIO {
		return errors.New("this scenario needs Socket.IO (no --engineio)")
	}
	return nil
}

// echoPayload returns the JSON argument of the echo events: {"p":"xxxx..."} with a string of n bytes.
func echoPayload(n int) []byte {
	b := append(make([]byte, 0, n+8), `{"p":"`...)
	for i := 0; i < n; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, `"}`...)
}

// AckLoopResult is the result of the closed-loop scenarios (echo over WebSocket, polling over HTTP).
type AckLoopResult struct {
	Scenario  string `json:"scenario" label:"scenario"`
	URL       string `json:"url" label:"endpoint"`
	Transport string `json:"transport" label:"transport"`
	Procs     int    `json:"procs" label:"worker processes (0: in-process)"`

	Clients     int            `json:"clients" label:"clients asked"`
	Opened      int            `json:"opened" label:"clients connected"`
	Failed      int            `json:"failed" label:"clients failed to connect"`
	Failures    map[string]int `json:"failures" label:"failures by kind"`
	FirstErrors []string       `json:"first_errors,omitempty" label:"first errors"`
	Payload     int            `json:"payload" label:"payload string (bytes)"`

	Acks           int64          `json:"acks" label:"acks, whole run"`
	WindowAcks     int64          `json:"window_acks" label:"acks in the window"`
	AcksPerSec     float64        `json:"acks_per_sec" label:"acks/s (msgs/s)"`
	Requests       int64          `json:"http_requests,omitempty" label:"HTTP requests, whole run"`
	RequestsPerAck float64        `json:"http_requests_per_ack,omitempty" label:"HTTP requests per ack"`
	RTT            LatencySummary `json:"rtt_ms" label:"round trip, emit to ack (ms, window)"`
	CPUPerAck      float64        `json:"server_cpu_per_ack_us" label:"server CPU per ack (µs)"`
	GenPerAck      float64        `json:"generator_cpu_per_ack_us" label:"generator CPU per ack (µs)"`
	BadAcks        int64          `json:"bad_acks" label:"acks with an unexpected id"`
	Unanswered     int64          `json:"unanswered" label:"emits never answered"`
	Dropped        int64          `json:"dropped" label:"clients dropped"`
	ClientErrors   []string       `json:"client_errors,omitempty" label:"client errors"`
	Interrupted    bool           `json:"interrupted,omitempty" label:"interrupted"`
	ServerNote     string         `json:"server_note,omitempty" label:"server process"`
	ServerPID      int            `json:"server_pid,omitempty" label:"server pid"`
	Figures        WindowFigures  `json:"window" label:"window"`
	WorkerPIDs     []int          `json:"worker_pids" label:"worker PIDs"`
	Warnings       []string       `json:"warnings,omitempty" label:"warnings"`
}

// ackLoopWorkerResult is a worker's account at the end of a closed loop.
type ackLoopWorkerResult struct {
	Acks       int64      `json:"acks"`
	BadAcks    int64      `json:"bad_acks"`
	Unanswered int64      `json:"unanswered"`
	Dropped    int64      `json:"dropped"`
	Requests   int64      `json:"requests"`
	RTT        *Histogram `json:"rtt"`
	Errors     []string   `json:"errors,omitempty"`
}

type echoState struct {
	id     atomic.Int64 // ack id of the emit in flight
	sentAt atomic.Int64 // its send time, ns
	buf    []byte
}

// Work implements Scenario.
func (s *Echo) Work(ctx context.Context, w *Worker) error {
	var (
		running, measuring  atomic.Bool
		acks, bad, inFlight atomic.Int64
		sendErrs            atomic.Int64
		firstErr            atomic.Pointer[string]
		rtt                 AtomicHistogram
		payload             = echoPayload(s.Payload)
		cfg                 = w.ClientConfig()
		allAnswered         = make(chan struct{}, 1)
		emit                func(c *Conn)
	)
	signalIfAllAnswered := func() {
		if inFlight.Load() == 0 {
			select {
			case allAnswered <- struct{}{}:
			default:
			}
		}
	}
	emit = func(c *Conn) {
		st := c.Value.(*echoState)
		id := st.id.Add(1)
		st.buf = appendEventPacket(st.buf[:0], id, "message-with-ack", payload)
		st.sentAt.Store(time.Now().UnixNano())
		inFlight.Add(1)
		if err := c.Send(st.buf); err != nil {
			inFlight.Add(-1)
			sendErrs.Add(1)
			msg := err.Error()
			firstErr.CompareAndSwap(nil, &msg)
			signalIfAllAnswered()
		}
	}
	cfg.OnReady = func(c *Conn) { c.Value = &echoState{} }
	cfg.OnMessage = func(c *Conn, p []byte, _ bool) {
		id, ok := parseAckID(p)
		if !ok {
			return // the "auth" event
		}
		st := c.Value.(*echoState)
		if id != st.id.Load() {
			bad.Add(1)
			return
		}
		d := time.Duration(time.Now().UnixNano() - st.sentAt.Load())
		acks.Add(1)
		if measuring.Load() {
			rtt.Record(d)
		}
		inFlight.Add(-1)
		if running.Load() {
			emit(c)
		} else {
			signalIfAllAnswered()
		}
	}
	set, rep := w.OpenConns(ctx, cfg)
	defer set.CloseAll(5 * time.Second)
	if err := w.Send("ready", rep); err != nil {
		return err
	}
	return workerLoop(ctx, w, &measuring, acks.Load, func() {
		running.Store(true)
		for _, c := range set.Conns {
			emit(c)
		}
	}, func() any {
		running.Store(false)
		waitZero(&inFlight, allAnswered, s.AckTimeout)
		unanswered := inFlight.Load()
		set.CloseAll(5 * time.Second)
		res := ackLoopWorkerResult{Acks: acks.Load(), BadAcks: bad.Load(), Unanswered: unanswered,
			Dropped: w.Counters.Dropped.Load(), RTT: rtt.Snapshot()}
		if e := firstErr.Load(); e != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%d sends failed, first: %s", sendErrs.Load(), *e))
		}
		return res
	})
}

// Run implements Scenario.
func (s *Echo) Run(ctx context.Context, r *Runner) (any, error) {
	return runAckLoop(ctx, r, "echo", "websocket", s.Payload, closedLoop{Warmup: s.Warmup, Duration: s.Duration,
		FinishLimit: s.AckTimeout + 30*time.Second})
}

// runAckLoop drives echo and polling and fills their common result.
func runAckLoop(ctx context.Context, r *Runner, name, transport string, payload int, cl closedLoop) (*AckLoopResult, error) {
	o := r.Opts
	res := &AckLoopResult{Scenario: name, URL: o.wsURL.String(), Transport: transport, Procs: o.Procs, Clients: o.Conns,
		Payload: payload, ServerPID: r.ServerPID, ServerNote: r.ServerNote}
	if transport == "polling" {
		res.URL = "http://" + o.wsURL.Host + pollingTarget(&ClientConfig{URL: o.wsURL}, "")
	}
	if r.ServerPID <= 0 {
		res.ServerNote = "not sampled: " + r.ServerNote
	}
	r.Logf("%s: %d clients over %s to %s, %d worker(s)", name, o.Conns, transport, res.URL, max(o.Procs, 1))
	rtt := &Histogram{}
	run, err := cl.run(ctx, r, func(data json.RawMessage) error {
		var wr ackLoopWorkerResult
		if err := json.Unmarshal(data, &wr); err != nil {
			return err
		}
		res.Acks += wr.Acks
		res.BadAcks += wr.BadAcks
		res.Unanswered += wr.Unanswered
		res.Dropped += wr.Dropped
		res.Requests += wr.Requests
		res.ClientErrors = append(res.ClientErrors, wr.Errors...)
		if wr.RTT != nil {
			rtt.Merge(wr.RTT)
		}
		return nil
	})
	if run != nil {
		t := run.Tally
		res.Opened, res.Failed, res.Failures, res.FirstErrors, res.WorkerPIDs = t.Opened, t.Failed, t.Failures, t.FirstErrors, t.PIDs
	}
	if err != nil {
		return res, err
	}
	res.Interrupted = run.Interrupted
	res.RTT = rtt.Summary()
	res.Figures = figures(run.M0, run.M1, false)
	res.WindowAcks = run.M1.Count - run.M0.Count
	if sec := run.M1.At.Sub(run.M0.At).Seconds(); sec > 0 {
		res.AcksPerSec = roundTo(float64(res.WindowAcks)/sec, 1)
	}
	if r.ServerPID > 0 {
		res.CPUPerAck = perOp(res.Figures.ServerCPUSeconds, res.WindowAcks)
	}
	res.GenPerAck = perOp(res.Figures.GeneratorCPUSeconds, res.WindowAcks)
	if res.Requests > 0 && res.Acks > 0 {
		res.RequestsPerAck = roundTo(float64(res.Requests)/float64(res.Acks), 2)
	}
	if res.Failed > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d clients failed to connect", res.Failed))
	}
	if res.BadAcks > 0 || res.Unanswered > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d acks with a wrong id, %d emits unanswered", res.BadAcks, res.Unanswered))
	}
	if res.Dropped > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d clients were disconnected during the run", res.Dropped))
	}
	r.Logf("%s: %s acks/s, RTT p50 %.3f ms p99 %.3f ms, server %.2f µs/ack", name, strconv.FormatFloat(res.AcksPerSec, 'f', 0, 64),
		res.RTT.P50, res.RTT.P99, res.CPUPerAck)
	return res, nil
}

// waitZero waits until n is 0 (wake is signalled when it may have become 0), at most limit.
func waitZero(n *atomic.Int64, wake <-chan struct{}, limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for n.Load() > 0 {
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			return
		}
	}
}
