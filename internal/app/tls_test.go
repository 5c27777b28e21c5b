package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/internal/app/config"
)

// startTLS runs the app with a self-signed certificate (see start) and returns a client configuration that
// trusts it.
func startTLS(t *testing.T, args ...string) (*running, *tls.Config) {
	t.Helper()
	cert, key, roots := apptest.Certificate(t)
	r := start(t, append([]string{"--tls-cert", cert, "--tls-key", key}, args...)...)
	if r.scheme != "https" {
		t.Fatalf("scheme %s", r.scheme)
	}
	return r, &tls.Config{RootCAs: roots}
}

// dialWSS opens a Socket.IO session over WebSocket over TLS.
func dialWSS(t *testing.T, r *running, cfg *tls.Config) *apptest.WS {
	t.Helper()
	return apptest.DialWSWith(t, ws.Dialer{TLSConfig: cfg}, "wss://"+r.addr+"/socket.io/", nil)
}

func TestTLS(t *testing.T) {
	// The sessions of the bare handshakes below linger at the shutdown: a short grace period.
	r, tlsCfg := startTLS(t, "--shutdown-grace", "500ms")
	if r.app.Engine().Addr() != nil {
		t.Errorf("the event loops listen too, at %v", r.app.Engine().Addr())
	}
	if want := "url=https://" + r.addr + "/"; !strings.Contains(r.log.String(), want) {
		t.Errorf("ready line lacks %s:\n%s", want, r.log.String())
	}
	if !strings.Contains(r.log.String(), "tls_cert=") || !strings.Contains(r.log.String(), "cert.pem") {
		t.Errorf("settings lack the certificate:\n%s", r.log.String())
	}

	// The routes, over HTTP/2 (r.client) and HTTP/1.1.
	h1Transport := &http.Transport{TLSClientConfig: tlsCfg}
	defer h1Transport.CloseIdleConnections()
	h1 := &http.Client{Transport: h1Transport, Timeout: 10 * time.Second}
	for _, tc := range []struct {
		client *http.Client
		proto  int
	}{{r.client, 2}, {h1, 1}} {
		resp, err := tc.client.Get(r.url("/healthz"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok\n" || resp.TLS == nil || resp.ProtoMajor != tc.proto {
			t.Errorf("healthz over HTTP/%d: %d %q %s", tc.proto, resp.StatusCode, body, resp.Proto)
		}
		// An Engine.IO handshake over polling.
		resp, err = tc.client.Get(r.url("/socket.io/?EIO=4&transport=polling"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `0{"sid":"`) || !strings.Contains(string(body), `"upgrades":["websocket"]`) ||
			resp.ProtoMajor != tc.proto {
			t.Errorf("polling handshake over HTTP/%d: %d %s %q", tc.proto, resp.StatusCode, resp.Proto, body)
		}
	}
	// Plain HTTP on the TLS port gets net/http's 400.
	if code, _, body := get(t, "http://"+r.addr+"/healthz"); code != http.StatusBadRequest || !strings.Contains(body, "HTTPS") {
		t.Errorf("plain HTTP: %d %q", code, body)
	}

	// Socket.IO over WebSocket over TLS.
	c := dialWSS(t, r, tlsCfg)
	if got := c.Connect(""); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("connect: %s", got)
	}
	// Socket.IO over polling over HTTP/2: the WebSocket client sees it join.
	poll := apptest.DialPollingWith(t, r.client, r.url("/socket.io/"))
	poll.Post("40")
	if got, err := poll.Poll(); err != nil || !strings.HasPrefix(got[0], `40{"sid":"`) {
		t.Fatalf("polling connect: %v %v", got, err)
	}
	if got := c.MustRead(); !strings.HasPrefix(got, `42["notification",{"id":"`) {
		t.Errorf("ws got %s", got)
	}
	// Three polling sessions: the client's and those of the two bare handshakes. One connection: the hijacked
	// WebSocket (net/http's own connections are not counted).
	_, _, metrics := getWith(t, r.client, r.url("/metrics"))
	for _, want := range []string{`fastio_sockets{namespace="/"} 2`, `fastio_sessions{transport="websocket"} 1`,
		`fastio_sessions{transport="polling"} 3`, `fastio_connections 1`, "fastio_ready 1"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

func TestTLSShutdownTellsClientsAndFlushes(t *testing.T) {
	r, tlsCfg := startTLS(t, "--shutdown-grace", "5s")
	wsc := dialWSS(t, r, tlsCfg)
	wsc.Connect("")
	poll := apptest.DialPollingWith(t, r.client, r.url("/socket.io/"))
	logs := shutdownWithQueuedMessages(t, r, wsc, poll, 100)
	for _, want := range []string{`msg="shutting down"`, "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "grace period ran out") {
		t.Errorf("something was cut:\n%s", logs)
	}
	if m := r.app.Engine().Metrics(); m.Sessions.Load() != 0 || m.Connections.Load() != 0 {
		t.Errorf("after the shutdown: %d sessions, %d connections", m.Sessions.Load(), m.Connections.Load())
	}
	// The listener is closed.
	if conn, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		conn.Close()
		t.Error("still listening after the shutdown")
	}
}

func TestTLSShutdownWithinGrace(t *testing.T) {
	r, _ := startTLS(t, "--shutdown-grace", "800ms")
	shutdownWithinGrace(t, r)
}

func TestTLSPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cert, key, _ := apptest.Certificate(t)
	cfg, err := config.Load([]string{"--addr", ln.Addr().String(), "--tls-cert", cert, "--tls-key", key}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	a, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if want := fmt.Sprintf("cannot listen on %s: address already in use", ln.Addr()); err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if strings.Contains(logs.String(), "ready") {
		t.Errorf("ready logged though not listening:\n%s", logs)
	}
}
