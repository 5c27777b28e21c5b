// Package app assembles `fastio demo`, the program the binary runs by default: the demo chat (package demo) on
// a Socket.IO server, with, on the same port through the engine's fallback handler (run off the event loops),
// the demo page at /, Prometheus metrics at /metrics, /healthz and /readyz, and the publish API under /api/.
//
// Shutdown (Run's context ends, on SIGTERM or SIGINT): /readyz answers 503 and new handshakes are refused;
// every socket is disconnected with the reason "server shutting down" (server.Server.Close: WebSocket clients
// get what was queued for them, then a close frame; polling clients get it in their pending GET, then the close
// packet), the event loops keep running until the sessions are gone so that all of it is written, and then
// they stop. All within the grace period: whatever is still open when it runs out is cut.
//
// With a TLS certificate (--tls-cert, --tls-key) the same engine is served through net/http instead, as its
// http.Handler: HTTPS (HTTP/1.1 and HTTP/2) and WSS, polling GETs held by handler goroutines and WebSockets
// hijacked. The shutdown is the same; the last step, instead of stopping the event loops, is the http.Server's
// Shutdown with what is left of the grace period (the hijacked WebSockets ended with their sessions), then the
// engine's Close, which ends the sessions left and stops the timers.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	redisadapter "github.com/fastio/fastio/adapter/redis"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/app/config"
	"github.com/fastio/fastio/internal/app/httpapi"
	"github.com/fastio/fastio/internal/app/limits"
	"github.com/fastio/fastio/internal/app/metrics"
	"github.com/fastio/fastio/internal/demo"
	"github.com/fastio/fastio/server"
)

// App is the configured demo server.
type App struct {
	cfg     *config.Loaded
	log     *slog.Logger
	engine  *eventloop.Server
	io      *server.Server
	limiter *limits.Limiter
	api     *httpapi.API
	start   time.Time
	version string
	mux     *http.ServeMux

	ready    atomic.Bool
	draining atomic.Bool

	listening chan struct{} // closed once Run listens
	mu        sync.Mutex
	addr      net.Addr // where Run listens

	closeRedis func() error // closes the cluster adapter, when there is one
}

// namespaces are the namespaces the demo serves (the publish API and the metrics cover these).
var namespaces = []string{"/"}

// NewLogger returns the logger the configuration asks for, writing to w.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New builds the server; Run serves it.
func New(cfg *config.Loaded, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log, start: time.Now(), version: Version(), mux: http.NewServeMux(),
		listening: make(chan struct{})}
	c := &cfg.Config

	a.engine = eventloop.New(eventloop.Config{
		Addr:           c.Addr,
		EventLoops:     c.EventLoops,
		RequestTimeout: c.RequestTimeout,
		IdleTimeout:    c.IdleTimeout,
		Fallback:       a.fallback(),
		Logger:         log,

		MaxConnections:      c.MaxTCPConnections,
		MaxConnectionsPerIP: c.MaxTCPConnectionsPerIP,
	})
	a.limiter = limits.New(a.engine.Metrics(), c.MaxConnections, c.MaxConnectionsPerIP)
	opts := server.Options{
		Path:           c.Path,
		PingInterval:   c.PingInterval,
		PingTimeout:    c.PingTimeout,
		ConnectTimeout: c.ConnectTimeout,
		MaxPayload:     c.MaxPayload,
		MaxBacklog:     c.MaxBacklog,
		Logger:         log,
	}
	if len(c.CORSOrigins) > 0 {
		opts.CORS = &eventloop.CORS{Origins: c.CORSOrigins}
	}
	if c.Redis != "" {
		node, closer, err := redisadapter.Dial(context.Background(), c.Redis, redisadapter.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		opts.Adapter, a.closeRedis = node.Adapter, closer
	}
	built := false
	defer func() {
		if !built && a.closeRedis != nil {
			_ = a.closeRedis() // Run never will
		}
	}()
	a.limiter.Install(&opts)
	// Attached rather than made with server.New: the application serves the engine itself, so that closing the
	// Socket.IO server at shutdown leaves the loops running until what it queued is written.
	io, err := server.Attach(a.engine, opts)
	if err != nil {
		return nil, err
	}
	a.io = io
	a.limiter.Mount(io)
	demo.Mount(io, log)

	a.api = httpapi.New(httpapi.Config{
		IO:         io,
		Token:      c.APIToken,
		MaxBody:    int64(c.APIMaxBody),
		Namespaces: func() []string { return namespaces },
		Stats:      func() any { return a.Stats() },
		Logger:     log,
	})
	page, err := demo.Page(c.Path)
	if err != nil {
		return nil, fmt.Errorf("demo page: %w", err)
	}
	a.mux.Handle("/", page)
	a.mux.Handle("/api/", a.api)
	built = true
	return a, nil
}

// Engine returns the event loop server.
func (a *App) Engine() *eventloop.Server { return a.engine }

// IO returns the Socket.IO server.
func (a *App) IO() *server.Server { return a.io }

// Run serves until ctx ends, then shuts down within the grace period. It returns an error when the server
// cannot listen, or when it did not stop in time. With a TLS certificate it serves HTTPS and WSS through
// net/http (the engine as the http.Handler: goroutine transports); otherwise plain HTTP on the event loops.
func (a *App) Run(ctx context.Context) error {
	if a.cfg.Certificate != nil {
		return a.runTLS(ctx)
	}
	return a.runEventLoops(ctx)
}

// Listening is closed once Run listens; Addr returns the address from then on.
func (a *App) Listening() <-chan struct{} { return a.listening }

// Addr returns the address the server listens on (the event loops' or, with TLS, net/http's), or nil before
// Listening is closed.
func (a *App) Addr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// runEventLoops serves on the event loops.
func (a *App) runEventLoops(ctx context.Context) error {
	c := &a.cfg.Config
	serveCtx, stopServe := context.WithCancel(context.Background())
	defer stopServe()
	done := make(chan error, 1)
	go func() { done <- a.engine.Serve(serveCtx) }()
	select {
	case <-a.engine.Ready():
	case err := <-done:
		return listenError(c.Addr, err)
	case <-ctx.Done():
		stopServe()
		return listenError(c.Addr, <-done)
	}
	a.listeningOn(a.engine.Addr(), "http")

	select {
	case err := <-done: // the engine stopped by itself
		a.ready.Store(false)
		return err
	case <-ctx.Done():
	}
	return a.shutdown(func(deadline time.Time) error {
		stopServe()
		timer := time.NewTimer(max(time.Until(deadline), 0))
		defer timer.Stop()
		select {
		case err := <-done:
			return err
		case <-timer.C:
			return fmt.Errorf("shutdown: the event loops did not stop within the grace period of %v", a.cfg.ShutdownGrace)
		}
	})
}

// runTLS serves HTTPS through net/http. The listener is opened first, so that an address in use is reported
// (as on the event loops) before the server calls itself ready.
func (a *App) runTLS(ctx context.Context) error {
	c := &a.cfg.Config
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		_ = a.engine.Close() // stops the timers
		return listenError(c.Addr, err)
	}
	if ctx.Err() != nil {
		_ = ln.Close()
		return a.engine.Close()
	}
	hs := a.httpServer()
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	a.log.Info("listening", "addr", ln.Addr(), "tls", true)
	a.listeningOn(ln.Addr(), "https")

	select {
	case err := <-done: // net/http stopped by itself
		a.ready.Store(false)
		_ = a.engine.Close()
		return fmt.Errorf("serve https on %s: %w", c.Addr, err)
	case <-ctx.Done():
	}
	return a.shutdown(func(deadline time.Time) error {
		// Stops listening and closes idle connections at once, then waits for the requests in progress. The
		// hijacked WebSockets are not the http.Server's: they ended with their sessions.
		stopCtx, cancel := context.WithDeadline(context.Background(), deadline)
		err := hs.Shutdown(stopCtx)
		cancel()
		if err != nil {
			a.log.Warn("grace period ran out: HTTP requests cut")
			_ = hs.Close()
		}
		_ = a.engine.Close() // ends what sessions are left and stops the timers
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve https on %s: %w", c.Addr, err)
		}
		return nil
	})
}

// httpServer is the net/http server of the TLS mode, with the engine as its handler and the timeouts of the
// event loops: RequestTimeout bounds the arrival of a request's head (not the whole request: a held polling GET
// is a request in progress, and net/http's ReadTimeout would cut it), IdleTimeout the wait between requests.
// There is no WriteTimeout: polling GETs are held for up to a ping interval.
func (a *App) httpServer() *http.Server {
	c := &a.cfg.Config
	return &http.Server{
		Handler: a.engine,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{*a.cfg.Certificate},
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: c.RequestTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          stdlog.New(httpErrorLog{a.log}, "", 0),
	}
}

// maxHeaderBytes is the event loops' cap on a request head (eventloop.Config.MaxHeaderBytes's default).
const maxHeaderBytes = 8 << 10

// httpErrorLog takes net/http's own log lines into the app's log: failed TLS handshakes (scanners, clients that
// do not trust the certificate) at debug level, the rest (accept errors, handler panics) as warnings.
type httpErrorLog struct{ log *slog.Logger }

func (h httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	h.log.Log(context.Background(), level, "net/http", "err", msg)
	return len(p), nil
}

// listeningOn records the address, marks the server ready and logs it.
func (a *App) listeningOn(addr net.Addr, scheme string) {
	a.mu.Lock()
	a.addr = addr
	a.mu.Unlock()
	close(a.listening)
	a.ready.Store(true)
	// Logged once listening, so that a failure to listen prints nothing but its error.
	a.log.Info("fastio demo ready", append([]any{"url", fmt.Sprintf("%s://%s/", scheme, displayAddr(addr)),
		"version", a.version}, a.cfg.Settings()...)...)
	if _, ok := demo.ClientBundle(); !ok {
		a.log.Warn("the socket.io client bundle is not embedded in this build: the demo page cannot connect (build with `make build`)")
	}
}

// shutdown stops the server within the grace period (see the package doc): it drains the sessions, which is
// the same in both modes, then calls stop, which stops the serving of the mode with what is left of the grace
// period (until deadline).
func (a *App) shutdown(stop func(deadline time.Time) error) error {
	grace := a.cfg.ShutdownGrace
	began := time.Now()
	deadline := began.Add(grace)
	left := a.drain(grace, deadline)
	if a.closeRedis != nil {
		_ = a.closeRedis()
	}
	if err := stop(deadline); err != nil {
		return err
	}
	if left > 0 {
		a.log.Warn("grace period ran out: sessions cut", "sessions", left)
	}
	a.log.Info("stopped", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// drain refuses new sessions and ends the open ones, waiting until they are gone, or until shortly before
// deadline. It returns the number of sessions still open.
func (a *App) drain(grace time.Duration, deadline time.Time) int64 {
	m := a.engine.Metrics()
	a.ready.Store(false)
	a.draining.Store(true)
	a.limiter.Drain()
	a.log.Info("shutting down", "grace", grace, "sessions", m.Sessions.Load(), "connections", m.Connections.Load())

	// Broadcasts already handed to the event loops are written first: a WebSocket session closed before its
	// loop wrote them would lose them. (Sessions served through net/http have them queued already.)
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), max(grace/10, 10*time.Millisecond))
	a.engine.DrainBroadcasts(drainCtx)
	cancelDrain()
	_ = a.io.Close() // every socket: "server shutting down"; the loops (or goroutines) keep running to write it
	// Keep part of the grace period for stopping.
	drainUntil := deadline.Add(-min(grace/4, time.Second))
	for m.Sessions.Load() > 0 && time.Now().Before(drainUntil) {
		time.Sleep(5 * time.Millisecond)
	}
	// The last frames are written after the sessions end; the connections that carried them close once they
	// are. Wait for that to settle (idle keep-alive connections may stay: they are cut).
	settleUntil := minTime(drainUntil, time.Now().Add(500*time.Millisecond))
	for last, since := m.Connections.Load(), time.Now(); last > 0 && time.Now().Before(settleUntil); {
		time.Sleep(5 * time.Millisecond)
		if n := m.Connections.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 50*time.Millisecond {
			break
		}
	}
	return m.Sessions.Load()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// listenError turns the engine's error into one line.
func listenError(addr string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: address already in use", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: address not available on this machine", addr)
	}
	return fmt.Errorf("cannot listen on %s: %v", addr, err)
}

func displayAddr(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP == nil || tcp.IP.IsUnspecified()) {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	if addr == nil {
		return "?"
	}
	return addr.String()
}

// Version is the module version and VCS revision the binary was built from.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += "-dirty"
		}
	}
	return v
}

// Stats is the body of GET /api/stats.
type Stats struct {
	Version       string           `json:"version"`
	UptimeSeconds float64          `json:"uptime_seconds"`
	Ready         bool             `json:"ready"`
	Draining      bool             `json:"draining"`
	Connections   int64            `json:"connections"`
	Sessions      map[string]int64 `json:"sessions"`
	Sockets       map[string]int   `json:"sockets"`
	Counters      map[string]int64 `json:"counters"`
	Refused       map[string]int64 `json:"refused"`
}

// Stats returns the server's state and counters.
func (a *App) Stats() Stats {
	counters := metrics.EngineCounters(a.engine.Metrics())
	return Stats{
		Version:       a.version,
		UptimeSeconds: time.Since(a.start).Truncate(time.Millisecond).Seconds(),
		Ready:         a.ready.Load(),
		Draining:      a.draining.Load(),
		Connections:   counters["connections"],
		Sessions:      map[string]int64{"polling": counters["sessions_polling"], "websocket": counters["sessions_websocket"]},
		Sockets:       a.sockets(),
		Counters:      counters,
		Refused:       a.limiter.Refused(),
	}
}

func (a *App) sockets() map[string]int {
	out := make(map[string]int, len(namespaces))
	for _, n := range namespaces {
		out[n] = a.io.Of(n).Len()
	}
	return out
}

// collect gathers the metric families for a scrape.
func (a *App) collect() []metrics.Family {
	fams := metrics.Engine(a.engine.Metrics())
	fams = append(fams, metrics.FanoutLatency(a.engine.FanoutLatency()))
	fams = append(fams, metrics.Sockets(a.sockets()))
	fams = append(fams, metrics.Counter("fastio_ack_timeouts_total",
		"Acknowledgements the server waited for in vain (emits with a timeout, sockets silent to a broadcast with acks).",
		a.io.AckTimeouts()))
	fams = append(fams, a.limiter.Families()...)
	fams = append(fams, a.api.Families()...)
	ready := 0.0
	if a.ready.Load() {
		ready = 1
	}
	fams = append(fams, metrics.Gauge("fastio_ready", "1 while the server listens and is not shutting down.", ready))
	return append(fams, metrics.Process(a.start, a.version)...)
}
