package limits

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/server"
)

func TestAllowRequest(t *testing.T) {
	var m eventloop.Metrics
	l := New(&m, 2, 0)
	req := &eventloop.Request{RemoteAddr: "192.0.2.1:5000"}
	if err := l.AllowRequest(req); err != nil {
		t.Fatal(err)
	}
	m.Sessions.Store(2)
	if err := l.AllowRequest(req); err != ErrTooManyConnections {
		t.Errorf("over the cap: %v", err)
	}
	m.Sessions.Store(1)
	l.Drain()
	if err := l.AllowRequest(req); err != ErrShuttingDown {
		t.Errorf("draining: %v", err)
	}
	if r := l.Refused(); r["max_connections"] != 1 || r["shutting_down"] != 1 || r["max_connections_per_ip"] != 0 {
		t.Errorf("refused %v", r)
	}
	if f := l.Families(); len(f) != 1 || len(f[0].Samples) != 3 {
		t.Errorf("families %+v", f)
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{"1.2.3.4:80": "1.2.3.4", "[::1]:9": "::1", "noport": "noport"} {
		if got := host(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// startIO serves a server with the limiter; it returns the server's address.
func startIO(t *testing.T, max, perIP int) (*Limiter, *server.Server, string) {
	t.Helper()
	engine := eventloop.New(eventloop.Config{Addr: "127.0.0.1:0", EventLoops: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	l := New(engine.Metrics(), max, perIP)
	opts := server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l.Install(&opts)
	srv, err := server.Attach(engine, opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Mount(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- engine.Serve(ctx) }()
	select {
	case <-engine.Ready():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return l, srv, engine.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerIP(t *testing.T) {
	l, srv, addr := startIO(t, 0, 2)
	a := apptest.DialWS(t, addr, "/socket.io/", nil)
	if p := a.Connect(""); !strings.HasPrefix(p, "40") {
		t.Fatalf("a: %q", p)
	}
	b := apptest.DialWS(t, addr, "/socket.io/", nil)
	if p := b.Connect(""); !strings.HasPrefix(p, "40") {
		t.Fatalf("b: %q", p)
	}
	if n := l.PerIP("127.0.0.1"); n != 2 {
		t.Errorf("counted %d", n)
	}
	// The handshake of a third session is refused: the address is at its cap.
	resp, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), ErrTooManyFromAddress.Error()) {
		t.Errorf("third handshake: %d %s", resp.StatusCode, body)
	}

	// A session opened while there was room, connecting when there is none, gets connect_error.
	a.Close()
	waitFor(t, "a's socket to go", func() bool { return l.PerIP("127.0.0.1") == 1 })
	c := apptest.DialWS(t, addr, "/socket.io/", nil)
	d := apptest.DialWS(t, addr, "/socket.io/", nil)
	if p := c.Connect(""); !strings.HasPrefix(p, "40") {
		t.Fatalf("c: %q", p)
	}
	if p := d.Connect(""); p != `44{"message":"too many connections from your address"}` {
		t.Errorf("d: %q", p)
	}
	if r := l.Refused()["max_connections_per_ip"]; r != 2 {
		t.Errorf("refusals %d", r)
	}
	if n := srv.Of("/").Len(); n != 2 {
		t.Errorf("%d sockets", n)
	}

	// Disconnections give the count back.
	b.Close()
	c.Close()
	waitFor(t, "the count to drop to 0", func() bool { return l.PerIP("127.0.0.1") == 0 })
	e := apptest.DialWS(t, addr, "/socket.io/", nil)
	if p := e.Connect(""); !strings.HasPrefix(p, "40") {
		t.Fatalf("e: %q", p)
	}
}

func TestMaxConnections(t *testing.T) {
	l, _, addr := startIO(t, 1, 0)
	a := apptest.DialWS(t, addr, "/socket.io/", nil)
	a.Connect("")
	resp, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "too many connections") {
		t.Errorf("second session: %d %s", resp.StatusCode, body)
	}
	a.Close()
	waitFor(t, "room for a session", func() bool {
		resp, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if r := l.Refused()["max_connections"]; r < 1 {
		t.Errorf("refusals %d", r)
	}
}
