// Package testserver is the program behind `fastio testserver`: the behaviour that conformance tests and
// benchmarks drive from outside (see testserver-contract.md in the shared folder): an Engine.IO echo endpoint at
// /engine.io/ and the Socket.IO handlers at /socket.io/.
package testserver

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	redisadapter "github.com/fastio/fastio/adapter/redis"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/selfsigned"
	"github.com/fastio/fastio/server"
)

// Config holds the options the contract lets a caller override.
type Config struct {
	Port           int
	PingInterval   time.Duration
	PingTimeout    time.Duration
	MaxPayload     int
	ConnectTimeout time.Duration
	EventLoops     int
	// Recovery turns connection state recovery on (not part of the contract: the recovery tests use it).
	Recovery bool
	// Pprof serves net/http/pprof under /debug/pprof/ on the same port (for profiling benchmarks).
	Pprof bool
	// Redis, a redis:// URL, joins the cluster of the servers using that Redis (Node's @socket.io/redis-adapter
	// protocol).
	Redis string
	// StdHTTP serves through net/http (Server.ServeHTTP with goroutine transports) instead of the event loops.
	StdHTTP bool
	// TLSCert and TLSKey, PEM files, serve HTTPS and WSS through net/http (they imply StdHTTP).
	TLSCert, TLSKey string
	// InlineHandlers runs the contract's event handlers on the event loops (server.Options.InlineHandlers).
	InlineHandlers bool
	// TLSSelfSigned serves HTTPS and WSS through net/http with a throwaway self-signed certificate.
	TLSSelfSigned bool
	Logger        *slog.Logger
}

// DefaultConfig returns the contract's defaults.
func DefaultConfig() Config {
	return Config{
		Port:           3000,
		PingInterval:   300 * time.Millisecond,
		PingTimeout:    200 * time.Millisecond,
		MaxPayload:     1_000_000,
		ConnectTimeout: time.Second,
	}
}

// Flags registers the contract's flags on fs, with cfg's values as defaults.
func (cfg *Config) Flags(fs *flag.FlagSet) {
	fs.IntVar(&cfg.Port, "port", cfg.Port, "TCP port to listen on")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", cfg.PingInterval, "Engine.IO pingInterval")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", cfg.PingTimeout, "Engine.IO pingTimeout")
	fs.IntVar(&cfg.MaxPayload, "max-payload", cfg.MaxPayload, "largest polling body or WebSocket message, in bytes")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "time a client has to send its Socket.IO CONNECT")
	fs.IntVar(&cfg.EventLoops, "event-loops", cfg.EventLoops, "number of event loops (0: one per CPU)")
	fs.BoolVar(&cfg.Recovery, "recovery", cfg.Recovery, "enable Socket.IO connection state recovery")
	fs.BoolVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve net/http/pprof under /debug/pprof/")
	fs.StringVar(&cfg.Redis, "redis", cfg.Redis, "redis:// URL of the Redis server of a cluster")
	fs.BoolVar(&cfg.InlineHandlers, "inline-handlers", cfg.InlineHandlers, "run the event handlers on the event loops (they never block)")
	fs.BoolVar(&cfg.StdHTTP, "stdhttp", cfg.StdHTTP, "serve through net/http instead of the event loops")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate: serve HTTPS through net/http (with --tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert")
	fs.BoolVar(&cfg.TLSSelfSigned, "tls-self-signed", cfg.TLSSelfSigned, "serve HTTPS through net/http with a throwaway self-signed certificate")
}

// Server is a configured test server, ready to Serve.
type Server struct {
	cfg        Config
	srv        *eventloop.Server
	closeRedis func() error
}

// New builds the test server.
func New(cfg Config) (*Server, error) {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("testserver: --tls-cert and --tls-key go together")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var fallback http.Handler
	if cfg.Pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		fallback = mux
	}
	srv := eventloop.New(eventloop.Config{
		Addr:       fmt.Sprintf(":%d", cfg.Port),
		EventLoops: cfg.EventLoops,
		Logger:     cfg.Logger,
		Fallback:   fallback,
	})
	_, err := srv.Handle(eventloop.EndpointConfig{
		Path:         "/engine.io/",
		PingInterval: cfg.PingInterval,
		PingTimeout:  cfg.PingTimeout,
		MaxPayload:   cfg.MaxPayload,
		CORS:         &eventloop.CORS{Origins: []string{"*"}},
		Handler:      echoHandler{},
	})
	if err != nil {
		return nil, fmt.Errorf("testserver: mount /engine.io/: %w", err)
	}
	opts := server.Options{
		Path:           "/socket.io/",
		PingInterval:   cfg.PingInterval,
		PingTimeout:    cfg.PingTimeout,
		MaxPayload:     cfg.MaxPayload,
		ConnectTimeout: cfg.ConnectTimeout,
		CORS:           &eventloop.CORS{Origins: []string{"*"}},
		Logger:         cfg.Logger,
		InlineHandlers: cfg.InlineHandlers,
	}
	if cfg.Recovery {
		opts.ConnectionStateRecovery = &server.RecoveryOptions{}
	}
	var closeRedis func() error
	if cfg.Redis != "" {
		node, closer, err := redisadapter.Dial(context.Background(), cfg.Redis, redisadapter.Options{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("testserver: %w", err)
		}
		opts.Adapter, closeRedis = node.Adapter, closer
	}
	io, err := server.Attach(srv, opts)
	if err != nil {
		if closeRedis != nil {
			_ = closeRedis()
		}
		return nil, fmt.Errorf("testserver: %w", err)
	}
	mountSocketIO(io)
	return &Server{cfg: cfg, srv: srv, closeRedis: closeRedis}, nil
}

// Serve runs until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	var err error
	if s.cfg.StdHTTP || s.cfg.TLSCert != "" || s.cfg.TLSSelfSigned {
		err = s.serveStd(ctx)
	} else {
		err = s.srv.Serve(ctx)
	}
	if s.closeRedis != nil {
		_ = s.closeRedis()
	}
	return err
}

// serveStd serves the same endpoints through net/http, with TLS when a certificate is configured.
func (s *Server) serveStd(ctx context.Context) error {
	hs := &http.Server{Addr: fmt.Sprintf(":%d", s.cfg.Port), Handler: s.srv, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		_ = s.srv.Close()
		_ = hs.Close()
	})
	defer stop()
	useTLS := s.cfg.TLSCert != "" || s.cfg.TLSSelfSigned
	if s.cfg.TLSSelfSigned {
		cert, err := selfsigned.New(24 * time.Hour)
		if err != nil {
			return fmt.Errorf("testserver: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	}
	s.cfg.Logger.Info("listening through net/http", "addr", hs.Addr, "tls", useTLS)
	var err error
	if useTLS {
		err = hs.ListenAndServeTLS(s.cfg.TLSCert, s.cfg.TLSKey)
	} else {
		err = hs.ListenAndServe()
	}
	_ = s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("testserver: %w", err)
}

// Engine returns the underlying server (for its address and metrics).
func (s *Server) Engine() *eventloop.Server { return s.srv }

// echoHandler sends every message back unchanged.
type echoHandler struct{}

func (echoHandler) OnOpen(*eventloop.Session) {}

func (echoHandler) OnMessage(s *eventloop.Session, data []byte, binary bool) {
	_ = s.Send(data, binary)
}

func (echoHandler) OnClose(*eventloop.Session, string) {}
