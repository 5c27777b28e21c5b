package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/fastio/fastio/internal/app/httpapi"
	"github.com/fastio/fastio/internal/app/metrics"
)

// fallback returns the handler of every request outside the Socket.IO path: the engine runs it off the event
// loops. The routes of the page and the API are added by New.
func (a *App) fallback() http.Handler {
	a.mux.Handle("/metrics", metrics.Handler(a.collect))
	a.mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	a.mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case a.draining.Load():
			plain(w, http.StatusServiceUnavailable, "shutting down")
		case !a.ready.Load():
			plain(w, http.StatusServiceUnavailable, "starting")
		default:
			plain(w, http.StatusOK, "ready")
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.log.Enabled(r.Context(), slog.LevelDebug) {
			a.mux.ServeHTTP(w, r)
			return
		}
		began := time.Now()
		rec := &httpapi.StatusRecorder{ResponseWriter: w}
		a.mux.ServeHTTP(rec, r)
		a.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rec.Status, "remote", r.RemoteAddr,
			"took", time.Since(began))
	})
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}
