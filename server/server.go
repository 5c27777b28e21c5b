// Package server is fastio's Socket.IO v4 server: namespaces, sockets, events, acknowledgements, rooms,
// broadcasting, middleware and connection state recovery, spoken over the Engine.IO sessions of package
// eventloop.
//
// It mirrors the API of the Node.js socket.io server, spelled the Go way:
//
//	io, _ := server.New(server.Options{Addr: ":3000"})
//	io.OnConnection(func(s *server.Socket) {
//		s.Emit("hello", "world")
//		s.On("message", func(e *server.Event) {
//			io.Emit("message", e.Args.Spread()...)
//		})
//	})
//	log.Fatal(io.Serve(ctx))
//
// Event handlers, middlewares and connection handlers run on a goroutine of the client's, never on an event
// loop: they may block. The events of one client are handled one at a time, in the order they arrived.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/eventloop"
)

// Args is the argument list of a received event or acknowledgement, decoded on demand.
type Args = sio.Args

// RawJSON is a pre-encoded JSON value, sent as is.
type RawJSON = sio.RawJSON

// Options configures a Server. The zero value of each field means the Node.js server's default.
type Options struct {
	// Addr is the address New listens on (ignored by Attach). Default ":3000".
	Addr string
	// Path is the URL path of the endpoint. Default "/socket.io/".
	Path string
	// PingInterval, PingTimeout, UpgradeTimeout, MaxPayload, MaxBacklog (the slow-consumer bound), Transports,
	// DisableUpgrades, CORS, Cookie and AllowRequest configure the Engine.IO endpoint (see
	// eventloop.EndpointConfig).
	PingInterval    time.Duration
	PingTimeout     time.Duration
	UpgradeTimeout  time.Duration
	MaxPayload      int
	MaxBacklog      int
	Transports      []string
	DisableUpgrades bool
	CORS            *eventloop.CORS
	Cookie          *eventloop.Cookie
	AllowRequest    func(*eventloop.Request) error
	// ConnectTimeout is how long a client may stay connected without joining a namespace. Default 45s.
	ConnectTimeout time.Duration
	// CleanupEmptyChildNamespaces removes a dynamic namespace when its last socket leaves.
	CleanupEmptyChildNamespaces bool
	// ConnectionStateRecovery, when set, lets a client that lost its connection get its id, rooms, data and the
	// packets it missed back when it reconnects in time.
	ConnectionStateRecovery *RecoveryOptions
	// Adapter creates the adapter of each namespace. Default: in memory, on this server only.
	Adapter AdapterFactory
	// InlineHandlers runs the handlers of a client's events and acknowledgements (and the socket middlewares) on
	// the goroutine that read them — an event loop — instead of handing them to a worker goroutine, when nothing
	// of that client is queued already. It saves two goroutine hand-offs per event (the answer of an ack leaves
	// in the same write as the loop's other output) but every such handler must return quickly and never block:
	// no I/O, no EmitWithAck wait, no lock held for long; a blocking handler stalls every connection of its
	// loop. Namespace middlewares and connection handlers still run on workers. Default off.
	InlineHandlers bool
	// EventLoops, ReusePort and Fallback configure the event loops New creates (see eventloop.Config).
	EventLoops int
	ReusePort  bool
	Fallback   http.Handler
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// RecoveryOptions configures connection state recovery.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a session and its missed packets are kept. Default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs the namespace middlewares for a recovered socket too (Node: skipMiddlewares false).
	RunMiddlewares bool
}

func (o *Options) normalize() {
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if o.Addr == "" {
		o.Addr = ":3000"
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 45 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Adapter == nil {
		o.Adapter = NewMemoryAdapter
	}
	if r := o.ConnectionStateRecovery; r != nil {
		rc := *r
		if rc.MaxDisconnectionDuration <= 0 {
			rc.MaxDisconnectionDuration = 2 * time.Minute
		}
		o.ConnectionStateRecovery = &rc
	}
}

// Server is a Socket.IO server.
type Server struct {
	opts       Options
	engine     *eventloop.Server
	ownsEngine bool
	endpoint   *eventloop.Endpoint
	log        *slog.Logger

	mu      sync.RWMutex
	nsps    map[string]*Namespace
	parents []*ParentNamespace

	workers     *workerPool   // goroutines that run the clients' handlers
	offsets     atomic.Uint64 // connection state recovery offsets
	closed      atomic.Bool
	ackTimeouts atomic.Int64
}

// New creates a server with its own event loops, listening on opts.Addr once Serve is called.
func New(opts Options) (*Server, error) {
	opts.normalize()
	engine := eventloop.New(eventloop.Config{
		Addr:       opts.Addr,
		EventLoops: opts.EventLoops,
		ReusePort:  opts.ReusePort,
		Fallback:   opts.Fallback,
		Logger:     opts.Logger,
	})
	s, err := attach(engine, opts)
	if err != nil {
		return nil, err
	}
	s.ownsEngine = true
	return s, nil
}

// Attach mounts a Socket.IO server at opts.Path of an existing event loop server, next to its other endpoints.
// The caller serves the engine.
func Attach(engine *eventloop.Server, opts Options) (*Server, error) {
	opts.normalize()
	return attach(engine, opts)
}

func attach(engine *eventloop.Server, opts Options) (*Server, error) {
	s := &Server{opts: opts, engine: engine, log: opts.Logger, nsps: make(map[string]*Namespace),
		workers: newWorkerPool(10 * time.Second)}
	ep, err := engine.Handle(eventloop.EndpointConfig{
		Path:            opts.Path,
		PingInterval:    opts.PingInterval,
		PingTimeout:     opts.PingTimeout,
		UpgradeTimeout:  opts.UpgradeTimeout,
		MaxPayload:      opts.MaxPayload,
		MaxBacklog:      opts.MaxBacklog,
		Transports:      opts.Transports,
		DisableUpgrades: opts.DisableUpgrades,
		CORS:            opts.CORS,
		Cookie:          opts.Cookie,
		AllowRequest:    opts.AllowRequest,
		Handler:         engineHandler{s},
	})
	if err != nil {
		return nil, fmt.Errorf("server: mount %s: %w", opts.Path, err)
	}
	s.endpoint = ep
	s.Of("/")
	return s, nil
}

// Serve listens and serves until ctx is done. It is for servers made with New; with Attach, serve the engine.
func (s *Server) Serve(ctx context.Context) error {
	if !s.ownsEngine {
		return errors.New("server: Serve on an attached server: serve its engine instead")
	}
	err := s.engine.Serve(ctx)
	s.closed.Store(true)
	return err
}

// ServeHTTP serves the Socket.IO endpoint through net/http, so that an existing net/http program can mount the
// server next to its own routes, behind its own TLS (http.Server.ListenAndServeTLS):
//
//	io, _ := server.New(server.Options{})
//	mux.Handle("/socket.io/", io)
//	go http.ListenAndServeTLS(":443", "cert.pem", "key.pem", mux)
//
// Requests for other paths get 404. Sessions served this way use goroutines (a held GET per polling client, a
// reader and a writer per WebSocket) instead of the event loops, and are otherwise the same: namespaces, rooms,
// broadcasts and the adapter are shared with the sessions the event loops serve, if Serve runs too. Close or
// Shutdown ends them. WebSocket needs HTTP/1.1; the http.Server's WriteTimeout, if set, must exceed
// PingInterval. The namespace handlers run as they do on the event loops.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.endpoint.ServeHTTP(w, r) }

// AckTimeouts returns how many acknowledgements the server waited for in vain: emits to one socket whose
// timeout ran out, and sockets that did not answer a broadcast with acknowledgements in time.
func (s *Server) AckTimeouts() int64 { return s.ackTimeouts.Load() }

// Engine returns the event loop server underneath.
func (s *Server) Engine() *eventloop.Server { return s.engine }

// Close disconnects every socket (reason "server shutting down") and, for a server made with New, stops the
// event loops.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.endpoint.Range(func(sess *eventloop.Session) bool {
		if c, ok := sess.Context().(*client); ok {
			c.closeWith(ReasonServerShuttingDown)
		}
		return true
	})
	if s.ownsEngine {
		return s.engine.Close()
	}
	return nil
}

// Shutdown stops a server made with New gracefully: every socket disconnects with "server shutting down"
// after what was queued for it has been sent, and the server waits for the clients to close (or for ctx to
// end) before it stops the event loops. On an attached server it is Close.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.ownsEngine {
		return s.Close()
	}
	s.closed.Store(true)
	return s.engine.Shutdown(ctx)
}

// Of returns the namespace with the given name, creating it if needed. The name "/" is the main namespace.
func (s *Server) Of(name string) *Namespace {
	if name == "" || name[0] != '/' {
		name = "/" + name
	}
	s.mu.RLock()
	ns := s.nsps[name]
	s.mu.RUnlock()
	if ns != nil {
		return ns
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns = s.nsps[name]; ns == nil {
		ns = newNamespace(s, name, nil)
		s.nsps[name] = ns
	}
	return ns
}

// Namespace returns the namespace with the given name if it exists, without creating it.
func (s *Server) Namespace(name string) (*Namespace, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ns, ok := s.nsps[name]
	return ns, ok
}

// Namespaces returns the existing namespaces.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		out = append(out, ns)
	}
	return out
}

// OfFunc registers a dynamic namespace: a client connecting to a namespace that does not exist yet creates it
// when match accepts its name and auth payload. The returned parent's middlewares and connection handlers apply
// to every namespace it creates.
func (s *Server) OfFunc(match func(name string, auth RawJSON) bool) *ParentNamespace {
	p := newParentNamespace(s, match)
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfRegexp registers a dynamic namespace whose name matches re.
func (s *Server) OfRegexp(re *regexp.Regexp) *ParentNamespace {
	return s.OfFunc(func(name string, _ RawJSON) bool { return re.MatchString(name) })
}

// lookup finds the namespace a client connects to, creating a dynamic one if a parent accepts it.
func (s *Server) lookup(name string, auth RawJSON) *Namespace {
	s.mu.RLock()
	ns := s.nsps[name]
	parents := s.parents
	s.mu.RUnlock()
	if ns != nil {
		return ns
	}
	for _, p := range parents {
		if p.match(name, auth) {
			s.mu.Lock()
			if ns = s.nsps[name]; ns == nil {
				ns = newNamespace(s, name, p)
				s.nsps[name] = ns
				p.add(ns)
			}
			s.mu.Unlock()
			return ns
		}
	}
	return nil
}

func (s *Server) removeNamespace(ns *Namespace) {
	s.mu.Lock()
	if s.nsps[ns.name] == ns {
		delete(s.nsps, ns.name)
	}
	s.mu.Unlock()
	if ns.parent != nil {
		ns.parent.remove(ns)
	}
	_ = ns.adapter.Close()
}

// OnConnection registers a handler for sockets connecting to the main namespace.
func (s *Server) OnConnection(fn func(*Socket)) { s.Of("/").OnConnection(fn) }

// Use adds a middleware to the main namespace.
func (s *Server) Use(mw Middleware) { s.Of("/").Use(mw) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.Of("/").Emit(event, args...) }

// To targets rooms of the main namespace.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.Of("/").To(rooms...) }

// In is an alias of To.
func (s *Server) In(rooms ...string) *BroadcastOperator { return s.Of("/").In(rooms...) }

// Except excludes rooms of the main namespace.
func (s *Server) Except(rooms ...string) *BroadcastOperator { return s.Of("/").Except(rooms...) }

// Local restricts a broadcast of the main namespace to this node.
func (s *Server) Local() *BroadcastOperator { return s.Of("/").Local() }

// Volatile marks a broadcast of the main namespace as droppable.
func (s *Server) Volatile() *BroadcastOperator { return s.Of("/").Volatile() }

// Timeout sets the acknowledgement timeout of a broadcast of the main namespace.
func (s *Server) Timeout(d time.Duration) *BroadcastOperator { return s.Of("/").Timeout(d) }

// FetchSockets returns the sockets of the main namespace.
func (s *Server) FetchSockets() ([]*RemoteSocket, error) { return s.Of("/").FetchSockets() }

// SocketsJoin makes every socket of the main namespace join rooms.
func (s *Server) SocketsJoin(rooms ...string) { s.Of("/").SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the main namespace leave rooms.
func (s *Server) SocketsLeave(rooms ...string) { s.Of("/").SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the main namespace.
func (s *Server) DisconnectSockets(close bool) { s.Of("/").DisconnectSockets(close) }

// ServerSideEmit sends an event to the other servers of the cluster (main namespace).
func (s *Server) ServerSideEmit(event string, args ...any) error {
	return s.Of("/").ServerSideEmit(event, args...)
}

// nextOffset returns a new connection state recovery offset.
func (s *Server) nextOffset() string {
	return fmt.Sprintf("%x-%x", startStamp, s.offsets.Add(1))
}

var startStamp = time.Now().UnixNano()

// engineHandler receives the Engine.IO sessions of the endpoint. Its methods run on event loops, or on the
// goroutines of net/http for sessions served through ServeHTTP.
type engineHandler struct{ s *Server }

func (h engineHandler) OnOpen(sess *eventloop.Session) {
	c := newClient(h.s, sess)
	sess.SetContext(c)
}

func (h engineHandler) OnMessage(sess *eventloop.Session, data []byte, binary bool) {
	if c, ok := sess.Context().(*client); ok {
		c.onMessage(data, binary)
	}
}

func (h engineHandler) OnClose(sess *eventloop.Session, reason string) {
	if c, ok := sess.Context().(*client); ok {
		c.onEngineClose(reason)
	}
}
