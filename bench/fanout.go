package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fanout measures room broadcast: subscribers join a room through their CONNECT auth ({"room":"bench"}); one
// publisher socket, not in the room, emits "broadcast" with (room, {"t":<send time ns>,"seq":n,"pad":"..."}) and
// the server sends event "broadcast" with that object to every member. Subscribers record the latency (receive
// time minus t, on the machine's shared clock), count deliveries and check that every seq arrives.
//
// At a fixed --rate the publisher is paced (deliveries/s = rate × subscribers). With --rate max it saturates the
// server without letting queues grow: it publishes while fewer than --window messages are outstanding, a message
// being done when every subscriber has it (each worker counts completions and tells the parent).
type Fanout struct {
	Subscribers  int           `json:"subscribers"`
	Rate         float64       `json:"rate"` // messages per second; 0 means max (saturation)
	DeliveryRate float64       `json:"delivery_rate"`
	Window       int           `json:"window"`
	Room         string        `json:"room"`
	Warmup       time.Duration `json:"warmup"`
	Duration     time.Duration `json:"duration"`
	Drain        time.Duration `json:"drain"`
	Stall        time.Duration `json:"stall"`
	ReadBuffer   int           `json:"read_buffer"`
	ConnectRate  float64       `json:"connect_rate"`
	// PublisherURL puts the publisher on another server than the subscribers (a cluster node: the broadcast
	// crosses the cluster's adapter). Empty: the publisher uses --url.
	PublisherURL string `json:"publisher_url,omitempty"`
	rateSet      bool
}

func newFanout() Scenario {
	return &Fanout{Rate: 20, Window: defaultFanoutWindow, Room: "bench", Warmup: 2 * time.Second, Duration: 8 * time.Second,
		Drain: 20 * time.Second, Stall: 5 * time.Second, ReadBuffer: 4096, ConnectRate: 2000}
}

func init() { Register("fanout", newFanout) }

// defaultFanoutWindow is how far (in messages) the slowest subscriber may be behind the publisher at saturation:
// a bound on every subscriber's queue, the same whatever the audience.
const defaultFanoutWindow = 16

// Summary implements Scenario.
func (s *Fanout) Summary() string {
	return "room broadcast: --subscribers in a room, one publisher at --rate msg/s or max; delivered msgs/s, latency, loss, server CPU per delivery"
}

type msgRateFlag struct{ s *Fanout }

func (f msgRateFlag) String() string {
	if f.s == nil {
		return ""
	}
	if f.s.Rate == 0 {
		return "max"
	}
	return strconv.FormatFloat(f.s.Rate, 'g', -1, 64)
}

func (f msgRateFlag) Set(v string) error {
	v = strings.TrimSuffix(strings.TrimSpace(v), "/s")
	f.s.rateSet = true
	if v == "max" {
		f.s.Rate = 0
		return nil
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return errors.New("want messages per second (a positive number) or max")
	}
	f.s.Rate = r
	return nil
}

// Flags implements Scenario.
func (s *Fanout) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Subscribers, "subscribers", s.Subscribers, "subscribers in the room (default: --conns)")
	fs.Var(msgRateFlag{s}, "rate", "messages published per second, or max (saturation with a window of outstanding messages)")
	fs.Float64Var(&s.DeliveryRate, "delivery-rate", s.DeliveryRate, "deliveries per second: sets --rate to this / subscribers")
	fs.IntVar(&s.Window, "window", s.Window, "with --rate max: messages outstanding at most (the slowest subscriber's lag)")
	fs.StringVar(&s.Room, "room", s.Room, "room the subscribers join (auth {\"room\":...})")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "publishing time before the measured window")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "measured window")
	fs.DurationVar(&s.Drain, "drain", s.Drain, "longest wait for the last deliveries after publishing stops")
	fs.DurationVar(&s.Stall, "stall", s.Stall, "with --rate max: give up when no message completes for this long")
	fs.IntVar(&s.ReadBuffer, "read-buffer", s.ReadBuffer, "each subscriber's read buffer (bytes)")
	fs.StringVar(&s.PublisherURL, "publisher-url", s.PublisherURL, "server URL of the publisher, when it is another node of a cluster (default: --url)")
	fs.Var((*rateFlag)(&s.ConnectRate), "connect-rate", "connects per second while the subscribers connect (0: unlimited)")
}

// Validate implements Scenario.
func (s *Fanout) Validate(o *Options) error {
	if s.Subscribers < 0 || s.Window < 1 || s.Window > 512 {
		return errors.New("--subscribers must be positive and --window between 1 and 512")
	}
	if s.Subscribers > 0 {
		o.Conns = s.Subscribers
	}
	s.Subscribers = o.Conns
	if s.DeliveryRate < 0 {
		return errors.New("--delivery-rate must be positive")
	}
	if s.DeliveryRate > 0 {
		if s.rateSet {
			return errors.New("give --rate or --delivery-rate, not both")
		}
		s.Rate = s.DeliveryRate / float64(max(s.Subscribers, 1))
	}
	if s.Rate > 0 {
		s.Window = 0
	}
	if s.Room == "" {
		return errors.New("--room must not be empty")
	}
	if s.Warmup < 0 || s.Duration <= 0 || s.Drain < 0 || s.Stall <= 0 {
		return errors.New("--duration and --stall must be positive, --warmup and --drain not negative")
	}
	if s.ReadBuffer < 256 || s.ReadBuffer > 1<<20 {
		return errors.New("--read-buffer must be between 256 and 1 MiB")
	}
	o.Rate = s.ConnectRate
	if o.Auth == "" {
		room, _ := json.Marshal(s.Room)
		o.Auth = `{"room":` + string(room) + `}`
	}
	if o.EngineIO {
		return errors.New("fanout needs Socket.IO (no --engineio)")
	}
	return nil
}

// FanoutResult is the fanout scenario's result.
type FanoutResult struct {
	Scenario  string `json:"scenario" label:"scenario"`
	URL       string `json:"url" label:"endpoint"`
	Mode      string `json:"mode" label:"mode"`
	Room      string `json:"room" label:"room"`
	Procs     int    `json:"procs" label:"worker processes (0: in-process)"`
	SourceIPs int    `json:"source_ips" label:"source addresses"`

	Subscribers    int            `json:"subscribers" label:"subscribers asked"`
	Ready          int            `json:"ready" label:"subscribers ready (in the room)"`
	Failed         int            `json:"failed" label:"subscribers failed to connect"`
	Failures       map[string]int `json:"failures" label:"failures by kind"`
	FirstErrors    []string       `json:"first_errors,omitempty" label:"first errors"`
	ConnectsPerSec float64        `json:"connects_per_sec" label:"subscriber connects/s"`

	RateAsked      float64 `json:"rate_asked" label:"publish rate asked (msg/s, 0: max)"`
	Window         int     `json:"window_size,omitempty" label:"window (messages outstanding at most)"`
	Published      int64   `json:"published" label:"messages published"`
	PublishRate    float64 `json:"publish_rate" label:"publish rate in the window (msg/s)"`
	Expected       int64   `json:"expected_deliveries" label:"deliveries expected (published × ready)"`
	Delivered      int64   `json:"delivered" label:"deliveries"`
	WindowDeliver  int64   `json:"window_deliveries" label:"deliveries in the window"`
	DeliveredPerS  float64 `json:"delivered_per_sec" label:"delivered msgs/s"`
	Lost           int64   `json:"lost" label:"lost deliveries"`
	OutOfOrder     int64   `json:"out_of_order" label:"duplicate or out-of-order deliveries"`
	Unparsed       int64   `json:"unparsed" label:"messages not understood"`
	Dropped        int64   `json:"dropped" label:"subscribers dropped"`
	Stalled        bool    `json:"stalled,omitempty" label:"stalled (no completion within --stall)"`
	Interrupted    bool    `json:"interrupted,omitempty" label:"interrupted"`
	DrainSeconds   float64 `json:"drain_seconds" label:"drain after publishing (s)"`
	PublisherError string  `json:"publisher_error,omitempty" label:"publisher error"`

	Latency   LatencySummary `json:"latency_ms" label:"latency, publish to delivery (ms, window)"`
	CPUPerMsg float64        `json:"server_cpu_per_delivery_us" label:"server CPU per delivered message (µs)"`
	GenPerMsg float64        `json:"generator_cpu_per_delivery_us" label:"generator CPU per delivered message (µs)"`

	ServerNote string        `json:"server_note,omitempty" label:"server process"`
	ServerPID  int           `json:"server_pid,omitempty" label:"server pid"`
	Figures    WindowFigures `json:"window" label:"window"`
	WorkerPIDs []int         `json:"worker_pids" label:"worker PIDs"`
	Warnings   []string      `json:"warnings,omitempty" label:"warnings"`
}

type fanoutReady struct {
	Open   *OpenReport `json:"open"`
	Joined int         `json:"joined"`
}

type fanoutFinish struct {
	Published int64 `json:"published"`
}

type fanoutWorkerResult struct {
	Delivered  int64         `json:"delivered"`
	Lost       int64         `json:"lost"`
	OutOfOrder int64         `json:"out_of_order"`
	Unparsed   int64         `json:"unparsed"`
	Dropped    int64         `json:"dropped"`
	Latency    *Histogram    `json:"latency"`
	Drain      time.Duration `json:"drain"`
}

type fanoutSub struct {
	tr      seqTracker
	joined  bool
	counted bool // in the room before the completion ring was made: its deliveries count towards completions
}

// Work implements Scenario.
func (s *Fanout) Work(ctx context.Context, w *Worker) error {
	var (
		joined    atomic.Int64
		measuring atomic.Bool
		delivered atomic.Int64
		unparsed  atomic.Int64
		comp      atomic.Pointer[completion]
		lat       AtomicHistogram
		joinMu    sync.Mutex // orders joins against the making of the completion ring
		ringMade  bool
	)
	cfg := w.ClientConfig()
	cfg.ReadBufferSize = s.ReadBuffer
	cfg.OnReady = func(c *Conn) { c.Value = &fanoutSub{} }
	cfg.OnMessage = func(c *Conn, p []byte, _ bool) {
		sub := c.Value.(*fanoutSub)
		if t, seq, ok := parseFanout(p); ok {
			now := time.Now().UnixNano()
			if sub.tr.add(seq) && sub.counted {
				if cp := comp.Load(); cp != nil {
					cp.add(seq)
				}
			}
			delivered.Add(1)
			if measuring.Load() {
				lat.Record(time.Duration(now - t))
			}
			return
		}
		if isEvent(p, "auth") {
			joinMu.Lock()
			if !sub.joined {
				sub.joined, sub.counted = true, !ringMade
				joined.Add(1)
			}
			joinMu.Unlock()
			return
		}
		unparsed.Add(1)
	}
	set, rep := w.OpenConns(ctx, cfg)
	defer set.CloseAll(5 * time.Second)
	// A subscriber is in the room once the server has sent "auth" (the contract joins the room before that).
	deadline := time.Now().Add(w.Spec.ConnectTimeout)
	for joined.Load() < int64(rep.Opened) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	joinMu.Lock()
	nJoined := int(joined.Load())
	ringMade = true
	var cp *completion
	if s.Rate == 0 && nJoined > 0 {
		cp = newCompletion(1024, nJoined)
		comp.Store(cp)
	}
	joinMu.Unlock()
	var feedback sync.WaitGroup
	stopFeedback := make(chan struct{})
	if cp != nil {
		feedback.Add(1)
		go func() {
			defer feedback.Done()
			last := int64(-1)
			for {
				select {
				case <-cp.bumps:
				case <-stopFeedback:
					return
				}
				if d := cp.done.Load(); d > last {
					last = d
					if w.Send("done", d) != nil {
						return
					}
				}
			}
		}()
	}
	defer func() {
		close(stopFeedback)
		feedback.Wait()
	}()
	if err := w.Send("ready", fanoutReady{Open: rep, Joined: nJoined}); err != nil {
		return err
	}
	for {
		typ, data, err := w.Next(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case "measure", "endmeasure":
			measuring.Store(typ == "measure")
			if err := w.Send("mark", workerMark{Count: delivered.Load(), CPU: workerCPU(w)}); err != nil {
				return err
			}
		case "finish":
			var fin fanoutFinish
			if err := json.Unmarshal(data, &fin); err != nil {
				return err
			}
			// Wait for the last deliveries: until every joined subscriber could have everything, or nothing
			// arrives for 3 s (a stop longer than a GC pause), or the drain time is up.
			start := time.Now()
			target := fin.Published * int64(nJoined)
			last, lastChange := delivered.Load(), time.Now()
			for delivered.Load() < target && time.Since(start) < s.Drain && time.Since(lastChange) < 3*time.Second {
				time.Sleep(10 * time.Millisecond)
				if d := delivered.Load(); d != last {
					last, lastChange = d, time.Now()
				}
			}
			drain := time.Since(start)
			set.CloseAll(10 * time.Second)
			res := fanoutWorkerResult{Delivered: delivered.Load(), Unparsed: unparsed.Load(), Latency: lat.Snapshot(),
				Drain: drain, Dropped: w.Counters.Dropped.Load()}
			for _, c := range set.Conns {
				sub, ok := c.Value.(*fanoutSub)
				if !ok || !sub.counted { // only the subscribers in the room before publishing began
					continue
				}
				res.Lost += sub.tr.lost(fin.Published)
				res.OutOfOrder += sub.tr.outOfOrder
			}
			return w.Send("result", res)
		default:
			return fmt.Errorf("fanout: unexpected command %q", typ)
		}
	}
}

// publisher emits the broadcast events from the parent process.
type publisher struct {
	conn      *Conn
	room      string
	buf       []byte
	published atomic.Int64
	err       error
	stalled   bool
}

func (p *publisher) send(seq int64) error {
	p.buf = appendFanoutPublish(p.buf[:0], p.room, time.Now().UnixNano(), seq)
	if err := p.conn.Send(p.buf); err != nil {
		return err
	}
	p.published.Store(seq + 1)
	return nil
}

// runPaced publishes at a fixed rate until stop is closed.
func (p *publisher) runPaced(rate float64, stop <-chan struct{}) {
	pace := Pacer{Start: time.Now(), Rate: rate}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var n int64
	for {
		for due := pace.Due(time.Now()); n < due; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if p.err = p.send(n); p.err != nil {
				return
			}
		}
		timer.Reset(max(time.Until(pace.At(n)), 100*time.Microsecond))
		select {
		case <-timer.C:
		case <-stop:
			return
		}
	}
}

// runWindowed publishes while fewer than window messages are outstanding, until stop is closed or no message
// completes for stall.
func (p *publisher) runWindowed(window int, completed *atomic.Int64, bumps <-chan struct{}, stall time.Duration, stop <-chan struct{}) {
	timer := time.NewTimer(stall)
	defer timer.Stop()
	var n int64
	lastDone := completed.Load()
	for {
		for windowOpen(n, completed.Load(), window) {
			select {
			case <-stop:
				return
			default:
			}
			if p.err = p.send(n); p.err != nil {
				return
			}
			n++
		}
		select {
		case <-bumps:
			if d := completed.Load(); d != lastDone {
				lastDone = d
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(stall)
			}
		case <-timer.C:
			p.stalled = true
			return
		case <-stop:
			return
		}
	}
}

// Run implements Scenario.
func (s *Fanout) Run(ctx context.Context, r *Runner) (any, error) {
	o := r.Opts
	res := &FanoutResult{
		Scenario: "fanout", URL: o.wsURL.String(), Mode: "fixed rate", Room: s.Room, Procs: o.Procs,
		SourceIPs: len(o.sourceAddrs), Subscribers: o.Conns, RateAsked: roundTo(s.Rate, 4), Window: s.Window,
		Failures: map[string]int{},
	}
	if s.Rate == 0 {
		res.Mode = "saturation"
	}
	res.ServerNote = r.ServerNote
	if r.ServerPID <= 0 {
		res.ServerNote = "not sampled: " + r.ServerNote
	}
	res.ServerPID = r.ServerPID
	what := fmt.Sprintf("%s msg/s (%s deliveries/s)", fmtFloat(s.Rate), fmtFloat(s.Rate*float64(o.Conns)))
	if s.Rate == 0 {
		what = fmt.Sprintf("max, window %d", s.Window)
	}
	r.Logf("fanout: %d subscribers in room %q at %s, publisher %s; %d worker(s)", o.Conns, s.Room, res.URL, what, max(o.Procs, 1))

	// Completions from the workers (saturation): the slowest worker's highest complete seq.
	var (
		doneMu    sync.Mutex
		doneBy    = map[int]int64{}
		completed atomic.Int64
		bumps     = make(chan struct{}, 1)
	)
	completed.Store(-1)
	nWorkers := max(o.Procs, 1)
	r.Handle("done", func(worker int, data json.RawMessage) {
		var d int64
		if json.Unmarshal(data, &d) != nil {
			return
		}
		doneMu.Lock()
		doneBy[worker] = d
		low := int64(math.MaxInt64)
		if len(doneBy) < nWorkers {
			low = -1
		}
		for _, v := range doneBy {
			low = min(low, v)
		}
		doneMu.Unlock()
		completed.Store(low)
		select {
		case bumps <- struct{}{}:
		default:
		}
	})

	r.Phase("connecting", o.Conns)
	if err := r.StartWorkers(ctx); err != nil {
		return nil, err
	}
	tally := newOpenTally()
	interrupted, err := r.Gather(ctx, "ready", openPhaseLimit(o), 2*o.ConnectTimeout+10*time.Second, func(_ int, data json.RawMessage) error {
		var rd fanoutReady
		if err := json.Unmarshal(data, &rd); err != nil {
			return err
		}
		if rd.Open != nil {
			tally.add(rd.Open)
		}
		res.Ready += rd.Joined
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Failed, res.Failures, res.FirstErrors, res.WorkerPIDs = tally.Failed, tally.Failures, tally.FirstErrors, tally.PIDs
	res.ConnectsPerSec = tally.perSec()
	r.Logf("fanout: %d subscribers in the room, %d failed (%.0f connects/s)", res.Ready, res.Failed, res.ConnectsPerSec)
	if res.Ready < tally.Opened {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d subscribers connected but never got the \"auth\" event "+
			"(not counted as in the room)", tally.Opened-res.Ready))
	}
	if res.Ready == 0 {
		return res, errors.New("no subscriber is in the room")
	}

	// The publisher: not in the room (no auth).
	pcfg := &ClientConfig{URL: o.wsURL, Namespace: "/", Timeout: o.ConnectTimeout, Insecure: o.Insecure}
	if s.PublisherURL != "" {
		u, err := buildURL(s.PublisherURL, o.Path, o.EngineIO)
		if err != nil {
			return res, fmt.Errorf("--publisher-url: %w", err)
		}
		pcfg.URL = u
	}
	var src netip.Addr
	if len(o.sourceAddrs) > 0 {
		src, _ = netip.ParseAddr(o.sourceAddrs[0])
	}
	pconn, _, err := Dial(ctx, pcfg, src)
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer pconn.Close()
	pub := &publisher{conn: pconn, room: s.Room}
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if s.Rate > 0 {
			pub.runPaced(s.Rate, stop)
		} else {
			pub.runWindowed(s.Window, &completed, bumps, s.Stall, stop)
		}
	}()
	stopPublisher := func() {
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		_ = pconn.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		<-pubDone
	}
	defer stopPublisher()

	r.Phase("warmup", 0)
	if !interrupted {
		interrupted = !sleepCtx(ctx, s.Warmup)
	}
	r.Phase("measuring", 0)
	m0, err := r.mark(ctx, "measure")
	if err != nil {
		return nil, err
	}
	p0 := pub.published.Load()
	if !interrupted {
		interrupted = !sleepCtx(ctx, s.Duration)
	}
	m1, err := r.mark(ctx, "endmeasure")
	if err != nil {
		return nil, err
	}
	p1 := pub.published.Load()
	stopPublisher()
	res.Interrupted = interrupted
	res.Published = pub.published.Load()
	res.Stalled = pub.stalled
	if pub.err != nil {
		res.PublisherError = pub.err.Error()
	}

	r.Phase("draining", 0)
	if err := r.Broadcast("finish", fanoutFinish{Published: res.Published}); err != nil {
		return nil, err
	}
	lat := &Histogram{}
	var drain time.Duration
	_, err = r.Gather(context.WithoutCancel(ctx), "result", s.Drain+30*time.Second, 0, func(_ int, data json.RawMessage) error {
		var wr fanoutWorkerResult
		if err := json.Unmarshal(data, &wr); err != nil {
			return err
		}
		res.Delivered += wr.Delivered
		res.Lost += wr.Lost
		res.OutOfOrder += wr.OutOfOrder
		res.Unparsed += wr.Unparsed
		res.Dropped += wr.Dropped
		if wr.Latency != nil {
			lat.Merge(wr.Latency)
		}
		drain = max(drain, wr.Drain)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.Close(); err != nil {
		r.Logf("fanout: workers: %v", err)
	}

	res.DrainSeconds = roundTo(drain.Seconds(), 3)
	res.Expected = res.Published * int64(res.Ready)
	res.Latency = lat.Summary()
	res.Figures = figures(m0, m1, s.Rate > 0)
	res.WindowDeliver = m1.Count - m0.Count
	if sec := m1.At.Sub(m0.At).Seconds(); sec > 0 {
		res.DeliveredPerS = roundTo(float64(res.WindowDeliver)/sec, 1)
		res.PublishRate = roundTo(float64(p1-p0)/sec, 2)
	}
	res.CPUPerMsg = perOp(res.Figures.ServerCPUSeconds, res.WindowDeliver)
	res.GenPerMsg = perOp(res.Figures.GeneratorCPUSeconds, res.WindowDeliver)
	if r.ServerPID <= 0 {
		res.CPUPerMsg = 0
	}
	if res.Lost > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d deliveries lost (of %d expected)", res.Lost, res.Expected))
	}
	if res.OutOfOrder > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d deliveries duplicated or out of order", res.OutOfOrder))
	}
	if res.Stalled {
		res.Warnings = append(res.Warnings, fmt.Sprintf("publishing stalled: no message completed for %v", s.Stall))
	}
	if s.Rate > 0 && res.PublishRate < 0.95*s.Rate && !interrupted {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the publisher fell behind: %.2f msg/s of %.2f asked", res.PublishRate, s.Rate))
	}
	if res.Dropped > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d subscribers were disconnected during the run", res.Dropped))
	}
	r.Logf("fanout: %.0f delivered msgs/s, latency p50 %.2f ms p99 %.2f ms, lost %d, server %.2f µs/msg",
		res.DeliveredPerS, res.Latency.P50, res.Latency.P99, res.Lost, res.CPUPerMsg)
	return res, nil
}
