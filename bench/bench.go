// Package bench is the load generator behind `fastio bench`: a cheap Engine.IO v4 / Socket.IO v5 WebSocket client,
// sampling of the server process through /proc, connection spreading over loopback source addresses and over child
// worker processes, and the benchmark scenarios built on them.
//
// A scenario has two halves (see Scenario): Run drives the benchmark in the process that called Main, Work runs in
// each worker. Workers are child processes (the same binary re-executed with WorkerEnv set, talking JSON lines over
// stdin/stdout) or, with --procs 0, one goroutine of the calling process speaking the same protocol over pipes.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scenario is one kind of benchmark. The value is created by the factory given to Register; its exported fields
// are its parameters: they are set from flags in the calling process and travel to the workers as JSON.
type Scenario interface {
	// Summary is the one-line description shown in the usage text.
	Summary() string
	// Flags registers the scenario's own flags (besides the common Options ones).
	Flags(fs *flag.FlagSet)
	// Validate checks the parameters after the flags are parsed; it may adjust the common options.
	Validate(o *Options) error
	// Run drives the benchmark from the calling process and returns its result: a struct, printed as a table by
	// PrintTable and as one JSON object with --json.
	Run(ctx context.Context, r *Runner) (any, error)
	// Work is the worker half, run in each worker with the scenario's parameters decoded from the parent's.
	Work(ctx context.Context, w *Worker) error
}

// OptionDefaulter is implemented by a scenario whose defaults for the common flags differ from the usual ones
// (the connect storm has no rate limit, for instance); Main calls it before parsing the flags.
type OptionDefaulter interface {
	DefaultOptions(o *Options)
}

var scenarios = map[string]func() Scenario{}

// Register adds a scenario under name. It panics on a duplicate name.
func Register(name string, factory func() Scenario) {
	if _, dup := scenarios[name]; dup {
		panic("bench: scenario registered twice: " + name)
	}
	scenarios[name] = factory
}

func init() {
	Register("idle", func() Scenario { return &Idle{Hold: 10 * time.Second, Settle: 2 * time.Second} })
}

// Options are the flags every scenario shares.
type Options struct {
	URL            string        // server base URL: ws://host:port (http://, bare host:port, wss:// and https:// are accepted)
	Insecure       bool          // with wss://, accept any certificate
	Path           string        // request path; "" means /socket.io/, or /engine.io/ with EngineIO
	EngineIO       bool          // Engine.IO only: no Socket.IO CONNECT
	Namespace      string        // Socket.IO namespace to connect to
	Auth           string        // Socket.IO CONNECT auth payload (a JSON object), "" for none
	Conns          int           // connections to open in total
	Rate           float64       // connects per second over all workers, 0 for unlimited
	Concurrency    int           // handshakes in flight per worker at most
	ConnectTimeout time.Duration // limit for one connection's whole handshake
	Procs          int           // worker processes; 0 runs the worker in-process; -1 picks (auto)
	SourceIPs      string        // loopback source addresses: "127.0.0.1-127.0.0.8", "" picks
	ServerPID      int           // server process to sample; 0 finds the listener of the URL's port; -1 none
	JSON           bool          // print the result as one JSON object on stdout
	Progress       time.Duration // progress line period when stderr is not a terminal

	// Filled by Main after parsing.
	sourceAddrs []string
	wsURL       *url.URL
}

func defaultOptions() Options {
	return Options{
		URL:            "ws://127.0.0.1:3000",
		Namespace:      "/",
		Conns:          1000,
		Rate:           2000,
		Concurrency:    256,
		ConnectTimeout: 10 * time.Second,
		Procs:          -1,
		Progress:       time.Second,
	}
}

// flags registers the common flags on fs, except names the scenario already defined for its own use (fanout's
// --rate is a message rate; it moves the connect rate to --connect-rate).
func (o *Options) flags(fs *flag.FlagSet) {
	def := func(name string, define func(name string)) {
		if fs.Lookup(name) == nil {
			define(name)
		}
	}
	def("url", func(n string) {
		fs.StringVar(&o.URL, n, o.URL, "server base URL (ws://host:port, or wss://host:port for TLS)")
	})
	def("insecure", func(n string) {
		fs.BoolVar(&o.Insecure, n, o.Insecure, "with wss://, accept any server certificate (self-signed ones)")
	})
	def("path", func(n string) {
		fs.StringVar(&o.Path, n, o.Path, "request path (default /socket.io/, or /engine.io/ with --engineio)")
	})
	def("engineio", func(n string) { fs.BoolVar(&o.EngineIO, n, o.EngineIO, "Engine.IO only: skip the Socket.IO CONNECT") })
	def("namespace", func(n string) { fs.StringVar(&o.Namespace, n, o.Namespace, "Socket.IO namespace") })
	def("auth", func(n string) { fs.StringVar(&o.Auth, n, o.Auth, "Socket.IO CONNECT auth payload, a JSON object") })
	def("conns", func(n string) { fs.IntVar(&o.Conns, n, o.Conns, "connections to open") })
	def("rate", func(n string) {
		fs.Var((*rateFlag)(&o.Rate), n, "connects per second over all workers, e.g. 2000/s (0: unlimited)")
	})
	def("concurrency", func(n string) {
		fs.IntVar(&o.Concurrency, n, o.Concurrency, "handshakes in flight per worker at most")
	})
	def("connect-timeout", func(n string) {
		fs.DurationVar(&o.ConnectTimeout, n, o.ConnectTimeout, "limit for one connection's handshake")
	})
	def("procs", func(n string) {
		fs.Var((*procsFlag)(&o.Procs), n, "worker processes: auto, or a number (0: in this process)")
	})
	def("source-ips", func(n string) {
		fs.StringVar(&o.SourceIPs, n, o.SourceIPs, "source addresses, e.g. 127.0.0.1-127.0.0.8 (default: enough loopback addresses)")
	})
	def("server-pid", func(n string) {
		fs.Var((*pidFlag)(&o.ServerPID), n, "server process to sample: a PID, auto (the listener of the URL's port) or none")
	})
	def("json", func(n string) { fs.BoolVar(&o.JSON, n, o.JSON, "print the result as one JSON object on stdout") })
	def("progress", func(n string) {
		fs.DurationVar(&o.Progress, n, o.Progress, "progress line period when stderr is not a terminal")
	})
}

// Per-source-address budget of connections to one server address: the kernel's default ephemeral range holds
// 28232 ports; a margin is kept for sockets in TIME_WAIT from earlier runs.
const connsPerSourceIP = 24000

// The kernel's default ephemeral port range (32768-60999).
const maxPortsPerSourceIP = 28232

// Per-process connection budget below the open-file limit (pipes, the binary, stdio and spare descriptors).
const fdReserve = 256

func (o *Options) finish() error {
	if o.Conns <= 0 {
		return errors.New("--conns must be positive")
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return errors.New("--rate must be a non-negative number")
	}
	if o.Concurrency <= 0 {
		return errors.New("--concurrency must be positive")
	}
	if o.ConnectTimeout <= 0 {
		return errors.New("--connect-timeout must be positive")
	}
	if o.Progress <= 0 {
		o.Progress = time.Second
	}
	u, err := buildURL(o.URL, o.Path, o.EngineIO)
	if err != nil {
		return err
	}
	o.wsURL = u
	if o.Auth != "" && (!json.Valid([]byte(o.Auth)) || !strings.HasPrefix(strings.TrimSpace(o.Auth), "{")) {
		return errors.New("--auth must be a JSON object")
	}
	if o.Namespace == "" {
		o.Namespace = "/"
	}
	if !strings.HasPrefix(o.Namespace, "/") {
		return errors.New("--namespace must start with /")
	}

	// Source addresses.
	if o.SourceIPs != "" {
		addrs, err := ParseSourceIPs(o.SourceIPs)
		if err != nil {
			return err
		}
		o.sourceAddrs = make([]string, len(addrs))
		for i, a := range addrs {
			o.sourceAddrs[i] = a.String()
		}
	} else if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		n := (o.Conns + connsPerSourceIP - 1) / connsPerSourceIP
		first := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		for a := first; len(o.sourceAddrs) < n; a = a.Next() {
			o.sourceAddrs = append(o.sourceAddrs, a.String())
		}
	}
	if n := len(o.sourceAddrs); n > 0 && o.Conns > n*maxPortsPerSourceIP {
		return fmt.Errorf("%d connections need at least %d source addresses (%d ports each)",
			o.Conns, (o.Conns+maxPortsPerSourceIP-1)/maxPortsPerSourceIP, maxPortsPerSourceIP)
	}

	// Worker processes.
	perProc := maxConnsPerProcess()
	switch {
	case o.Procs < 0:
		o.Procs = max(1, (o.Conns+perProc-1)/perProc)
	case o.Procs == 0 && o.Conns > perProc:
		return fmt.Errorf("--procs 0 holds at most %d connections (open-file limit); use more processes", perProc)
	case o.Procs > 0 && (o.Conns+o.Procs-1)/o.Procs > perProc:
		return fmt.Errorf("%d connections over %d processes exceeds %d per process (open-file limit); use --procs %d",
			o.Conns, o.Procs, perProc, (o.Conns+perProc-1)/perProc)
	}
	if o.Procs > 64 {
		return errors.New("--procs is at most 64")
	}
	return nil
}

// buildURL turns the base URL and path into the WebSocket endpoint URL with the Engine.IO query.
func buildURL(base, path string, engineIO bool) (*url.URL, error) {
	if !strings.Contains(base, "://") {
		base = "ws://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	defaultPort := "80"
	switch u.Scheme {
	case "ws", "http":
		u.Scheme = "ws"
	case "wss", "https":
		u.Scheme, defaultPort = "wss", "443"
	default:
		return nil, fmt.Errorf("--url: scheme %q is not supported (ws, http, wss or https)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("--url: no host")
	}
	if u.Hostname() == "localhost" {
		// Pin the loopback family so that IPv4 source addresses can be bound.
		u.Host = "127.0.0.1" + strings.TrimPrefix(u.Host, "localhost")
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	if path == "" {
		path = u.Path
	}
	if path == "" || path == "/" {
		path = "/socket.io/"
		if engineIO {
			path = "/engine.io/"
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u.Path = path
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u, nil
}

// maxConnsPerProcess is how many connections one process can hold under its open-file limit.
func maxConnsPerProcess() int {
	n := openFileLimit() - fdReserve
	return max(n, 64)
}

type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) + "/s" }
func (r *rateFlag) Set(s string) error {
	s = strings.TrimSuffix(strings.TrimSpace(s), "/s")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return errors.New("want a number of connects per second, e.g. 2000/s")
	}
	*r = rateFlag(v)
	return nil
}

type procsFlag int

func (p *procsFlag) String() string {
	if *p < 0 {
		return "auto"
	}
	return strconv.Itoa(int(*p))
}
func (p *procsFlag) Set(s string) error {
	if s == "auto" {
		*p = -1
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return errors.New("want auto or a non-negative number")
	}
	*p = procsFlag(v)
	return nil
}

type pidFlag int

func (p *pidFlag) String() string {
	switch {
	case *p == 0:
		return "auto"
	case *p < 0:
		return "none"
	}
	return strconv.Itoa(int(*p))
}
func (p *pidFlag) Set(s string) error {
	switch s {
	case "auto":
		*p = 0
		return nil
	case "none":
		*p = -1
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return errors.New("want a PID, auto or none")
	}
	*p = pidFlag(v)
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fastio bench <scenario> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "scenarios:")
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, scenarios[n]().Summary())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "other commands:")
	fmt.Fprintf(w, "  %-16s %s\n", "suite", "run every scenario against fastio, Node.js socket.io and the baseline; write BENCHMARKS.md")
	fmt.Fprintf(w, "  %-16s %s\n", "baseline-server", "the bare Go fan-out server the targets are measured against")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "`fastio bench <scenario> -h` lists the flags.")
}

// Main runs `fastio bench <scenario> [flags]`; args excludes "bench". It writes human progress to stderr (a live
// line on a terminal, one line per --progress period otherwise) and the result as a table to stdout; with --json
// the table goes to stderr and stdout gets the result as one JSON object on one line.
//
// A process started as a worker (WorkerEnv set) serves the worker protocol on its standard input and output
// instead, whatever args say.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if IsWorker() {
		// The parent coordinates the end (an interrupt there closes our input), so a terminal's Ctrl-C, which
		// reaches the whole process group, must not cut the worker short.
		signal.Ignore(os.Interrupt)
		return RunWorker(context.WithoutCancel(ctx), os.Stdin, stdout)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errors.New("bench: no scenario given")
		}
		return nil
	}
	name := args[0]
	switch name {
	case "baseline-server":
		return runBaselineServer(ctx, args[1:], stderr)
	case "suite":
		return runSuite(ctx, args[1:], stdout, stderr)
	}
	factory, ok := scenarios[name]
	if !ok {
		usage(stderr)
		return fmt.Errorf("bench: unknown scenario %q", name)
	}
	sc := factory()
	opts := defaultOptions()
	if d, ok := sc.(OptionDefaulter); ok {
		d.DefaultOptions(&opts)
	}
	fs := flagSetFor(sc, &opts)
	fs.Init("bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fastio bench %s [flags]\n\n%s\n\nflags:\n", name, sc.Summary())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if err := sc.Validate(&opts); err != nil {
		return fmt.Errorf("bench %s: %w", name, err)
	}
	if err := opts.finish(); err != nil {
		return fmt.Errorf("bench %s: %w", name, err)
	}
	r := newRunner(name, sc, &opts, stderr, args)
	defer r.Close()
	res, err := sc.Run(ctx, r)
	r.progress.stop()
	if err != nil {
		return fmt.Errorf("bench %s: %w", name, err)
	}
	if err := r.Close(); err != nil {
		fmt.Fprintln(stderr, "bench: workers:", err)
	}
	if !opts.JSON {
		PrintTable(stdout, res)
		return nil
	}
	PrintTable(stderr, res)
	return writeJSON(stdout, res)
}

// flagSetFor returns the flag set of a scenario: its own flags, then the common ones it did not take over.
func flagSetFor(sc Scenario, o *Options) *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sc.Flags(fs)
	o.flags(fs)
	return fs
}

// numCPU is exported to results so figures can be read against the machine.
func numCPU() int { return runtime.NumCPU() }

// WebSocketURL returns the endpoint URL the connections use (with the Engine.IO query), once the options are
// validated.
func (o *Options) WebSocketURL() *url.URL { return o.wsURL }

// SourceAddrs returns the source addresses connections are spread over (empty: the kernel chooses).
func (o *Options) SourceAddrs() []string { return o.sourceAddrs }
