package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The suite: every scenario against each server in turn (fastio testserver, the Node.js socket.io reference server,
// and the baseline server for fan-out), each run on a freshly started server, the figures written to BENCHMARKS.md
// with SVG charts. Each run is a `fastio bench <scenario> --json` child process, so the commands in the report are
// the exact ones that produced the figures.

// Server names.
const (
	srvFastio   = "fastio"
	srvNode     = "node"
	srvBaseline = "baseline"
	// srvFastioInline is fastio with its handlers on the event loops (--inline-handlers), for the echo case.
	srvFastioInline = "fastio-inline"
)

var allServers = []string{srvFastio, srvFastioInline, srvNode, srvBaseline}

// suiteCase is one benchmark of the plan, run against each of Servers.
type suiteCase struct {
	ID       string        `json:"id"`
	Scenario string        `json:"scenario"`
	Args     []string      `json:"args"`
	Servers  []string      `json:"servers"`
	Limit    time.Duration `json:"limit"`
	// Fan-out cases: the audience and the mode, for the tables and charts.
	Audience int    `json:"audience,omitempty"`
	Mode     string `json:"mode,omitempty"` // "fixed" or "max"
}

// defaultAudiences are the fan-out audience sizes: the targets' 1,000 and 10,000, and 3,000 between them for the
// charts.
const defaultAudiences = "1000,3000,10000"

// fanoutDeliveryRate is the fixed-rate fan-out load: deliveries per second whatever the audience.
const fanoutDeliveryRate = 20000

// suitePlan returns the cases. quick shrinks every size for a trial run of the suite itself.
func suitePlan(audiences []int, quick bool) []suiteCase {
	idleConns, echoClients, wsConns, pollConns, pollClients := 15000, 50, 2000, 500, 50
	warm, dur, fanWarm, fanDur := "1s", "5s", "2s", "6s"
	idleHold := "5s"
	if quick {
		idleConns, echoClients, wsConns, pollConns, pollClients = 300, 5, 200, 50, 5
		warm, dur, fanWarm, fanDur, idleHold = "200ms", "700ms", "200ms", "700ms", "500ms"
	}
	fo := []string{srvFastio, srvNode}
	all := []string{srvFastio, srvNode, srvBaseline}
	plan := []suiteCase{{
		ID: fmt.Sprintf("idle-%d", idleConns), Scenario: "idle", Servers: fo, Limit: 2 * time.Minute,
		Args: []string{"--conns", strconv.Itoa(idleConns), "--rate", "0", "--concurrency", "256", "--hold", idleHold,
			"--settle", "2s"},
	}}
	for _, n := range audiences {
		plan = append(plan, suiteCase{
			ID: fmt.Sprintf("fanout-fixed-%d", n), Scenario: "fanout", Servers: all, Limit: 2 * time.Minute,
			Audience: n, Mode: "fixed",
			Args: []string{"--subscribers", strconv.Itoa(n), "--delivery-rate", strconv.Itoa(fanoutDeliveryRate),
				"--warmup", fanWarm, "--duration", fanDur, "--connect-rate", "0", "--concurrency", "128"},
		}, suiteCase{
			ID: fmt.Sprintf("fanout-max-%d", n), Scenario: "fanout", Servers: all, Limit: 2 * time.Minute,
			Audience: n, Mode: "max",
			Args: []string{"--subscribers", strconv.Itoa(n), "--rate", "max", "--warmup", fanWarm, "--duration", fanDur,
				"--connect-rate", "0", "--concurrency", "128"},
		})
	}
	plan = append(plan,
		suiteCase{ID: fmt.Sprintf("echo-%d", echoClients), Scenario: "echo", Servers: []string{srvFastio, srvFastioInline, srvNode, srvBaseline}, Limit: time.Minute,
			Args: []string{"--clients", strconv.Itoa(echoClients), "--warmup", warm, "--duration", dur}},
		suiteCase{ID: fmt.Sprintf("connect-websocket-%d", wsConns), Scenario: "connect", Servers: fo, Limit: time.Minute,
			Args: []string{"--conns", strconv.Itoa(wsConns), "--concurrency", "64"}},
		suiteCase{ID: fmt.Sprintf("connect-polling-%d", pollConns), Scenario: "connect", Servers: fo, Limit: time.Minute,
			Args: []string{"--transport", "polling", "--conns", strconv.Itoa(pollConns), "--concurrency", "64"}},
		suiteCase{ID: fmt.Sprintf("polling-%d", pollClients), Scenario: "polling", Servers: fo, Limit: time.Minute,
			Args: []string{"--clients", strconv.Itoa(pollClients), "--warmup", warm, "--duration", dur}},
	)
	return plan
}

// suiteRun is one case against one server.
type suiteRun struct {
	Case          string          `json:"case"`
	Server        string          `json:"server"`
	ServerCommand string          `json:"server_command"`
	Command       string          `json:"command"`
	Seconds       float64         `json:"seconds"`
	Error         string          `json:"error,omitempty"`
	ServerExit    string          `json:"server_exit,omitempty"`  // the server died during the run
	StartFailed   bool            `json:"start_failed,omitempty"` // the server did not start: Error says why
	Result        json.RawMessage `json:"result,omitempty"`
	LogTail       string          `json:"log_tail,omitempty"`
	// CPU over the whole run (start of the bench command to its end), in cores: the server, the bench command
	// with its workers, and the rest of the machine.
	ServerCores float64 `json:"server_cores"`
	BenchCores  float64 `json:"bench_cores"`
	OtherCores  float64 `json:"other_cores"`
	// FirstAttempt, when set, says why the run was repeated (a failure while the machine was busy with other work).
	FirstAttempt string `json:"first_attempt,omitempty"`
	// BusyBefore is the machine's load (cores) just before the run, after waiting for it to calm down (Waited).
	BusyBefore float64 `json:"busy_before"`
	Waited     float64 `json:"waited_seconds,omitempty"`
}

// suiteReport is everything the report is rendered from; the suite saves it as JSON next to the charts so that
// the report can be rendered again (--render) without running anything.
type suiteReport struct {
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Machine  machineInfo `json:"machine"`
	Plan     []suiteCase `json:"plan"`
	Runs     []suiteRun  `json:"runs"`
	Quick    bool        `json:"quick,omitempty"`
	Skipped  []string    `json:"skipped,omitempty"` // servers not run, and why
	Command  string      `json:"command"`
	Waited   float64     `json:"waited_seconds,omitempty"` // time spent waiting for other work to calm down
}

// machineInfo describes where the suite ran.
type machineInfo struct {
	CPUModel       string  `json:"cpu_model"`
	CPUs           int     `json:"cpus"`
	MemBytes       int64   `json:"mem_bytes"`
	Kernel         string  `json:"kernel"`
	GoVersion      string  `json:"go_version"`
	NodeVersion    string  `json:"node_version"`
	SocketIO       string  `json:"socketio_version"`
	EngineIO       string  `json:"engineio_version"`
	WSVersion      string  `json:"ws_version"`
	Commit         string  `json:"commit"`
	OpenFiles      int     `json:"open_files"`
	BackgroundLoad float64 `json:"background_cores"` // machine CPU busy before the suite, in cores
}

type suiteOptions struct {
	out, charts, results, fastio, node, repo, servers, only, render, audiences string
	quick                                                                      bool
	limit                                                                      time.Duration
}

func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o suiteOptions
	fs := flag.NewFlagSet("bench suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.repo, "repo", "", "repository root (default: the current directory if it has test/e2e, else the binary's ../)")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write (relative to the repository root)")
	fs.StringVar(&o.charts, "charts", "bench/charts", "folder for the SVG charts and results.json (relative to the repository root)")
	fs.StringVar(&o.results, "results", "", "raw results JSON (default: <charts>/results.json)")
	fs.StringVar(&o.fastio, "fastio", "", "fastio binary for the servers and the generator (default: this binary)")
	fs.StringVar(&o.node, "node", "node", "Node.js binary")
	fs.StringVar(&o.servers, "servers", strings.Join(allServers, ","), "servers to measure")
	fs.StringVar(&o.only, "only", "", "comma-separated case ids (or prefixes: fanout, idle, ...) to run; default all")
	fs.StringVar(&o.audiences, "audiences", defaultAudiences, "fan-out audience sizes")
	fs.BoolVar(&o.quick, "quick", false, "tiny sizes: a trial of the suite itself, not a benchmark")
	fs.StringVar(&o.render, "render", "", "render the report from this results JSON instead of running")
	fs.DurationVar(&o.limit, "limit", 15*time.Minute, "stop the whole suite after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fastio bench suite [--out BENCHMARKS.md] [--charts bench/charts] [--servers fastio,node,baseline] [--only ids] [--quick]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Runs every scenario against each server (fresh server per run) and writes the report and the charts.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench suite: unexpected argument %q", fs.Arg(0))
	}
	if err := o.resolve(); err != nil {
		return err
	}
	var rep *suiteReport
	if o.render != "" {
		b, err := os.ReadFile(o.render)
		if err != nil {
			return err
		}
		rep = &suiteReport{}
		if err := json.Unmarshal(b, rep); err != nil {
			return fmt.Errorf("%s: %w", o.render, err)
		}
	} else {
		var err error
		if rep, err = o.run(ctx, stderr, args); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.MkdirAll(filepath.Dir(o.results), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(o.results, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return o.write(rep, stdout)
}

// resolve finds the repository root and makes the paths absolute.
func (o *suiteOptions) resolve() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if o.fastio == "" {
		o.fastio = exe
	}
	if o.fastio, err = filepath.Abs(o.fastio); err != nil {
		return err
	}
	if o.repo == "" {
		wd, _ := os.Getwd()
		for _, cand := range []string{wd, filepath.Dir(filepath.Dir(o.fastio))} {
			if _, err := os.Stat(filepath.Join(cand, "test", "e2e", "reference-server.js")); err == nil {
				o.repo = cand
				break
			}
		}
		if o.repo == "" {
			o.repo = wd
		}
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(o.repo, p)
	}
	o.out, o.charts, o.render = abs(o.out), abs(o.charts), absIfSet(o.render)
	if o.results == "" {
		o.results = filepath.Join(o.charts, "results.json")
	}
	o.results = abs(o.results)
	for _, s := range strings.Split(o.servers, ",") {
		switch strings.TrimSpace(s) {
		case srvFastio, srvFastioInline, srvNode, srvBaseline:
		default:
			return fmt.Errorf("bench suite: unknown server %q (fastio, fastio-inline, node, baseline)", s)
		}
	}
	return nil
}

func absIfSet(p string) string {
	if p == "" {
		return ""
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func parseAudiences(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("--audiences: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// run executes the plan.
func (o *suiteOptions) run(ctx context.Context, stderr io.Writer, args []string) (*suiteReport, error) {
	audiences, err := parseAudiences(o.audiences)
	if err != nil {
		return nil, err
	}
	if o.quick && o.audiences == defaultAudiences {
		audiences = []int{100, 300}
	}
	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	rep := &suiteReport{Started: time.Now(), Quick: o.quick,
		Command: strings.TrimSpace(o.rel(o.fastio) + " bench suite " + strings.Join(args, " "))}
	rep.Machine = o.machine(o.quick)
	want := map[string]bool{}
	for _, s := range strings.Split(o.servers, ",") {
		want[strings.TrimSpace(s)] = true
	}
	if want[srvNode] {
		if _, err := os.Stat(filepath.Join(o.repo, "test", "e2e", "node_modules", "socket.io")); err != nil {
			want[srvNode] = false
			rep.Skipped = append(rep.Skipped, "node: test/e2e/node_modules is missing (run `make e2e-deps`)")
		} else if rep.Machine.NodeVersion == "" {
			want[srvNode] = false
			rep.Skipped = append(rep.Skipped, "node: no Node.js binary ("+o.node+")")
		}
	}
	logDir, err := os.MkdirTemp("", "fastio-bench-suite-")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "suite: logs in %s\n", logDir)
	quietBudget, noisyBudget := quietBudgetTotal, noisyBudgetTotal
	if o.quick {
		quietBudget, noisyBudget = 0, 0
	}
	for _, c := range suitePlan(audiences, o.quick) {
		if !o.selected(c.ID) {
			continue
		}
		var servers []string
		for _, s := range c.Servers {
			if want[s] {
				servers = append(servers, s)
			}
		}
		c.Servers = servers
		rep.Plan = append(rep.Plan, c)
		for _, s := range servers {
			if ctx.Err() != nil {
				rep.Runs = append(rep.Runs, suiteRun{Case: c.ID, Server: s, Error: "not run: the suite's time limit was reached"})
				continue
			}
			busy, waited := waitQuiet(ctx, &quietBudget)
			run := o.runCase(ctx, c, s, logDir, stderr, "")
			run.BusyBefore, run.Waited = busy, waited
			rep.Waited += waited
			if why := retryReason(run); why != "" && ctx.Err() == nil {
				fmt.Fprintf(stderr, "suite: %s / %s again: %s\n", c.ID, s, why)
				sleepCtx(ctx, 2*time.Second)
				run = o.runCase(ctx, c, s, logDir, stderr, "-retry")
				run.FirstAttempt = "the first attempt failed: " + why + "; the figures are the second attempt's"
			} else if cost := time.Duration(run.Seconds * float64(time.Second)); run.OtherCores > noisyLimit &&
				cost <= noisyBudget && ctx.Err() == nil {
				noisyBudget -= cost
				fmt.Fprintf(stderr, "suite: %s / %s again: other processes kept %.2f cores busy\n", c.ID, s, run.OtherCores)
				busy, waited := waitQuiet(ctx, &quietBudget)
				rep.Waited += waited
				again := o.runCase(ctx, c, s, logDir, stderr, "-again")
				again.BusyBefore, again.Waited = busy, waited
				if again.Error == "" && again.OtherCores < run.OtherCores {
					again.FirstAttempt = fmt.Sprintf("other processes kept %.2f cores busy during the first attempt "+
						"(%.2f during this one); the figures are the second attempt's", run.OtherCores, again.OtherCores)
					run = again
				} else {
					run.FirstAttempt = fmt.Sprintf("other processes kept %.2f cores busy during this attempt; a second "+
						"one was no quieter (%.2f, %s), so the figures are the first attempt's", run.OtherCores,
						again.OtherCores, orDash(oneLine(again.Error, 100)))
				}
			}
			rep.Runs = append(rep.Runs, run)
		}
	}
	rep.Finished = time.Now()
	fmt.Fprintf(stderr, "suite: done in %s\n", rep.Finished.Sub(rep.Started).Round(time.Second))
	return rep, nil
}

func (o *suiteOptions) selected(id string) bool {
	if o.only == "" {
		return true
	}
	for _, p := range strings.Split(o.only, ",") {
		if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// rel shows a path relative to the repository root when it is inside it.
func (o *suiteOptions) rel(p string) string {
	if r, err := filepath.Rel(o.repo, p); err == nil && !strings.HasPrefix(r, "..") {
		if !strings.Contains(r, string(filepath.Separator)) {
			return "./" + r
		}
		return r
	}
	return p
}

// serverProc is a server started for one run.
type serverProc struct {
	cmd     *exec.Cmd
	pid     int
	port    int
	command string
	log     *os.File
	exited  chan struct{}
	waitErr error
}

func (o *suiteOptions) startServer(ctx context.Context, name, logDir, tag string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ps := strconv.Itoa(port)
	var argv []string
	switch name {
	case srvFastio:
		argv = []string{o.fastio, "testserver", "--port", ps, "--ping-interval", "25s", "--ping-timeout", "20s"}
	case srvFastioInline:
		argv = []string{o.fastio, "testserver", "--port", ps, "--ping-interval", "25s", "--ping-timeout", "20s", "--inline-handlers"}
	case srvNode:
		argv = []string{o.node, filepath.Join(o.repo, "test", "e2e", "reference-server.js"), "--port", ps,
			"--ping-interval", "25s", "--ping-timeout", "20s"}
	case srvBaseline:
		argv = []string{o.fastio, "bench", "baseline-server", "--port", ps}
	}
	log, err := os.Create(filepath.Join(logDir, tag+"-server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = os.Environ()
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	shown := append([]string{o.rel(argv[0])}, argv[1:]...)
	if name == srvNode {
		shown[0], shown[1] = "node", o.rel(argv[1])
	}
	sp := &serverProc{cmd: cmd, pid: cmd.Process.Pid, port: port, command: strings.Join(shown, " "), log: log,
		exited: make(chan struct{})}
	go func() { sp.waitErr = cmd.Wait(); close(sp.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+ps, time.Second)
		if err == nil {
			c.Close()
			return sp, nil
		}
		select {
		case <-sp.exited:
			log.Close()
			return nil, fmt.Errorf("%s exited at start: %v; log: %s", name, sp.waitErr, tailFile(log.Name(), 800))
		case <-ctx.Done():
			sp.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			sp.stop()
			return nil, fmt.Errorf("%s did not listen on port %d within 15 s", name, port)
		}
	}
}

// stop ends the server: SIGTERM, then SIGKILL after 5 s.
func (sp *serverProc) stop() {
	defer sp.log.Close()
	select {
	case <-sp.exited:
		return
	default:
	}
	_ = sp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sp.exited:
	case <-time.After(5 * time.Second):
		_ = sp.cmd.Process.Kill()
		<-sp.exited
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// quietBudgetTotal bounds the time the suite spends, over all runs, waiting for other work on the machine to calm
// down before a run; quietWaitPerRun bounds it per run.
const (
	quietBudgetTotal = time.Minute
	quietWaitPerRun  = 15 * time.Second
)

// waitQuiet samples the machine's load for half a second and, while it is above busyOtherLimit cores (the
// previous run's processes are gone by then, so that is other work), waits and samples again, within the budgets.
// It returns the last load seen and the seconds waited.
func waitQuiet(ctx context.Context, budget *time.Duration) (load, waited float64) {
	start := time.Now()
	for {
		a, ok := sampleMachineCPU()
		if !ok {
			return 0, 0
		}
		t0 := time.Now()
		sleepCtx(ctx, 500*time.Millisecond)
		b, _ := sampleMachineCPU()
		load = roundTo((b.Busy-a.Busy).Seconds()/time.Since(t0).Seconds(), 3)
		spent := time.Since(start) - time.Since(t0) // time spent waiting, not counting this sample
		if load <= busyOtherLimit || ctx.Err() != nil || spent >= quietWaitPerRun || *budget-spent <= 0 {
			*budget -= spent
			return load, roundTo(spent.Seconds(), 1)
		}
		sleepCtx(ctx, time.Second)
	}
}

// A run during which other work kept more than noisyLimit cores busy is run once more (the quieter attempt is
// kept), while the time those repeats take stays within noisyBudgetTotal.
const (
	noisyLimit       = 0.75
	noisyBudgetTotal = 90 * time.Second
)

// busyOtherLimit is the load from other processes (in cores) above which a failed run is put down to the machine
// rather than the server, and repeated once.
const busyOtherLimit = 0.5

// retryReason says why a run should be repeated: it failed (an error, or connections that failed) while other
// work kept more than busyOtherLimit cores busy. Lost messages are never a reason: they are reported as they are.
func retryReason(run suiteRun) string {
	if run.StartFailed {
		return "the server did not start: " + oneLine(run.Error, 160)
	}
	if run.OtherCores <= busyOtherLimit {
		return ""
	}
	var failed struct {
		Failed int `json:"failed"`
	}
	if run.Result != nil {
		_ = json.Unmarshal(run.Result, &failed)
	}
	switch {
	case run.Error != "":
		return fmt.Sprintf("it failed (%s) while other processes kept %.2f cores busy", oneLine(run.Error, 120), run.OtherCores)
	case failed.Failed > 0:
		return fmt.Sprintf("%d connections failed while other processes kept %.2f cores busy", failed.Failed, run.OtherCores)
	}
	return ""
}

// runCase runs one case against one freshly started server.
func (o *suiteOptions) runCase(ctx context.Context, c suiteCase, server, logDir string, stderr io.Writer, suffix string) suiteRun {
	run := suiteRun{Case: c.ID, Server: server}
	tag := c.ID + "-" + server + suffix
	start := time.Now()
	fmt.Fprintf(stderr, "suite: %-22s %-8s ...", c.ID, server)
	sp, err := o.startServer(ctx, server, logDir, tag)
	if err != nil {
		run.Error, run.StartFailed = err.Error(), true
		fmt.Fprintf(stderr, " error: %v\n", oneLine(err.Error(), 300))
		return run
	}
	run.ServerCommand = sp.command
	argv := append([]string{"bench", c.Scenario}, c.Args...)
	argv = append(argv, "--url", fmt.Sprintf("ws://127.0.0.1:%d", sp.port), "--server-pid", strconv.Itoa(sp.pid),
		"--json", "--progress", "2s")
	run.Command = o.rel(o.fastio) + " " + strings.Join(argv, " ")
	logPath := filepath.Join(logDir, tag+".log")
	log, err := os.Create(logPath)
	if err != nil {
		sp.stop()
		run.Error = err.Error()
		return run
	}
	cctx, cancel := context.WithTimeout(ctx, c.Limit)
	defer cancel()
	cmd := exec.CommandContext(cctx, o.fastio, argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, log
	cmd.Env = os.Environ()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	dieWithParent(cmd)
	m0, haveM0 := sampleMachineCPU()
	s0, errS0 := SampleProc(sp.pid)
	t0 := time.Now()
	err = cmd.Run()
	el := time.Since(t0).Seconds()
	m1, haveM1 := sampleMachineCPU()
	s1, errS1 := SampleProc(sp.pid)
	if cmd.ProcessState != nil && el > 0 {
		bench := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		run.BenchCores = roundTo(bench/el, 3)
		if errS0 == nil && errS1 == nil {
			run.ServerCores = roundTo((s1.CPU-s0.CPU).Seconds()/el, 3)
		}
		if haveM0 && haveM1 {
			run.OtherCores = roundTo(max(0, (m1.Busy-m0.Busy).Seconds()/el-run.BenchCores-run.ServerCores), 3)
		}
	}
	log.Close()
	select {
	case <-sp.exited:
		run.ServerExit = fmt.Sprintf("the server exited during the run: %v; its log: %s", sp.waitErr, tailFile(sp.log.Name(), 1500))
	default:
	}
	sp.stop()
	run.Seconds = roundTo(time.Since(start).Seconds(), 1)
	if line := lastLine(out.Bytes()); json.Valid(line) && len(line) > 0 {
		run.Result = append(json.RawMessage(nil), line...)
	}
	if err != nil {
		run.Error = err.Error()
		if cctx.Err() != nil && ctx.Err() == nil {
			run.Error = fmt.Sprintf("over the case's limit of %v: %v", c.Limit, err)
		}
		run.LogTail = lastLines(tailFile(logPath, 4000), 12)
	} else if run.Result == nil {
		run.Error = "no JSON result on stdout"
		run.LogTail = lastLines(tailFile(logPath, 4000), 12)
	}
	status := "ok"
	if run.Error != "" {
		status = "error: " + run.Error
	}
	if run.ServerExit != "" {
		status += " (server died)"
	}
	if run.OtherCores > busyOtherLimit {
		status += fmt.Sprintf(" [other load %.2f cores]", run.OtherCores)
	}
	fmt.Fprintf(stderr, " %5.1fs %s%s\n", run.Seconds, status, summarizeRun(c, run))
	return run
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// summarizeRun is the one-line summary the suite prints after a run.
func summarizeRun(c suiteCase, run suiteRun) string {
	if run.Result == nil {
		return ""
	}
	switch c.Scenario {
	case "idle":
		var r IdleResult
		if json.Unmarshal(run.Result, &r) == nil && r.Server != nil {
			return fmt.Sprintf(": %d open, %.0f connects/s, %.2f KiB/conn", r.Opened, r.ConnectsPerSec, r.Server.KiBPerConn)
		}
	case "fanout":
		var r FanoutResult
		if json.Unmarshal(run.Result, &r) == nil {
			return fmt.Sprintf(": %.0f msgs/s, p99 %.2f ms, lost %d, %.2f µs/msg", r.DeliveredPerS, r.Latency.P99, r.Lost, r.CPUPerMsg)
		}
	case "echo", "polling":
		var r AckLoopResult
		if json.Unmarshal(run.Result, &r) == nil {
			return fmt.Sprintf(": %.0f acks/s, p99 %.2f ms, %.2f µs/ack", r.AcksPerSec, r.RTT.P99, r.CPUPerAck)
		}
	case "connect":
		var r ConnectResult
		if json.Unmarshal(run.Result, &r) == nil {
			return fmt.Sprintf(": %d/%d, %.0f connects/s, %.1f µs/connect", r.Opened, r.Conns, r.ConnectsPerSec, r.CPUPerConnect)
		}
	}
	return ""
}

// machine gathers the machine and version facts for the report.
func (o *suiteOptions) machine(quick bool) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OpenFiles: openFileLimit()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				m.MemBytes, _ = parseKB([]byte(v))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command(o.node, "--version").Output(); err == nil {
		m.NodeVersion = strings.TrimSpace(string(out))
	}
	pkg := func(name string) string {
		b, err := os.ReadFile(filepath.Join(o.repo, "test", "e2e", "node_modules", name, "package.json"))
		if err != nil {
			return ""
		}
		var p struct {
			Version string `json:"version"`
		}
		_ = json.Unmarshal(b, &p)
		return p.Version
	}
	m.SocketIO, m.EngineIO, m.WSVersion = pkg("socket.io"), pkg("engine.io"), pkg("ws")
	if out, err := exec.Command("git", "-C", o.repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", o.repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.Commit += " with uncommitted changes"
		}
	}
	if a, ok := sampleMachineCPU(); ok {
		time.Sleep(time.Second)
		if b, ok := sampleMachineCPU(); ok {
			m.BackgroundLoad = roundTo((b.Busy-a.Busy).Seconds()/1.0, 2)
		}
	}
	return m
}
