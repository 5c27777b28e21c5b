// Package httpapi is the HTTP API through which backends publish to the clients of a Socket.IO server:
//
//	POST /api/emit        {"namespace":"/","rooms":[],"except":[],"event":"x","args":[...]}
//	POST /api/disconnect  {"namespace":"/","rooms":[],"close":false}
//	GET  /api/stats
//
// The two POSTs need "Authorization: Bearer <token>" (401 without it, 403 with another token) and do not exist
// (404) when no token is configured. The arguments of an emit are sent as the raw JSON they were given in:
// nothing is decoded into Go values and encoded again. Every error is a JSON object {"error": "..."}.
package httpapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/fastio/fastio/internal/app/metrics"
	"github.com/fastio/fastio/server"
)

// Config configures the API.
type Config struct {
	// IO is the server the API publishes through.
	IO *server.Server
	// Token is the bearer token of the POST routes; empty disables them.
	Token string
	// MaxBody caps a request body, in bytes. Default 1 MiB.
	MaxBody int64
	// Namespaces returns the names of the namespaces the application serves. The API refuses others (404)
	// rather than create them. Default: only "/".
	Namespaces func() []string
	// Stats returns the body of GET /api/stats.
	Stats func() any
	// Logger receives a line per publish request at debug level. Default slog.Default().
	Logger *slog.Logger
}

// API serves the routes; mount it at /api/.
type API struct {
	cfg Config
	mux *http.ServeMux

	mu    sync.Mutex
	calls map[callKey]int64
}

type callKey struct {
	route string
	code  int
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Namespaces == nil {
		cfg.Namespaces = func() []string { return []string{"/"} }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &API{cfg: cfg, mux: http.NewServeMux(), calls: make(map[callKey]int64)}
	a.mux.Handle("/api/emit", a.publish(http.MethodPost, a.emit))
	a.mux.Handle("/api/disconnect", a.publish(http.MethodPost, a.disconnect))
	a.mux.Handle("/api/stats", a.route(http.MethodGet, a.stats))
	a.mux.Handle("/api/", a.route("", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API route: "+r.URL.Path)
	}))
	return a
}

// ServeHTTP serves the /api/ routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Error is the JSON body of an error answer.
type Error struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{msg})
}

// StatusRecorder remembers the status of the answer written through it (0 while nothing is written), for the
// request counters and the app's request log.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(p []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// route checks the method (empty: any) and counts the answer.
func (a *API) route(method string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &StatusRecorder{ResponseWriter: w}
		defer func() { a.count(r.URL.Path, rec.Status) }()
		if method != "" && r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			allow := method
			if method == http.MethodGet {
				allow = "GET, HEAD"
			}
			rec.Header().Set("Allow", allow)
			writeError(rec, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use %s", r.Method, method))
			return
		}
		h(rec, r)
	})
}

// publish guards a POST route: enabled by a token, method, bearer token, body size. The body is read as JSON
// whatever its Content-Type says.
func (a *API) publish(method string, h func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	inner := a.route(method, func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		if r.ContentLength > a.cfg.MaxBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", a.cfg.MaxBody))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", a.cfg.MaxBody))
				return
			}
			writeError(w, http.StatusBadRequest, "cannot read the body")
			return
		}
		h(w, r, body)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Token == "" {
			a.count(r.URL.Path, http.StatusNotFound)
			writeError(w, http.StatusNotFound, "the publish API is disabled: no API token is configured (--api-token)")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// authorized checks the bearer token in constant time; it answers 401 or 403 itself.
func (a *API) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if auth == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fastio"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), []byte(a.cfg.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fastio", error="invalid_token"`)
		writeError(w, http.StatusForbidden, "wrong bearer token")
		return false
	}
	return true
}

// decode reads one JSON object into v, refusing unknown fields and trailing data.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body: want a JSON object")
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

// namespace returns the namespace named n ("" is "/"), or nil when the application does not serve it.
func (a *API) namespace(n string) (*server.Namespace, string) {
	if n == "" {
		n = "/"
	}
	if n[0] != '/' {
		n = "/" + n
	}
	if !slices.Contains(a.cfg.Namespaces(), n) {
		return nil, n
	}
	return a.cfg.IO.Of(n), n
}

// EmitRequest is the body of POST /api/emit.
type EmitRequest struct {
	Namespace string            `json:"namespace"`
	Rooms     []string          `json:"rooms"`
	Except    []string          `json:"except"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
}

func (a *API) emit(w http.ResponseWriter, r *http.Request, body []byte) {
	var req EmitRequest
	if err := decode(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	if req.Event == "" {
		writeError(w, http.StatusBadRequest, `"event" is required`)
		return
	}
	ns, name := a.namespace(req.Namespace)
	if ns == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown namespace %q", name))
		return
	}
	args := make([]any, len(req.Args))
	for i, raw := range req.Args {
		if len(raw) == 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("args[%d] is empty", i))
			return
		}
		args[i] = server.RawJSON(raw)
	}
	err := ns.To(req.Rooms...).Except(req.Except...).Emit(req.Event, args...)
	if errors.Is(err, server.ErrReservedEvent) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("event %q is reserved", req.Event))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "emit: "+err.Error())
		return
	}
	a.cfg.Logger.Debug("api emit", "namespace", name, "event", req.Event, "rooms", req.Rooms, "except", req.Except, "args", len(args))
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// DisconnectRequest is the body of POST /api/disconnect.
type DisconnectRequest struct {
	Namespace string   `json:"namespace"`
	Rooms     []string `json:"rooms"`
	Close     bool     `json:"close"`
}

func (a *API) disconnect(w http.ResponseWriter, r *http.Request, body []byte) {
	var req DisconnectRequest
	if err := decode(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	ns, name := a.namespace(req.Namespace)
	if ns == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown namespace %q", name))
		return
	}
	ns.In(req.Rooms...).DisconnectSockets(req.Close)
	a.cfg.Logger.Info("api disconnect", "namespace", name, "rooms", req.Rooms, "close", req.Close)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Stats == nil {
		writeError(w, http.StatusNotFound, "no stats")
		return
	}
	writeJSON(w, http.StatusOK, a.cfg.Stats())
}

func (a *API) count(route string, code int) {
	switch route {
	case "/api/emit", "/api/disconnect", "/api/stats":
	default:
		route = "other"
	}
	a.mu.Lock()
	a.calls[callKey{route, code}]++
	a.mu.Unlock()
}

// Families returns the request counters.
func (a *API) Families() []metrics.Family {
	a.mu.Lock()
	keys := make([]callKey, 0, len(a.calls))
	for k := range a.calls {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y callKey) int {
		if c := strings.Compare(x.route, y.route); c != 0 {
			return c
		}
		return x.code - y.code
	})
	f := metrics.Family{Name: "fastio_api_requests_total", Help: "Requests to the HTTP API, by route and status code.", Type: "counter"}
	for _, k := range keys {
		f.Samples = append(f.Samples, metrics.Sample{
			Labels: []metrics.Label{{Name: "route", Value: k.route}, {Name: "code", Value: fmt.Sprint(k.code)}},
			Value:  float64(a.calls[k]),
		})
	}
	a.mu.Unlock()
	return []metrics.Family{f}
}
