package eventloop

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fastio/fastio/eventloop/http1"
)

// Handler receives the events of an endpoint's sessions.
//
// OnOpen and OnMessage run on the event loop that received the traffic (or, for a session served through
// ServeHTTP, on the net/http goroutine that read it); OnClose runs there or on the timer goroutine. None of them
// may block: hand slow work to another goroutine. The data given to OnMessage
// aliases the connection's read buffer and is valid only until OnMessage returns: copy what you keep.
type Handler interface {
	// OnOpen is called once, when the handshake of a new session has been answered.
	OnOpen(s *Session)
	// OnMessage is called for each message packet, in the order the client sent them.
	OnMessage(s *Session, data []byte, binary bool)
	// OnClose is called once, when the session ends, with one of the Reason constants.
	OnClose(s *Session, reason string)
}

// EndpointConfig configures one Engine.IO endpoint. The zero value of each field means the Node.js server's
// default.
type EndpointConfig struct {
	// Path is the URL path prefix of the endpoint, with a trailing slash. Default "/engine.io/".
	Path string
	// PingInterval is the time between two pings sent by the server. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong before it closes the session. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout is how long a client may take to complete an upgrade to WebSocket. Default 10s.
	UpgradeTimeout time.Duration
	// MaxPayload caps one polling POST body and one WebSocket message, in bytes. Default 1,000,000.
	MaxPayload int
	// MaxBacklog caps what may wait for one client, in bytes: packets queued and not yet written, plus what the
	// kernel did not accept yet. A client over it is closed as a slow consumer. Default 16 MiB.
	MaxBacklog int
	// Transports lists the allowed transports. Default both: "polling" and "websocket".
	Transports []string
	// DisableUpgrades stops polling sessions from upgrading to WebSocket (allowUpgrades: false).
	DisableUpgrades bool
	// CORS, when set, answers preflight requests and adds CORS headers to every response of the endpoint.
	CORS *CORS
	// Cookie, when set, sends a cookie holding the session id on the handshake (for sticky load balancing).
	Cookie *Cookie
	// AllowRequest may refuse a handshake: a non-nil error is answered with HTTP 403 and the error's text.
	// It runs on the event loop and must not block.
	AllowRequest func(r *Request) error
	// Handler receives the sessions' events. Required.
	Handler Handler
}

// CORS configures Cross-Origin Resource Sharing like the `cors` package used by the Node.js server.
type CORS struct {
	// Origins lists the allowed origins; "*" allows any origin. Ignored when AllowOrigin is set.
	Origins []string
	// AllowOrigin decides per request origin. It must not block.
	AllowOrigin func(origin string) bool
	// Credentials adds Access-Control-Allow-Credentials: true.
	Credentials bool
	// Methods allowed by preflight answers. Default GET,HEAD,PUT,PATCH,POST,DELETE.
	Methods []string
	// AllowedHeaders for preflight answers. Default: the headers the preflight request asks for.
	AllowedHeaders []string
	// ExposedHeaders lists headers the browser may read.
	ExposedHeaders []string
	// MaxAge lets browsers cache a preflight answer.
	MaxAge time.Duration
}

// Cookie configures the session cookie set on the handshake response.
type Cookie struct {
	Name     string // default "io"
	Path     string // default "/"
	HTTPOnly bool
	SameSite string // "Lax" (default), "Strict", "None" or "-" for none
	Secure   bool
	MaxAge   time.Duration
	Domain   string
}

func (c *EndpointConfig) normalize() error {
	if c.Handler == nil {
		return errors.New("eventloop: EndpointConfig.Handler is required")
	}
	if c.Path == "" {
		c.Path = "/engine.io/"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("eventloop: endpoint path %q must start with /", c.Path)
	}
	if !strings.HasSuffix(c.Path, "/") {
		c.Path += "/"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = 16 << 20
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{TransportPolling, TransportWebSocket}
	}
	for _, t := range c.Transports {
		if t != TransportPolling && t != TransportWebSocket {
			return fmt.Errorf("eventloop: unknown transport %q", t)
		}
	}
	if c.Cookie != nil {
		ck := *c.Cookie
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		if ck.SameSite == "" {
			ck.SameSite = "Lax"
		}
		c.Cookie = &ck
	}
	return nil
}

// closeLinger is how long a closing polling session waits for a GET to collect its close packet.
func (c *EndpointConfig) closeLinger() time.Duration { return c.PingInterval + c.PingTimeout }

func (c *EndpointConfig) allows(transport []byte) bool {
	for _, t := range c.Transports {
		if string(transport) == t {
			return true
		}
	}
	return false
}

// upgrades returns the upgrades offered in the handshake of a session opened on the given transport.
func (c *EndpointConfig) upgrades(websocket bool) []string {
	if websocket || c.DisableUpgrades || !slices.Contains(c.Transports, TransportWebSocket) {
		return []string{}
	}
	return []string{TransportWebSocket}
}

const sessionShards = 64

type sessionShard struct {
	mu       sync.RWMutex
	sessions map[string]*Session
}

// Endpoint is one Engine.IO server mounted at a path of a Server. It holds the endpoint's sessions.
type Endpoint struct {
	cfg     EndpointConfig
	srv     *Server
	metrics *Metrics
	seed    maphash.Seed
	shards  [sessionShards]sessionShard

	// corsStatic is the CORS header block when it does not depend on the request (any origin, no credentials).
	corsStatic []byte
	cookieTail string
}

func newEndpoint(srv *Server, cfg EndpointConfig) *Endpoint {
	ep := &Endpoint{cfg: cfg, srv: srv, metrics: &srv.metrics, seed: maphash.MakeSeed()}
	for i := range ep.shards {
		ep.shards[i].sessions = make(map[string]*Session)
	}
	if cors := cfg.CORS; cors != nil && cors.AllowOrigin == nil && slices.Contains(cors.Origins, "*") && !cors.Credentials {
		ep.corsStatic = http1.AppendHeader(nil, "Access-Control-Allow-Origin", "*")
		if len(cors.ExposedHeaders) > 0 {
			ep.corsStatic = http1.AppendHeader(ep.corsStatic, "Access-Control-Expose-Headers", strings.Join(cors.ExposedHeaders, ","))
		}
	}
	if ck := cfg.Cookie; ck != nil {
		var b strings.Builder
		b.WriteString("; Path=")
		b.WriteString(ck.Path)
		if ck.Domain != "" {
			b.WriteString("; Domain=")
			b.WriteString(ck.Domain)
		}
		if ck.MaxAge > 0 {
			b.WriteString("; Max-Age=")
			b.WriteString(strconv.Itoa(int(ck.MaxAge / time.Second)))
		}
		if ck.HTTPOnly {
			b.WriteString("; HttpOnly")
		}
		if ck.Secure {
			b.WriteString("; Secure")
		}
		if ck.SameSite != "-" {
			b.WriteString("; SameSite=")
			b.WriteString(ck.SameSite)
		}
		ep.cookieTail = b.String()
	}
	return ep
}

// Config returns the endpoint's configuration with defaults filled in.
func (e *Endpoint) Config() EndpointConfig { return e.cfg }

func (e *Endpoint) shard(id string) *sessionShard {
	return &e.shards[maphash.String(e.seed, id)%sessionShards]
}

// Session returns the open session with the given id, or nil.
func (e *Endpoint) Session(id string) *Session {
	sh := e.shard(id)
	sh.mu.RLock()
	s := sh.sessions[id]
	sh.mu.RUnlock()
	return s
}

func (e *Endpoint) lookup(id []byte) *Session {
	// The map index with a converted []byte does not allocate.
	sh := e.shard(string(id))
	sh.mu.RLock()
	s := sh.sessions[string(id)]
	sh.mu.RUnlock()
	return s
}

// Len returns the number of open sessions.
func (e *Endpoint) Len() int {
	n := 0
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		n += len(sh.sessions)
		sh.mu.RUnlock()
	}
	return n
}

// Range calls fn for each open session until fn returns false.
func (e *Endpoint) Range(fn func(*Session) bool) {
	for i := range e.shards {
		sh := &e.shards[i]
		sh.mu.RLock()
		list := make([]*Session, 0, len(sh.sessions))
		for _, s := range sh.sessions {
			list = append(list, s)
		}
		sh.mu.RUnlock()
		for _, s := range list {
			if !fn(s) {
				return
			}
		}
	}
}

func (e *Endpoint) newSession(req *Request, websocket bool) *Session {
	return e.newSessionWithID(NewSessionID(), req, websocket)
}

func (e *Endpoint) newSessionWithID(id string, req *Request, websocket bool) *Session {
	s := &Session{id: id, ep: e, req: req, websocket: websocket}
	now := monotime()
	s.lastRecv = now
	s.pingAt = now + int64(e.cfg.PingInterval)
	s.hbTimer.Init(e.srv.wheel, s.onHeartbeat)
	sh := e.shard(s.id)
	sh.mu.Lock()
	sh.sessions[s.id] = s
	sh.mu.Unlock()
	e.metrics.sessionOpened(websocket)
	return s
}

func (e *Endpoint) remove(s *Session) {
	sh := e.shard(s.id)
	sh.mu.Lock()
	delete(sh.sessions, s.id)
	sh.mu.Unlock()
}

// appendCORS appends the CORS headers of a normal (not preflight) response.
func (e *Endpoint) appendCORS(dst []byte, origin []byte) []byte {
	cors := e.cfg.CORS
	if cors == nil {
		return dst
	}
	if e.corsStatic != nil {
		return append(dst, e.corsStatic...)
	}
	dst = e.appendAllowOrigin(dst, origin)
	if len(cors.ExposedHeaders) > 0 {
		dst = http1.AppendHeader(dst, "Access-Control-Expose-Headers", strings.Join(cors.ExposedHeaders, ","))
	}
	return dst
}

func (e *Endpoint) appendAllowOrigin(dst []byte, origin []byte) []byte {
	cors := e.cfg.CORS
	switch {
	case cors.AllowOrigin == nil && slices.Contains(cors.Origins, "*") && !cors.Credentials:
		dst = http1.AppendHeader(dst, "Access-Control-Allow-Origin", "*")
	case len(origin) > 0 && e.originAllowed(string(origin)):
		dst = http1.AppendHeaderBytes(dst, "Access-Control-Allow-Origin", origin)
		dst = http1.AppendHeader(dst, "Vary", "Origin")
	default:
		dst = http1.AppendHeader(dst, "Vary", "Origin")
	}
	if cors.Credentials {
		dst = http1.AppendHeader(dst, "Access-Control-Allow-Credentials", "true")
	}
	return dst
}

func (e *Endpoint) originAllowed(origin string) bool {
	cors := e.cfg.CORS
	if cors.AllowOrigin != nil {
		return cors.AllowOrigin(origin)
	}
	return slices.Contains(cors.Origins, "*") || slices.Contains(cors.Origins, origin)
}

// appendPreflight appends the headers of a preflight answer to a request with the given Origin and
// Access-Control-Request-Headers.
func (e *Endpoint) appendPreflight(dst []byte, origin, requestHeaders []byte) []byte {
	cors := e.cfg.CORS
	dst = e.appendAllowOrigin(dst, origin)
	methods := "GET,HEAD,PUT,PATCH,POST,DELETE"
	if len(cors.Methods) > 0 {
		methods = strings.Join(cors.Methods, ",")
	}
	dst = http1.AppendHeader(dst, "Access-Control-Allow-Methods", methods)
	if len(cors.AllowedHeaders) > 0 {
		dst = http1.AppendHeader(dst, "Access-Control-Allow-Headers", strings.Join(cors.AllowedHeaders, ","))
	} else if len(requestHeaders) > 0 {
		dst = http1.AppendHeaderBytes(dst, "Access-Control-Allow-Headers", requestHeaders)
		dst = http1.AppendHeader(dst, "Vary", "Access-Control-Request-Headers")
	}
	if cors.MaxAge > 0 {
		dst = http1.AppendHeader(dst, "Access-Control-Max-Age", strconv.Itoa(int(cors.MaxAge/time.Second)))
	}
	return dst
}

// appendCookie appends the Set-Cookie header of a handshake response.
func (e *Endpoint) appendCookie(dst []byte, sid string) []byte {
	if e.cfg.Cookie == nil {
		return dst
	}
	dst = append(dst, "Set-Cookie: "...)
	dst = append(dst, e.cfg.Cookie.Name...)
	dst = append(dst, '=')
	dst = append(dst, sid...)
	dst = append(dst, e.cookieTail...)
	return append(dst, "\r\n"...)
}

// Request describes the HTTP request that opened a session. It keeps one copy of the request head; method,
// URL, headers and query are read from it on demand, so that an idle session stays small.
type Request struct {
	// RemoteAddr is the client's address as "ip:port".
	RemoteAddr string
	// Time is when the handshake was received.
	Time time.Time
	// Secure reports whether the connection was TLS (always false on the event loops, which serve plain TCP;
	// true for a request served by net/http over TLS).
	Secure bool

	raw    []byte    // the request head
	method [2]uint16 // raw[method[0]:method[1]] is the method
	target [2]uint16 // and raw[target[0]:target[1]] the request target
	parsed atomic.Pointer[parsedRequest]
}

type parsedRequest struct {
	header http.Header
	query  url.Values
	// method and url are set for a request served by net/http, which has no raw head.
	method, url string
}

// newStdRequest describes a request served by net/http.
func newStdRequest(r *http.Request) *Request {
	req := &Request{RemoteAddr: r.RemoteAddr, Time: time.Now(), Secure: r.TLS != nil}
	req.parsed.Store(&parsedRequest{header: r.Header.Clone(), query: r.URL.Query(), method: r.Method, url: r.URL.RequestURI()})
	return req
}

func newRequest(req *http1.Request, raw []byte, remote string) *Request {
	head := append([]byte(nil), raw[:req.HeadLen]...)
	r := &Request{RemoteAddr: remote, Time: time.Now(), raw: head}
	// Method and Target alias raw: keep their offsets. A head is at most MaxHeaderBytes, far below 64 KiB.
	r.method = span(head, offsetIn(raw, req.Method), len(req.Method))
	r.target = span(head, offsetIn(raw, req.Target), len(req.Target))
	return r
}

func span(head []byte, off, n int) [2]uint16 {
	if off < 0 || off+n > len(head) || off+n >= 1<<16 {
		return [2]uint16{}
	}
	return [2]uint16{uint16(off), uint16(off + n)}
}

// offsetIn returns the offset of sub within buf, or -1 when sub does not alias buf.
func offsetIn(buf, sub []byte) int {
	if len(sub) == 0 || len(buf) == 0 {
		return -1
	}
	off := int(uintptr(unsafe.Pointer(&sub[0])) - uintptr(unsafe.Pointer(&buf[0])))
	if off < 0 || off+len(sub) > len(buf) {
		return -1
	}
	return off
}

// Method returns the request method (GET for every handshake).
func (r *Request) Method() string {
	if r.raw == nil {
		return r.parse().method
	}
	return string(r.raw[r.method[0]:r.method[1]])
}

// URL returns the request target as sent: path and query.
func (r *Request) URL() string {
	if r.raw == nil {
		return r.parse().url
	}
	return string(r.raw[r.target[0]:r.target[1]])
}

func (r *Request) parse() *parsedRequest {
	if p := r.parsed.Load(); p != nil {
		return p
	}
	p := &parsedRequest{header: make(http.Header)}
	var req http1.Request
	if _, err := http1.Parse(r.raw, &req, http1.Limits{MaxHeaderBytes: len(r.raw) + 1, MaxHeaders: 1 << 10}); err == nil {
		req.VisitHeaders(func(name, value []byte) {
			k := http.CanonicalHeaderKey(string(name))
			p.header[k] = append(p.header[k], string(value))
		})
		p.query, _ = url.ParseQuery(string(req.RawQuery))
	}
	if p.query == nil {
		p.query = url.Values{}
	}
	// Two goroutines may parse at once: both results are equal, the first one stored wins.
	if !r.parsed.CompareAndSwap(nil, p) {
		return r.parsed.Load()
	}
	return p
}

// Header returns the request headers. The map is shared: do not modify it.
func (r *Request) Header() http.Header { return r.parse().header }

// Query returns the parsed query string. The map is shared: do not modify it.
func (r *Request) Query() url.Values { return r.parse().query }
