// Package limits caps connections from outside the engine, with the two hooks the server offers: the Engine.IO
// handshake hook (server.Options.AllowRequest, run on the event loop) and a main-namespace middleware.
//
//   - The total cap counts open Engine.IO sessions (eventloop.Metrics.Sessions) at each handshake: a handshake
//     that would go over it is refused with 403. Handshakes racing on different event loops can overshoot it by
//     at most one per loop.
//   - The per-IP cap counts the main namespace's sockets of each client address: the middleware refuses the
//     socket over the cap (the client gets connect_error "too many connections from your address") and the
//     handshake hook refuses new sessions from an address already at its cap. Sessions that never join the main
//     namespace are not counted (they end after the connect timeout).
//   - While the server shuts down, every handshake is refused.
//
// The address is the TCP peer's: behind a reverse proxy every client has the proxy's address.
package limits

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/app/metrics"
	"github.com/fastio/fastio/server"
)

// The refusal messages, as the client sees them.
var (
	ErrTooManyConnections = errors.New("too many connections")
	ErrTooManyFromAddress = errors.New("too many connections from your address")
	ErrShuttingDown       = errors.New("server shutting down")
)

// Limiter enforces the caps. Its zero caps mean no cap.
type Limiter struct {
	max, perIP int
	sessions   *atomic.Int64 // the engine's open sessions

	draining atomic.Bool

	mu      sync.Mutex
	byIP    map[string]int
	pending map[*server.Socket]string // counted by the middleware, not known to be connected yet

	refusedTotal, refusedPerIP, refusedDraining atomic.Int64
}

// New returns a limiter of at most max sessions (counted by the engine's metrics m) and perIP sockets per
// address.
func New(m *eventloop.Metrics, max, perIP int) *Limiter {
	return &Limiter{max: max, perIP: perIP, sessions: &m.Sessions, byIP: make(map[string]int), pending: make(map[*server.Socket]string)}
}

// Install sets the handshake hook on opts; call Mount on the server made with those options.
func (l *Limiter) Install(opts *server.Options) {
	opts.AllowRequest = l.AllowRequest
}

// Mount adds the per-address middleware to the main namespace, when there is a per-address cap.
func (l *Limiter) Mount(io *server.Server) {
	if l.perIP <= 0 {
		return
	}
	io.Use(l.middleware)
	io.OnConnection(l.connected)
}

// Drain refuses every later handshake.
func (l *Limiter) Drain() { l.draining.Store(true) }

// AllowRequest is the handshake hook. It runs on an event loop: it only reads counters and takes a short lock.
func (l *Limiter) AllowRequest(r *eventloop.Request) error {
	if l.draining.Load() {
		l.refusedDraining.Add(1)
		return ErrShuttingDown
	}
	if l.max > 0 && l.sessions.Load() >= int64(l.max) {
		l.refusedTotal.Add(1)
		return ErrTooManyConnections
	}
	if l.perIP > 0 {
		ip := host(r.RemoteAddr)
		l.mu.Lock()
		n := l.byIP[ip]
		l.mu.Unlock()
		if n >= l.perIP {
			l.refusedPerIP.Add(1)
			return ErrTooManyFromAddress
		}
	}
	return nil
}

// middleware counts the socket against its address, or refuses it.
func (l *Limiter) middleware(s *server.Socket) error {
	ip := s.Handshake().Address
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked()
	if l.byIP[ip] >= l.perIP {
		l.refusedPerIP.Add(1)
		return &server.ConnectError{Message: ErrTooManyFromAddress.Error()}
	}
	l.byIP[ip]++
	l.pending[s] = ip
	return nil
}

// connected confirms the count of a socket that passed the middleware: it is given back at disconnection.
func (l *Limiter) connected(s *server.Socket) {
	l.mu.Lock()
	ip, ok := l.pending[s]
	delete(l.pending, s)
	l.mu.Unlock()
	if !ok {
		return
	}
	var once sync.Once
	release := func() { once.Do(func() { l.release(ip) }) }
	s.OnDisconnect(func(string) { release() })
	if !s.Connected() { // disconnected (from another goroutine) before the handler was in place
		release()
	}
}

// sweepLocked gives back the counts of sockets whose session ended between the middleware and the connection
// (they never connect, so they never disconnect either).
func (l *Limiter) sweepLocked() {
	for s, ip := range l.pending {
		if s.Session().Closed() && !s.Connected() {
			delete(l.pending, s)
			l.releaseLocked(ip)
		}
	}
}

func (l *Limiter) release(ip string) {
	l.mu.Lock()
	l.releaseLocked(ip)
	l.mu.Unlock()
}

func (l *Limiter) releaseLocked(ip string) {
	if n := l.byIP[ip]; n > 1 {
		l.byIP[ip] = n - 1
	} else {
		delete(l.byIP, ip)
	}
}

// PerIP returns the counted sockets of an address.
func (l *Limiter) PerIP(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byIP[ip]
}

// Refused returns the refusals by reason.
func (l *Limiter) Refused() map[string]int64 {
	return map[string]int64{
		"max_connections":        l.refusedTotal.Load(),
		"max_connections_per_ip": l.refusedPerIP.Load(),
		"shutting_down":          l.refusedDraining.Load(),
	}
}

// Families returns the refusal counters.
func (l *Limiter) Families() []metrics.Family {
	f := metrics.Family{Name: "fastio_connections_refused_total", Help: "Handshakes and sockets refused by a connection limit or by the shutdown, by reason.", Type: "counter"}
	refused := l.Refused()
	for _, reason := range []string{"max_connections", "max_connections_per_ip", "shutting_down"} {
		f.Samples = append(f.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "reason", Value: reason}}, Value: float64(refused[reason])})
	}
	return []metrics.Family{f}
}

// host strips the port from "ip:port", as server.Handshake.Address does.
func host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
