package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The throughput scenarios (fanout, echo, polling) measure over a window: the parent sends "measure" to the
// workers, which start counting and answer with a mark; after the window's duration "endmeasure" does the same.
// Around each mark the parent reads the server process, its threads, the machine's CPU times and its own CPU.

// workerMark is a worker's answer to a window command: its count of the scenario's unit so far and its CPU.
type workerMark struct {
	Count int64         `json:"count"`
	CPU   time.Duration `json:"cpu"`
}

// windowMark is the whole run at one instant.
type windowMark struct {
	At          time.Time
	Count       int64
	WorkerCPU   time.Duration
	ParentCPU   time.Duration
	Server      ProcSample
	HaveServer  bool
	Threads     map[int]time.Duration
	Machine     CPUTimes
	HaveMachine bool
}

// mark sends cmd to every worker and sums their "mark" answers, with the parent-side samples taken right after the
// command went out.
func (r *Runner) mark(ctx context.Context, cmd string) (windowMark, error) {
	var m windowMark
	if err := r.Broadcast(cmd, nil); err != nil {
		return m, err
	}
	m.At = time.Now()
	m.ParentCPU = processCPU(false)
	m.Server, m.HaveServer = r.SampleServer()
	if m.HaveServer {
		m.Threads = threadCPU(r.ServerPID)
	}
	m.Machine, m.HaveMachine = sampleMachineCPU()
	_, err := r.Gather(context.WithoutCancel(ctx), "mark", 30*time.Second, 0, func(_ int, data json.RawMessage) error {
		var wm workerMark
		if err := json.Unmarshal(data, &wm); err != nil {
			return err
		}
		m.Count += wm.Count
		m.WorkerCPU += wm.CPU
		return nil
	})
	return m, err
}

// workerCPU returns this worker's CPU for marks (0 in-process, where the parent's own figure has it).
func workerCPU(w *Worker) time.Duration {
	if w.Spec.InProcess {
		return 0
	}
	return processCPU(false)
}

// WindowFigures are the CPU and memory figures of a measuring window.
type WindowFigures struct {
	Seconds             float64 `json:"seconds" label:"measured window (s)"`
	ServerCPUSeconds    float64 `json:"server_cpu_seconds" label:"server CPU (s)"`
	ServerCores         float64 `json:"server_cores" label:"server CPU (cores)"`
	ServerBusiestThread float64 `json:"server_busiest_thread_cores" label:"server's busiest thread (cores)"`
	ServerThreads       int     `json:"server_threads" label:"server threads"`
	ServerRSS           int64   `json:"server_rss_bytes" label:"server RSS at the end" fmt:"bytes"`
	ServerRSSPeak       int64   `json:"server_rss_peak_bytes" label:"server RSS peak (VmHWM)" fmt:"bytes"`
	GeneratorCPUSeconds float64 `json:"generator_cpu_seconds" label:"generator CPU (s)"`
	GeneratorCores      float64 `json:"generator_cores" label:"generator CPU (cores)"`
	MachineCores        float64 `json:"machine_busy_cores" label:"machine busy, all processes (cores)"`
	OtherCores          float64 `json:"other_cores" label:"other processes (cores)"`
	CPUs                int     `json:"cpus" label:"CPUs"`
	Bottleneck          string  `json:"bottleneck" label:"bottleneck"`
}

// figures computes the window's figures between two marks. paced says the load was offered at a fixed rate (so
// nothing need be saturated).
func figures(a, b windowMark, paced bool) WindowFigures {
	f := WindowFigures{CPUs: numCPU()}
	el := b.At.Sub(a.At)
	if el <= 0 {
		return f
	}
	sec := el.Seconds()
	f.Seconds = roundTo(sec, 3)
	gen := (b.WorkerCPU - a.WorkerCPU) + (b.ParentCPU - a.ParentCPU)
	f.GeneratorCPUSeconds = roundTo(gen.Seconds(), 3)
	f.GeneratorCores = roundTo(gen.Seconds()/sec, 3)
	var srvCores float64
	if a.HaveServer && b.HaveServer {
		cpu := b.Server.CPU - a.Server.CPU
		f.ServerCPUSeconds = roundTo(cpu.Seconds(), 3)
		srvCores = cpu.Seconds() / sec
		f.ServerCores = roundTo(srvCores, 3)
		f.ServerRSS, f.ServerRSSPeak, f.ServerThreads = b.Server.RSS, b.Server.HWM, b.Server.Threads
		var busiest time.Duration
		for tid, t1 := range b.Threads {
			if t0, ok := a.Threads[tid]; ok {
				busiest = max(busiest, t1-t0)
			} else {
				busiest = max(busiest, t1)
			}
		}
		f.ServerBusiestThread = roundTo(busiest.Seconds()/sec, 3)
	}
	if a.HaveMachine && b.HaveMachine {
		busy := b.Machine.Busy - a.Machine.Busy
		f.MachineCores = roundTo(busy.Seconds()/sec, 3)
		f.OtherCores = roundTo(max(0, f.MachineCores-srvCores-f.GeneratorCores), 3)
	}
	f.Bottleneck = bottleneck(f, a.HaveServer && b.HaveServer, paced)
	return f
}

// What limited a run, from its CPU figures (see limitOf).
const (
	limitThread    = "thread"    // one server thread did most of the server's work, near a full core
	limitMachine   = "machine"   // the machine's cores were (nearly) all busy
	limitServer    = "server"    // the server alone used (nearly) all cores
	limitGenerator = "generator" // the generator alone used (nearly) all cores
	limitPaced     = "paced"     // the load came at a fixed rate
	limitLatency   = "latency"   // nothing saturated: round trips and messages in flight set the rate
)

// limitOf classifies a window. Thresholds are those of a small machine shared with other work, where the scheduler
// seldom lets a process have a core to itself: a thread counts as saturated from 0.75 core (when it does at least
// 70% of its process's work), the machine from 75% of all cores busy.
func limitOf(f WindowFigures, haveServer, paced bool) string {
	cpus := float64(max(f.CPUs, 1))
	switch {
	case haveServer && f.ServerBusiestThread >= 0.75 && f.ServerBusiestThread >= 0.7*f.ServerCores:
		return limitThread
	case f.MachineCores >= 0.75*cpus:
		return limitMachine
	case haveServer && f.ServerCores >= 0.75*cpus:
		return limitServer
	case f.GeneratorCores >= 0.75*cpus:
		return limitGenerator
	case paced:
		return limitPaced
	}
	return limitLatency
}

// bottleneck says, from the window's CPU figures, what limited the run.
func bottleneck(f WindowFigures, haveServer, paced bool) string {
	switch limitOf(f, haveServer, paced) {
	case limitThread:
		return fmt.Sprintf("server: one server thread was busy %.0f%% of the time (a single-threaded path)",
			100*min(f.ServerBusiestThread, 1))
	case limitMachine:
		who := "generator"
		if f.ServerCores > f.GeneratorCores {
			who = "server"
		}
		return fmt.Sprintf("machine CPU: %.2f of %d cores busy (server %.2f, generator %.2f, other %.2f); the %s used more",
			f.MachineCores, f.CPUs, f.ServerCores, f.GeneratorCores, f.OtherCores, who)
	case limitServer:
		return fmt.Sprintf("server CPU: %.2f of %d cores", f.ServerCores, f.CPUs)
	case limitGenerator:
		return fmt.Sprintf("generator CPU: %.2f of %d cores", f.GeneratorCores, f.CPUs)
	case limitPaced:
		return fmt.Sprintf("none: the load was offered at a fixed rate (machine %.2f of %d cores busy)", f.MachineCores, f.CPUs)
	}
	return fmt.Sprintf("round trips: no CPU was saturated (server %.2f, generator %.2f, machine %.2f of %d cores); "+
		"the rate was bound by latency and the messages in flight", f.ServerCores, f.GeneratorCores, f.MachineCores, f.CPUs)
}

// CPUTimes are the machine's CPU times over all cores, from /proc/stat.
type CPUTimes struct {
	Busy  time.Duration // user, nice, system, irq, softirq, steal
	Total time.Duration // Busy plus idle and iowait
}

// ParseProcStatCPU reads the aggregate "cpu" line of /proc/stat.
func ParseProcStatCPU(b []byte) (CPUTimes, error) {
	var t CPUTimes
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return t, errors.New("/proc/stat: no aggregate cpu line")
	}
	var v [8]uint64
	for i := 1; i < 9 && i < len(f); i++ {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return t, fmt.Errorf("/proc/stat: %w", err)
		}
		v[i-1] = n
	}
	// user nice system idle iowait irq softirq steal
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	total := busy + v[3] + v[4]
	hz := time.Duration(ClockTicks())
	t.Busy = time.Duration(busy) * time.Second / hz
	t.Total = time.Duration(total) * time.Second / hz
	return t, nil
}

func sampleMachineCPU() (CPUTimes, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}, false
	}
	t, err := ParseProcStatCPU(b)
	return t, err == nil
}

// threadCPU reads the CPU time of each thread of a process.
func threadCPU(pid int) map[int]time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st, err := ParseProcStat(b)
		if err != nil {
			continue
		}
		out[tid] = st.CPU(ClockTicks())
	}
	return out
}

// perOp returns CPU per operation in microseconds (0 without operations).
func perOp(cpuSeconds float64, ops int64) float64 {
	if ops <= 0 {
		return 0
	}
	return roundTo(cpuSeconds*1e6/float64(ops), 3)
}

// openTally sums the workers' open reports.
type openTally struct {
	Opened      int
	Failed      int
	Failures    map[string]int
	FirstErrors []string
	Connect     *Histogram
	TCP         *Histogram
	Elapsed     time.Duration
	WorkerCPU   time.Duration
	WorkerRSS   int64
	PIDs        []int
	PerAddr     map[string]int
}

func newOpenTally() *openTally {
	return &openTally{Failures: map[string]int{}, Connect: &Histogram{}, TCP: &Histogram{}, PerAddr: map[string]int{}}
}

// gather is a Runner.Gather callback adding one worker's OpenReport.
func (t *openTally) gather(_ int, data json.RawMessage) error {
	var rep OpenReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return err
	}
	t.add(&rep)
	return nil
}

// openPhaseLimit bounds the parent's wait for the workers' open phase: their own limit (see OpenConns) plus slack.
func openPhaseLimit(o *Options) time.Duration {
	limit := 2*o.ConnectTimeout + 90*time.Second
	if o.Rate > 0 {
		limit += time.Duration(float64(o.Conns) / o.Rate * 2 * float64(time.Second))
	}
	return limit
}

func (t *openTally) add(rep *OpenReport) {
	t.Opened += rep.Opened
	for k, n := range rep.Failures {
		t.Failures[k] += n
		t.Failed += n
	}
	for _, e := range rep.Errors {
		if len(t.FirstErrors) < 5 {
			t.FirstErrors = append(t.FirstErrors, e)
		}
	}
	if rep.Connect != nil {
		t.Connect.Merge(rep.Connect)
	}
	if rep.TCP != nil {
		t.TCP.Merge(rep.TCP)
	}
	for a, n := range rep.PerAddr {
		t.PerAddr[a] += int(n)
	}
	t.Elapsed = max(t.Elapsed, rep.Elapsed)
	t.WorkerCPU += rep.CPU
	t.WorkerRSS += rep.RSS
	t.PIDs = append(t.PIDs, rep.PID)
}

func (t *openTally) perSec() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return roundTo(float64(t.Opened)/t.Elapsed.Seconds(), 1)
}

// closedLoop is the parent's side of a closed-loop scenario (echo, polling): the workers open their clients and
// answer "ready" with an OpenReport; "start" sets the clients going; after the warm-up the window is measured
// with marks; "finish" stops them and each worker answers "result", handed to onResult.
type closedLoop struct {
	Warmup, Duration time.Duration
	FinishLimit      time.Duration
}

type closedLoopRun struct {
	Tally       *openTally
	M0, M1      windowMark
	Interrupted bool
}

func (cl closedLoop) run(ctx context.Context, r *Runner, onResult func(data json.RawMessage) error) (*closedLoopRun, error) {
	o := r.Opts
	run := &closedLoopRun{Tally: newOpenTally()}
	r.Phase("connecting", o.Conns)
	if err := r.StartWorkers(ctx); err != nil {
		return nil, err
	}
	var err error
	run.Interrupted, err = r.Gather(ctx, "ready", openPhaseLimit(o), 2*o.ConnectTimeout+10*time.Second, run.Tally.gather)
	if err != nil {
		return nil, err
	}
	if run.Tally.Opened == 0 {
		return run, fmt.Errorf("no client connected (%v)", run.Tally.Failures)
	}
	if err := r.Broadcast("start", nil); err != nil {
		return nil, err
	}
	r.Phase("warmup", 0)
	if !run.Interrupted {
		run.Interrupted = !sleepCtx(ctx, cl.Warmup)
	}
	r.Phase("measuring", 0)
	if run.M0, err = r.mark(ctx, "measure"); err != nil {
		return nil, err
	}
	if !run.Interrupted {
		run.Interrupted = !sleepCtx(ctx, cl.Duration)
	}
	if run.M1, err = r.mark(ctx, "endmeasure"); err != nil {
		return nil, err
	}
	r.Phase("finishing", 0)
	if err := r.Broadcast("finish", nil); err != nil {
		return nil, err
	}
	_, err = r.Gather(context.WithoutCancel(ctx), "result", cl.FinishLimit, 0, func(_ int, data json.RawMessage) error {
		return onResult(data)
	})
	if err != nil {
		return nil, err
	}
	if err := r.Close(); err != nil {
		r.Logf("%s: workers: %v", r.Name, err)
	}
	return run, nil
}

// workerLoop is the worker's side of closedLoop after "ready": it calls start on "start", answers marks with
// count(), and on "finish" calls finish and sends its result.
func workerLoop(ctx context.Context, w *Worker, measuring *atomic.Bool, count func() int64, start func(),
	finish func() any) error {
	for {
		typ, _, err := w.Next(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case "start":
			start()
		case "measure", "endmeasure":
			measuring.Store(typ == "measure")
			if err := w.Send("mark", workerMark{Count: count(), CPU: workerCPU(w)}); err != nil {
				return err
			}
		case "finish":
			return w.Send("result", finish())
		default:
			return fmt.Errorf("%s: unexpected command %q", w.Spec.Scenario, typ)
		}
	}
}
