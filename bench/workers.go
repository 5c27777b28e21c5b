package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WorkerEnv marks a process started as a bench worker: Main (and RunWorkerIfChild) then serve the worker protocol
// on standard input and output.
const WorkerEnv = "FASTIO_BENCH_WORKER"

// ProfileEnv, when set to a path, makes each worker write a CPU profile to PATH.workerN.
const ProfileEnv = "FASTIO_BENCH_CPUPROFILE"

// IsWorker reports whether this process was started as a bench worker.
func IsWorker() bool { return os.Getenv(WorkerEnv) == "1" }

// RunWorkerIfChild serves the worker protocol and exits the process when this process is a bench worker; it
// returns at once otherwise. Programs that re-execute themselves for bench (test binaries' TestMain, or a main that
// wants workers to skip its own start-up) call it first thing.
func RunWorkerIfChild() {
	if !IsWorker() {
		return
	}
	signal.Ignore(os.Interrupt)
	if err := RunWorker(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Messages between the parent and a worker are JSON lines of this shape. The parent's first line carries the
// WorkerSpec ("spec"); after that, scenarios exchange their own types. Workers send "progress" on their own every
// progressEvery, and "fatal" when Work fails.
type message struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

const progressEvery = 250 * time.Millisecond

// WorkerSpec is what a worker is told to do.
type WorkerSpec struct {
	Index     int             `json:"index"`
	Count     int             `json:"count"`
	InProcess bool            `json:"in_process"`
	Scenario  string          `json:"scenario"`
	Params    json.RawMessage `json:"params"`

	URL            string        `json:"url"` // full WebSocket URL with the Engine.IO query
	Insecure       bool          `json:"insecure,omitempty"`
	EngineIO       bool          `json:"engineio"`
	Namespace      string        `json:"namespace"`
	Auth           string        `json:"auth,omitempty"`
	ConnectTimeout time.Duration `json:"connect_timeout"`
	Conns          int           `json:"conns"` // this worker's share
	Rate           float64       `json:"rate"`  // this worker's share, connects/s, 0 unlimited
	Concurrency    int           `json:"concurrency"`
	SourceIPs      []string      `json:"source_ips"`
}

// Counters are a worker's live figures, reported to the parent for the progress line.
type Counters struct {
	Opened   atomic.Int64 // handshakes completed
	Failed   atomic.Int64 // handshakes failed
	Inflight atomic.Int64 // handshakes under way
	Dropped  atomic.Int64 // open connections ended by the server or an error
	Closed   atomic.Int64 // connections closed by us
	Stats    ClientStats  // traffic
}

// CounterValues is a snapshot of Counters.
type CounterValues struct {
	Opened        int64 `json:"opened"`
	Failed        int64 `json:"failed"`
	Inflight      int64 `json:"inflight"`
	Dropped       int64 `json:"dropped"`
	Closed        int64 `json:"closed"`
	PingsAnswered int64 `json:"pings"`
	MessagesIn    int64 `json:"msgs_in"`
	MessagesOut   int64 `json:"msgs_out"`
	BytesIn       int64 `json:"bytes_in"`
}

// Snapshot reads the counters.
func (c *Counters) Snapshot() CounterValues {
	return CounterValues{
		Opened: c.Opened.Load(), Failed: c.Failed.Load(), Inflight: c.Inflight.Load(),
		Dropped: c.Dropped.Load(), Closed: c.Closed.Load(),
		PingsAnswered: c.Stats.PingsAnswered.Load(), MessagesIn: c.Stats.MessagesIn.Load(),
		MessagesOut: c.Stats.MessagesOut.Load(), BytesIn: c.Stats.BytesIn.Load(),
	}
}

func (v *CounterValues) add(o CounterValues) {
	v.Opened += o.Opened
	v.Failed += o.Failed
	v.Inflight += o.Inflight
	v.Dropped += o.Dropped
	v.Closed += o.Closed
	v.PingsAnswered += o.PingsAnswered
	v.MessagesIn += o.MessagesIn
	v.MessagesOut += o.MessagesOut
	v.BytesIn += o.BytesIn
}

// ---------------------------------------------------------------------------------------------------------------
// Worker side.

// Worker is the worker half's view of its job: the spec, the counters, the channel to the parent, and the
// connection opener.
type Worker struct {
	Spec     WorkerSpec
	Counters Counters

	out        *json.Encoder
	outMu      sync.Mutex
	cmds       chan message
	stop       chan struct{} // closed by the parent's "stop" command
	stopOnce   sync.Once
	parentGone atomic.Bool // the input ended
	srcs       []netip.Addr
	url        *url.URL
}

// RunWorker serves one worker job: it reads the spec line from in, runs the scenario's Work, and reports on out.
// It returns when Work returns, or when in is closed (the parent went away).
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return err
		}
		return errors.New("no spec from the parent")
	}
	var first message
	if err := json.Unmarshal(sc.Bytes(), &first); err != nil || first.Type != "spec" {
		return fmt.Errorf("bad spec line: %v", err)
	}
	w := &Worker{out: json.NewEncoder(out), cmds: make(chan message, 16), stop: make(chan struct{})}
	if err := json.Unmarshal(first.Data, &w.Spec); err != nil {
		return fmt.Errorf("bad spec: %w", err)
	}
	factory, ok := scenarios[w.Spec.Scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q", w.Spec.Scenario)
	}
	s := factory()
	if len(w.Spec.Params) > 0 {
		if err := json.Unmarshal(w.Spec.Params, s); err != nil {
			return fmt.Errorf("bad scenario parameters: %w", err)
		}
	}
	var err error
	if w.url, err = url.Parse(w.Spec.URL); err != nil {
		return fmt.Errorf("bad url: %w", err)
	}
	for _, a := range w.Spec.SourceIPs {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return fmt.Errorf("bad source address: %w", err)
		}
		w.srcs = append(w.srcs, addr)
	}

	// Commands from the parent; end of input cancels the job. "stop" is handled here: it ends OpenConns early.
	go func() {
		defer cancel()
		defer close(w.cmds)
		defer w.parentGone.Store(true)
		for sc.Scan() {
			var m message
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if m.Type == "stop" {
				w.stopOnce.Do(func() { close(w.stop) })
				continue
			}
			select {
			case w.cmds <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	// Progress.
	done := make(chan struct{})
	var tick sync.WaitGroup
	tick.Add(1)
	go func() {
		defer tick.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = w.Send("progress", w.Counters.Snapshot())
			case <-done:
				return
			}
		}
	}()

	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(fmt.Sprintf("%s.worker%d", path, w.Spec.Index))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	err = s.Work(ctx, w)
	close(done)
	tick.Wait()
	_ = w.Send("progress", w.Counters.Snapshot())
	if err != nil {
		if w.parentGone.Load() {
			return nil // the parent ended the run and reports on it
		}
		_ = w.Send("fatal", err.Error())
		return err
	}
	return nil
}

// Stopped returns a channel closed when the parent sends "stop" (an interrupted run): a scenario's long phases
// should end early, and report what they have.
func (w *Worker) Stopped() <-chan struct{} { return w.stop }

// Send sends a message of type typ with v as its data to the parent.
func (w *Worker) Send(typ string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.out.Encode(message{Type: typ, Data: data})
}

// Expect waits for the parent's next command, which must be of type typ, and decodes its data into v (if non-nil).
func (w *Worker) Expect(ctx context.Context, typ string, v any) error {
	select {
	case m, ok := <-w.cmds:
		if !ok {
			return errors.New("the parent closed the channel")
		}
		if m.Type != typ {
			return fmt.Errorf("got command %q, want %q", m.Type, typ)
		}
		if v != nil && len(m.Data) > 0 {
			return json.Unmarshal(m.Data, v)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Next waits for the parent's next command, whatever its type.
func (w *Worker) Next(ctx context.Context) (typ string, data json.RawMessage, err error) {
	select {
	case m, ok := <-w.cmds:
		if !ok {
			return "", nil, errors.New("the parent closed the channel")
		}
		return m.Type, m.Data, nil
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
}

// ClientConfig returns a client configuration for the spec's endpoint, with the worker's traffic counters.
// The scenario may set the callbacks before the first Dial.
func (w *Worker) ClientConfig() *ClientConfig {
	var auth []byte
	if w.Spec.Auth != "" {
		auth = []byte(w.Spec.Auth)
	}
	return &ClientConfig{
		URL:       w.url,
		EngineIO:  w.Spec.EngineIO,
		Namespace: w.Spec.Namespace,
		Auth:      auth,
		Timeout:   w.Spec.ConnectTimeout,
		Insecure:  w.Spec.Insecure,
		Stats:     &w.Counters.Stats,
	}
}

// OpenReport is a worker's account of opening its connections.
type OpenReport struct {
	Opened   int              `json:"opened"`
	Failures map[string]int   `json:"failures,omitempty"`
	Errors   []string         `json:"errors,omitempty"` // the first few failure messages
	Connect  *Histogram       `json:"connect"`          // handshake time, Dial start to ready
	TCP      *Histogram       `json:"tcp"`              // TCP connect time
	Elapsed  time.Duration    `json:"elapsed"`          // first dial to last handshake end
	CPU      time.Duration    `json:"cpu"`              // this worker's CPU so far (0 for an in-process worker)
	RSS      int64            `json:"rss"`              // this worker's RSS after opening (0 in-process)
	PerAddr  map[string]int64 `json:"per_addr,omitempty"`
	PID      int              `json:"pid"` // the worker's process
}

func newOpenReport() *OpenReport {
	return &OpenReport{Failures: map[string]int{}, Connect: &Histogram{}, TCP: &Histogram{}, PerAddr: map[string]int64{}}
}

// failed counts a failed open in rep and in w.Counters. The caller holds the lock guarding rep.
func (rep *OpenReport) failed(w *Worker, err error) {
	rep.Failures[ErrorKind(err)]++
	if len(rep.Errors) < 5 {
		rep.Errors = append(rep.Errors, err.Error())
	}
	w.Counters.Failed.Add(1)
}

// opened counts an open made from src in rep and in w.Counters. The caller holds the lock guarding rep.
func (rep *OpenReport) opened(w *Worker, tm Timing, src netip.Addr) {
	rep.Connect.Record(tm.Ready)
	rep.TCP.Record(tm.TCP)
	if src.IsValid() {
		rep.PerAddr[src.String()]++
	}
	w.Counters.Opened.Add(1)
}

// finish stamps rep with the phase's end: elapsed time since start, the count opened and this process.
func (rep *OpenReport) finish(w *Worker, start time.Time, opened int) {
	rep.Elapsed = time.Since(start)
	rep.Opened = opened
	rep.PID = os.Getpid()
	if !w.Spec.InProcess {
		rep.CPU = processCPU(false)
		rep.RSS = selfRSS()
	}
}

// ConnSet is the set of connections a worker opened.
type ConnSet struct {
	Conns []*Conn
	live  sync.WaitGroup
}

// OpenConns opens the spec's share of connections with cfg, spreading them over the source addresses in turn,
// pacing them at the spec's rate, with at most Spec.Concurrency handshakes at once. It counts in w.Counters,
// including connections dropped later (cfg.OnClose is wrapped). It stops early when ctx ends.
func (w *Worker) OpenConns(ctx context.Context, cfg *ClientConfig) (*ConnSet, *OpenReport) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	set := &ConnSet{}
	userClose := cfg.OnClose
	cfg.Live = &set.live
	cfg.OnClose = func(c *Conn, err error) {
		if err != nil {
			w.Counters.Dropped.Add(1)
		} else {
			w.Counters.Closed.Add(1)
		}
		if userClose != nil {
			userClose(c, err)
		}
	}
	rep := newOpenReport()
	n := w.Spec.Conns
	set.Conns = make([]*Conn, 0, n)
	var mu sync.Mutex
	sem := make(chan struct{}, max(1, w.Spec.Concurrency))
	var wg sync.WaitGroup
	start := time.Now()
	rate := w.Spec.Rate
	launched := 0
	// A cap on the whole phase, so that the loop ends even if the clock or the server misbehaves: the paced time
	// plus the handshake timeout, plus slack.
	phaseLimit := 2*w.Spec.ConnectTimeout + time.Minute
	if rate > 0 {
		phaseLimit += time.Duration(float64(n) / rate * float64(time.Second) * 2)
	}
	deadline := start.Add(phaseLimit)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C

launch:
	for launched < n {
		if ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		due := n
		if rate > 0 {
			due = min(n, int(time.Since(start).Seconds()*rate)+1)
		}
		for launched < due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break launch
			}
			var src netip.Addr
			if len(w.srcs) > 0 {
				src = w.srcs[(launched+w.Spec.Index)%len(w.srcs)]
			}
			launched++
			w.Counters.Inflight.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, tm, err := Dial(ctx, cfg, src)
				w.Counters.Inflight.Add(-1)
				mu.Lock()
				if err != nil {
					rep.failed(w, err)
				} else {
					set.Conns = append(set.Conns, c)
					rep.opened(w, tm, src)
				}
				mu.Unlock()
				<-sem
			}()
		}
		if launched >= n {
			break
		}
		// Sleep until the next connect is due (at least 1 ms, to batch at high rates).
		next := start.Add(time.Duration(float64(launched) / rate * float64(time.Second)))
		timer.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-timer.C:
		case <-ctx.Done():
			break launch
		}
	}
	wg.Wait()
	rep.finish(w, start, len(set.Conns))
	if notLaunched := n - launched; notLaunched > 0 {
		kind := "not_started"
		select {
		case <-w.stop:
			kind = "interrupted"
		default:
			if ctx.Err() != nil {
				kind = "canceled"
			}
		}
		rep.Failures[kind] += notLaunched
		w.Counters.Failed.Add(int64(notLaunched))
	}
	return set, rep
}

// CloseAll closes every connection and waits (at most timeout) for their readers to stop.
func (s *ConnSet) CloseAll(timeout time.Duration) {
	for _, c := range s.Conns {
		_ = c.Close()
	}
	done := make(chan struct{})
	go func() { s.live.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// ---------------------------------------------------------------------------------------------------------------
// Parent side.

// Runner is the parent half's handle on a run: the options, the server process, the workers and the progress
// line.
type Runner struct {
	Name string
	Opts *Options
	// ServerPID is the server process sampled through /proc, 0 if unknown.
	ServerPID int
	// ServerNote says how ServerPID was found, or why there is none.
	ServerNote string

	sc       Scenario
	args     []string
	stderr   io.Writer
	progress *progress
	workers  []*workerHandle
	closed   bool
	handlers map[string]func(worker int, data json.RawMessage)

	cpuSelf0, cpuChildren0 time.Duration
}

type workerHandle struct {
	index  int
	stdin  io.WriteCloser
	events chan message
	cmd    *exec.Cmd // nil in-process
	done   chan error
	counts atomic.Pointer[CounterValues]
	fatal  atomic.Pointer[string]
}

func newRunner(name string, sc Scenario, o *Options, stderr io.Writer, args []string) *Runner {
	r := &Runner{Name: name, Opts: o, sc: sc, args: args, stderr: stderr}
	r.cpuSelf0, r.cpuChildren0 = processCPU(false), processCPU(true)
	switch {
	case o.ServerPID > 0:
		r.ServerPID, r.ServerNote = o.ServerPID, "given"
	case o.ServerPID == 0:
		port := 0
		fmt.Sscan(o.wsURL.Port(), &port)
		if pid, err := FindListenerPID(port); err == nil {
			r.ServerPID, r.ServerNote = pid, fmt.Sprintf("listener of port %d", port)
		} else {
			r.ServerNote = err.Error()
		}
	default:
		r.ServerNote = "none"
	}
	r.progress = newProgress(r, stderr, o.Progress)
	return r
}

// SampleServer reads the server process, if known.
func (r *Runner) SampleServer() (ProcSample, bool) {
	if r.ServerPID <= 0 {
		return ProcSample{}, false
	}
	s, err := SampleProc(r.ServerPID)
	if err != nil {
		return ProcSample{}, false
	}
	return s, true
}

// GeneratorCPU returns the CPU used by this process and its finished worker processes since the run began; add
// the running workers' own reports for a figure while they live.
func (r *Runner) GeneratorCPU() time.Duration {
	return processCPU(false) - r.cpuSelf0 + processCPU(true) - r.cpuChildren0
}

// Phase sets the phase shown on the progress line; target is the connection count shown as the goal (0 hides it).
func (r *Runner) Phase(name string, target int) { r.progress.setPhase(name, target) }

// Logf prints a line to stderr above the progress line.
func (r *Runner) Logf(format string, args ...any) { r.progress.logf(format, args...) }

// Workers returns the number of workers.
func (r *Runner) Workers() int { return len(r.workers) }

// StartWorkers starts the workers (Opts.Procs child processes, or one in-process worker for 0), splitting the
// connections and the rate between them, and starts the progress line.
func (r *Runner) StartWorkers(ctx context.Context) error {
	o := r.Opts
	params, err := json.Marshal(r.sc)
	if err != nil {
		return err
	}
	count := max(o.Procs, 1)
	exe, prefix := "", []string(nil)
	if o.Procs > 0 {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("finding the executable for worker processes: %w", err)
		}
		prefix = workerArgs(r.args)
	}
	for i := range count {
		conns := o.Conns / count
		if i < o.Conns%count {
			conns++
		}
		spec := WorkerSpec{
			Index: i, Count: count, InProcess: o.Procs == 0, Scenario: r.Name, Params: params,
			URL: o.wsURL.String(), Insecure: o.Insecure, EngineIO: o.EngineIO, Namespace: o.Namespace, Auth: o.Auth,
			ConnectTimeout: o.ConnectTimeout, Conns: conns, Rate: o.Rate * float64(conns) / float64(o.Conns),
			Concurrency: o.Concurrency, SourceIPs: o.sourceAddrs,
		}
		h := &workerHandle{index: i, events: make(chan message, 64), done: make(chan error, 1)}
		var stdout io.Reader
		if o.Procs == 0 {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			h.stdin, stdout = inW, outR
			go func() {
				err := RunWorker(context.WithoutCancel(ctx), inR, outW)
				outW.CloseWithError(io.EOF)
				inR.Close()
				h.done <- err
			}()
		} else {
			cmd := exec.Command(exe, prefix...)
			cmd.Env = append(os.Environ(), WorkerEnv+"=1")
			cmd.Stderr = r.stderr
			dieWithParent(cmd)
			if h.stdin, err = cmd.StdinPipe(); err != nil {
				return err
			}
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				return err
			}
			stdout = pipe
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("starting worker %d: %w", i, err)
			}
			h.cmd = cmd
		}
		r.workers = append(r.workers, h)
		go r.readWorker(h, stdout)
		line, _ := json.Marshal(spec)
		if err := json.NewEncoder(h.stdin).Encode(message{Type: "spec", Data: line}); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	r.progress.start()
	return nil
}

// workerArgs returns the arguments that lead a re-executed binary back to Main: the words of os.Args before the
// bench arguments (usually just "bench"). WorkerEnv makes Main serve the worker protocol whatever follows.
func workerArgs(benchArgs []string) []string {
	all := os.Args[1:]
	if len(all) >= len(benchArgs) && slices.Equal(all[len(all)-len(benchArgs):], benchArgs) {
		return slices.Clone(all[:len(all)-len(benchArgs)])
	}
	return []string{"bench"}
}

func (r *Runner) readWorker(h *workerHandle, stdout io.Reader) {
	defer close(h.events)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			continue // stray output
		}
		switch m.Type {
		case "progress":
			var v CounterValues
			if json.Unmarshal(m.Data, &v) == nil {
				h.counts.Store(&v)
			}
		case "fatal":
			var s string
			_ = json.Unmarshal(m.Data, &s)
			h.fatal.Store(&s)
		default:
			if fn := r.handlers[m.Type]; fn != nil {
				fn(h.index, m.Data)
				continue
			}
			h.events <- m
		}
	}
	// Drain so that a reader never blocks the pipe; the process exit is collected in Close.
	_, _ = io.Copy(io.Discard, stdout)
}

// Counters returns the sum of the workers' last reported counters.
func (r *Runner) Counters() CounterValues {
	var sum CounterValues
	for _, h := range r.workers {
		if v := h.counts.Load(); v != nil {
			sum.add(*v)
		}
	}
	return sum
}

// Handle routes the workers' messages of type typ to fn, called on the worker's reader goroutine, instead of to
// Gather: for messages a worker sends on its own at any time (feedback, not answers). Call it before StartWorkers.
func (r *Runner) Handle(typ string, fn func(worker int, data json.RawMessage)) {
	if r.handlers == nil {
		r.handlers = map[string]func(int, json.RawMessage){}
	}
	r.handlers[typ] = fn
}

// Broadcast sends a command to every worker.
func (r *Runner) Broadcast(typ string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	line, _ := json.Marshal(message{Type: typ, Data: data})
	line = append(line, '\n')
	var errs []error
	for _, h := range r.workers {
		if _, err := h.stdin.Write(line); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", h.index, err))
		}
	}
	return errors.Join(errs...)
}

// Gather waits, at most limit, for one message of type typ from every worker and hands each one's data to fn.
// If ctx ends first, it sends "stop" to the workers (see Worker.Stopped) and waits at most grace more, then
// reports interrupted. It fails if a worker sends another type or dies, or when the time is up.
func (r *Runner) Gather(ctx context.Context, typ string, limit, grace time.Duration,
	fn func(worker int, data json.RawMessage) error) (interrupted bool, err error) {
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	done := ctx.Done()
	for _, h := range r.workers {
		for got := false; !got; {
			select {
			case m, ok := <-h.events:
				if !ok {
					why := "exited"
					if f := h.fatal.Load(); f != nil {
						why = "failed: " + *f
					}
					return interrupted, fmt.Errorf("worker %d %s while waiting for %q", h.index, why, typ)
				}
				if m.Type != typ {
					return interrupted, fmt.Errorf("worker %d sent %q, want %q", h.index, m.Type, typ)
				}
				if err := fn(h.index, m.Data); err != nil {
					return interrupted, fmt.Errorf("worker %d %q: %w", h.index, typ, err)
				}
				got = true
			case <-done:
				done, interrupted = nil, true
				_ = r.Broadcast("stop", nil)
				timeout.Reset(grace)
			case <-timeout.C:
				if interrupted {
					return true, fmt.Errorf("interrupted, and the workers did not report %q in time", typ)
				}
				return false, fmt.Errorf("timed out after %v waiting for %q from worker %d", limit, typ, h.index)
			}
		}
	}
	return interrupted, nil
}

// Close ends the workers: closes their input (they stop and exit), waits for them a bounded time, then kills the
// stragglers. Only the first call does anything and reports errors.
func (r *Runner) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.progress.stop()
	for _, h := range r.workers {
		_ = h.stdin.Close()
	}
	var errs []error
	deadline := time.Now().Add(15 * time.Second)
	for _, h := range r.workers {
		var err error
		if h.cmd != nil {
			go func() { h.done <- h.cmd.Wait() }()
		}
		t := time.NewTimer(max(time.Until(deadline), 10*time.Millisecond))
		select {
		case err = <-h.done:
		case <-t.C:
			if h.cmd != nil && h.cmd.Process != nil {
				_ = h.cmd.Process.Kill()
				err = <-h.done
			}
			if err == nil {
				err = errors.New("did not stop in time")
			}
		}
		t.Stop()
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("worker %d: %w", h.index, err))
		}
	}
	return errors.Join(errs...)
}

// describeAddrs shortens a source-address list for display.
func describeAddrs(a []string) string {
	switch len(a) {
	case 0:
		return "kernel's choice"
	case 1:
		return a[0]
	case 2:
		return strings.Join(a, ",")
	}
	return fmt.Sprintf("%s-%s (%d)", a[0], a[len(a)-1], len(a))
}
