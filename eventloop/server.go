// Package eventloop serves HTTP/1.1, Engine.IO long-polling and WebSocket on gnet event loops.
//
// Each event loop parses requests and WebSocket frames straight from the bytes gnet hands it, without a goroutine
// or a read buffer per connection. Engine.IO sessions (Session) live in the endpoints (Endpoint) mounted on a
// Server; their methods can be called from any goroutine, and what they send is written by the loop that owns the
// connection, coalesced into one write where several packets are waiting.
package eventloop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/eventloop/http1"
	"github.com/fastio/fastio/internal/wheel"
)

// Config configures a Server. The zero value of each field selects its default.
type Config struct {
	// Addr is the TCP address to listen on, like ":3000" or "127.0.0.1:0". Default ":3000".
	Addr string
	// EventLoops is the number of event loops. Default: one per CPU.
	EventLoops int
	// ReusePort sets SO_REUSEPORT on the listener, so that several processes can share the port.
	ReusePort bool
	// MaxHeaderBytes caps a request head; a larger one is answered with 431. Default 8 KiB.
	MaxHeaderBytes int
	// RequestTimeout is how long a request (head and body) may take to arrive once it has started. A client that
	// is slower is disconnected (slowloris). Default 30s.
	RequestTimeout time.Duration
	// IdleTimeout is how long a keep-alive HTTP connection may wait for its next request, and how long a new
	// connection may wait before it sends anything. Default 60s.
	IdleTimeout time.Duration
	// MaxFallbackBody caps the body of a request for Fallback; a larger one is answered with 413 without being
	// read. Default 1 MiB.
	MaxFallbackBody int
	// Fallback serves requests outside every endpoint's path. It runs on its own goroutine, so it may block. Its
	// response is buffered and written when the handler returns. Default: 404.
	Fallback http.Handler
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// TimerResolution is the tick of the timing wheel behind heartbeats and timeouts. Default 5ms.
	TimerResolution time.Duration
	// MaxConnections caps the TCP connections the event loops hold open; MaxConnectionsPerIP those from one
	// client IP address. A connection over a cap is answered 503 and closed as soon as it is accepted, and counted
	// in Metrics.ConnectionsRefused. 0: no cap. (Connections served through ServeHTTP are net/http's to limit.)
	MaxConnections      int
	MaxConnectionsPerIP int
}

func (c *Config) normalize() {
	if c.Addr == "" {
		c.Addr = ":3000"
	}
	if c.EventLoops <= 0 {
		c.EventLoops = runtime.NumCPU()
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxFallbackBody <= 0 {
		c.MaxFallbackBody = 1 << 20
	}
	if c.TimerResolution <= 0 {
		c.TimerResolution = 5 * time.Millisecond
	}
}

// Server is an HTTP/1.1 server on gnet event loops that serves Engine.IO endpoints.
type Server struct {
	gnet.BuiltinEventEngine

	cfg       Config
	limits    http1.Limits
	wheel     *wheel.Wheel
	endpoints []*Endpoint
	metrics   Metrics
	// fanoutLatency measures how long broadcasts wait for their event loop to write them.
	fanoutLatency LatencyHistogram
	requests      sync.Pool // *http1.Request, one per request being parsed

	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loopState

	connLimits connLimits

	mu       sync.Mutex
	eng      gnet.Engine
	addr     net.Addr
	ready    chan struct{}
	serving  bool
	closing  atomic.Bool
	draining atomic.Bool // Shutdown began: handshakes are refused
	// servedHTTP is set by the first ServeHTTP: the endpoints are fixed from then on.
	servedHTTP atomic.Bool
}

// New returns a server with the given configuration. Mount endpoints with Handle, then call Serve.
func New(cfg Config) *Server {
	cfg.normalize()
	s := &Server{
		cfg:    cfg,
		limits: http1.Limits{MaxHeaderBytes: cfg.MaxHeaderBytes, MaxHeaders: 100},
		ready:  make(chan struct{}),
		loops:  make(map[gnet.EventLoop]*loopState),
	}
	s.requests.New = func() any { return new(http1.Request) }
	s.connLimits = connLimits{max: cfg.MaxConnections, perIP: cfg.MaxConnectionsPerIP, byIP: make(map[netip.Addr]int32)}
	s.wheel = wheel.New(cfg.TimerResolution, 1024)
	return s
}

// Timers returns the timing wheel that runs the server's heartbeats and timeouts, for layers above that need
// many cheap timers (connect and acknowledgement timeouts). It stops when Serve returns.
func (s *Server) Timers() *wheel.Wheel { return s.wheel }

// Handle mounts an Engine.IO endpoint at cfg.Path. It must be called before Serve and ServeHTTP.
func (s *Server) Handle(cfg EndpointConfig) (*Endpoint, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving || s.servedHTTP.Load() {
		return nil, errors.New("eventloop: Handle called after Serve or ServeHTTP")
	}
	for _, ep := range s.endpoints {
		if strings.HasPrefix(cfg.Path, ep.cfg.Path) || strings.HasPrefix(ep.cfg.Path, cfg.Path) {
			return nil, fmt.Errorf("eventloop: endpoint path %q overlaps %q", cfg.Path, ep.cfg.Path)
		}
	}
	ep := newEndpoint(s, cfg)
	s.endpoints = append(s.endpoints, ep)
	return ep, nil
}

// FanoutLatency returns the histogram of the time from a broadcast's hand-over to an event loop until the
// loop wrote it to every recipient it serves.
func (s *Server) FanoutLatency() *LatencyHistogram { return &s.fanoutLatency }

// Metrics returns the server's counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// Ready is closed once the server listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr returns the address the server listens on, once Ready is closed.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve listens and serves until ctx is done or Close is called. It returns nil after a clean stop.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("eventloop: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()
	defer s.wheel.Stop()

	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()

	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(s.cfg.EventLoops),
		gnet.WithReusePort(s.cfg.ReusePort),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(slogAdapter{s.cfg.Logger}),
	}
	err := gnet.Run(s, "tcp://"+s.cfg.Addr, opts...)
	s.closing.Store(true)
	s.closeAllSessions()
	if err != nil {
		return fmt.Errorf("eventloop: serve %s: %w", s.cfg.Addr, err)
	}
	return nil
}

// Close stops the event loops and closes every connection. Sessions end with ReasonServerClose.
func (s *Server) Close() error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	select {
	case <-s.ready:
	default:
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		if !serving {
			// Only net/http served the endpoints (ServeHTTP): end the sessions and stop the timers here.
			s.closeAllSessions()
			s.wheel.Stop()
		}
		return nil // or Serve has not started listening yet; it will see closing and return
	}
	s.mu.Lock()
	eng := s.eng
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		return fmt.Errorf("eventloop: stop: %w", err)
	}
	return nil
}

// Shutdown stops the server gracefully: new handshakes are refused with 503, every session ends with
// ReasonServerClose after what it had queued (its clients get a close frame, or a close packet on their
// pending poll), then the server waits until the clients have closed their connections, or ctx ends, and stops
// the event loops. Connections still open then are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.DrainBroadcasts(ctx)
	s.closeAllSessions()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.metrics.Connections.Load() > 0 {
		select {
		case <-ctx.Done():
			return s.Close()
		case <-tick.C:
		}
	}
	return s.Close()
}

// DrainBroadcasts has every event loop write the broadcasts queued for it, and waits for them (or ctx): a
// session closed afterwards gets them before its close frame. Shutdown calls it; an application that closes
// sessions itself at shutdown calls it first.
func (s *Server) DrainBroadcasts(ctx context.Context) {
	s.loopsMu.Lock()
	loops := make([]*loopState, 0, len(s.loops))
	for _, ls := range s.loops {
		loops = append(loops, ls)
	}
	s.loopsMu.Unlock()
	done := make(chan struct{}, len(loops))
	for _, ls := range loops {
		err := ls.el.Execute(ctx, gnet.RunnableFunc(func(ctx context.Context) error {
			err := ls.Run(ctx)
			done <- struct{}{}
			return err
		}))
		if err != nil {
			done <- struct{}{}
		}
	}
	for range loops {
		select {
		case <-done:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Server) closeAllSessions() {
	for _, ep := range s.endpoints {
		ep.Range(func(sess *Session) bool {
			sess.finish(ReasonServerClose, true)
			return true
		})
	}
}

// OnBoot records the engine and the bound address. It is part of gnet.EventHandler.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	addr, err := listenerAddr(eng)
	if err != nil {
		s.cfg.Logger.Warn("cannot read the listening address", "err", err)
	}
	s.mu.Lock()
	s.eng = eng
	s.addr = addr
	s.mu.Unlock()
	close(s.ready)
	if s.closing.Load() {
		return gnet.Shutdown
	}
	s.cfg.Logger.Info("listening", "addr", addr, "event_loops", s.cfg.EventLoops)
	return gnet.None
}

func listenerAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("unexpected socket address %T", sa)
}

// OnOpen attaches the connection state. It is part of gnet.EventHandler.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if !s.connLimits.admit(gc, s.metrics.Connections.Load()) {
		s.metrics.ConnectionsRefused.Add(1)
		return refusedResponse, gnet.Close // no context: OnClose leaves it alone
	}
	c := &conn{srv: s, gc: gc, loop: s.loopFor(gc.EventLoop())}
	c.timer.Init(s.wheel, c.onTimer)
	gc.SetContext(c)
	s.metrics.Connections.Add(1)
	c.setDeadline(s.cfg.IdleTimeout)
	return nil, gnet.None
}

// OnClose releases the connection state. It is part of gnet.EventHandler.
func (s *Server) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	s.connLimits.release(gc)
	s.metrics.Connections.Add(-1)
	c.onClose()
	return gnet.None
}

// OnTraffic parses what arrived. It is part of gnet.EventHandler.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return c.serve()
}

// ServeHTTP serves the server's endpoints through net/http, for a program that mounts fastio into its own
// http.Server (to share its port and routes, or to serve TLS, which the event loops do not): a request for an
// endpoint's path goes to that Endpoint's ServeHTTP, any other to Config.Fallback, or 404. Sessions opened this
// way are the same as those of the event loops: same handler, broadcasts, metrics and Shutdown. The event loops
// need not be serving; without them, Close (or Shutdown) still ends the sessions and stops the timers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.servedHTTP.Load() {
		s.mu.Lock() // orders this read of the endpoints after every Handle
		s.servedHTTP.Store(true)
		s.mu.Unlock()
	}
	for _, ep := range s.endpoints {
		if r.URL.Path == ep.cfg.Path {
			ep.ServeHTTP(w, r)
			return
		}
	}
	if s.cfg.Fallback != nil {
		s.cfg.Fallback.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// endpointFor returns the endpoint whose path is the request's path, or nil. A path below an endpoint's
// (/socket.io/socket.io.min.js) is not the endpoint's: it goes to Fallback, as Node's serveClient does.
func (s *Server) endpointFor(target []byte) *Endpoint {
	path := target
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	for _, ep := range s.endpoints {
		if string(path) == ep.cfg.Path {
			return ep
		}
	}
	return nil
}

var monoBase = time.Now()

// monotime returns monotonic nanoseconds since the process started.
func monotime() int64 { return int64(time.Since(monoBase)) }

// NewSessionID returns a new random id in the form of Engine.IO session ids: 20 URL-safe characters.
func NewSessionID() string { return eio.NewSID() }

// slogAdapter lets gnet log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Fatalf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
