package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/server"
)

const token = "test-token-0123456789"

// startIO serves a Socket.IO server on a free port; a socket joins the room named by its "room" query parameter.
func startIO(t *testing.T) (*server.Server, string) {
	t.Helper()
	srv, err := server.New(server.Options{
		Addr:       "127.0.0.1:0",
		EventLoops: 2,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(s *server.Socket) {
		if room := s.Handshake().Query().Get("room"); room != "" {
			s.Join(room)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	select {
	case <-srv.Engine().Ready():
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, srv.Engine().Addr().String()
}

// startAPI serves the API of io over httptest.
func startAPI(t *testing.T, srv *server.Server, cfg Config) (*API, string) {
	t.Helper()
	cfg.IO = srv
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	api := New(cfg)
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return api, ts.URL
}

func post(t *testing.T, u, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", u, ct)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func connected(t *testing.T, addr, room string) *apptest.WS {
	t.Helper()
	c := apptest.DialWS(t, addr, "/socket.io/", url.Values{"room": {room}})
	if p := c.Connect(""); !strings.HasPrefix(p, "40") {
		t.Fatalf("connect: %q", p)
	}
	return c
}

func TestEmitReachesWebSocketClientsUnchanged(t *testing.T) {
	srv, addr := startIO(t)
	_, base := startAPI(t, srv, Config{Token: token})
	a := connected(t, addr, "red")
	b := connected(t, addr, "blue")

	// The arguments travel as given: 1.50 stays 1.50, key order and spacing inside values are kept.
	args := `[1.50,{"z":1,"a":[true,null]},"text \u00e9",null]`
	status, _, body := post(t, base+"/api/emit", "Bearer "+token, `{"event":"news","args":`+args+`}`)
	if status != http.StatusOK || strings.TrimSpace(body) != `{"ok":true}` {
		t.Fatalf("emit: %d %s", status, body)
	}
	want := `42["news",1.50,{"z":1,"a":[true,null]},"text \u00e9",null]`
	for _, c := range []*apptest.WS{a, b} {
		if got := c.MustRead(); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}

	// rooms and except
	post(t, base+"/api/emit", "Bearer "+token, `{"namespace":"/","rooms":["red"],"event":"only-red"}`)
	if got := a.MustRead(); got != `42["only-red"]` {
		t.Errorf("red got %s", got)
	}
	b.ExpectNothing(200 * time.Millisecond)
	post(t, base+"/api/emit", "Bearer "+token, `{"except":["red"],"event":"not-red","args":[]}`)
	if got := b.MustRead(); got != `42["not-red"]` {
		t.Errorf("blue got %s", got)
	}
	a.ExpectNothing(200 * time.Millisecond)
	// a socket id is a room too
	post(t, base+"/api/emit", "Bearer "+token, `{"rooms":["`+b.ID+`"],"event":"direct","args":["hi"]}`)
	if got := b.MustRead(); got != `42["direct","hi"]` {
		t.Errorf("blue got %s", got)
	}
	a.ExpectNothing(200 * time.Millisecond)
}

func TestDisconnect(t *testing.T) {
	srv, addr := startIO(t)
	_, base := startAPI(t, srv, Config{Token: token})
	a := connected(t, addr, "red")
	b := connected(t, addr, "blue")

	status, _, body := post(t, base+"/api/disconnect", "Bearer "+token, `{"rooms":["red"]}`)
	if status != http.StatusOK {
		t.Fatalf("disconnect: %d %s", status, body)
	}
	if got := a.MustRead(); got != "41" {
		t.Errorf("red got %q, want the DISCONNECT packet 41", got)
	}
	b.ExpectNothing(200 * time.Millisecond)

	// close: the DISCONNECT packet (as Node's client._disconnect sends), then the whole connection goes
	post(t, base+"/api/disconnect", "Bearer "+token, `{"namespace":"/","close":true}`)
	if got := b.MustRead(); got != "41" {
		t.Errorf("blue got %q, want 41", got)
	}
	if p, err := b.Read(); err != apptest.ErrClosed {
		t.Errorf("blue: %q %v, want the connection closed", p, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for srv.Of("/").Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.Of("/").Len(); n != 0 {
		t.Errorf("%d sockets left", n)
	}
}

func TestAuthorization(t *testing.T) {
	srv, _ := startIO(t)
	_, base := startAPI(t, srv, Config{Token: token})
	emit := `{"event":"x"}`
	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"Basic dXNlcjpwYXNz", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusForbidden},
		{"Bearer " + token + "x", http.StatusForbidden},
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
	} {
		for _, route := range []string{"/api/emit", "/api/disconnect"} {
			body := emit
			if route == "/api/disconnect" {
				body = `{"rooms":["nobody"]}`
			}
			status, h, got := post(t, base+route, tc.auth, body)
			if status != tc.status {
				t.Errorf("%s with %q: %d %s, want %d", route, tc.auth, status, got, tc.status)
			}
			if status == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: %v", h)
			}
			if status >= 400 {
				var e Error
				if json.Unmarshal([]byte(got), &e) != nil || e.Error == "" {
					t.Errorf("error body %q", got)
				}
			}
		}
	}
}

func TestDisabledWithoutToken(t *testing.T) {
	srv, _ := startIO(t)
	_, base := startAPI(t, srv, Config{Stats: func() any { return map[string]int{"n": 1} }})
	for _, route := range []string{"/api/emit", "/api/disconnect"} {
		status, _, body := post(t, base+route, "Bearer anything", `{"event":"x"}`)
		if status != http.StatusNotFound || !strings.Contains(body, "disabled") {
			t.Errorf("%s: %d %s", route, status, body)
		}
	}
	// stats stay available
	resp, err := http.Get(base + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != `{"n":1}` {
		t.Errorf("stats: %d %s", resp.StatusCode, b)
	}
}

func TestBadRequests(t *testing.T) {
	srv, _ := startIO(t)
	_, base := startAPI(t, srv, Config{Token: token, MaxBody: 256})
	auth := "Bearer " + token
	for _, tc := range []struct {
		route, body string
		status      int
		contains    string
	}{
		{"/api/emit", `{"event":`, http.StatusBadRequest, "bad JSON"},
		{"/api/emit", ``, http.StatusBadRequest, "empty body"},
		{"/api/emit", `[]`, http.StatusBadRequest, "bad JSON"},
		{"/api/emit", `{"event":"x"} {}`, http.StatusBadRequest, "after the JSON object"},
		{"/api/emit", `{"event":"x","room":["a"]}`, http.StatusBadRequest, "unknown field"},
		{"/api/emit", `{"args":[1]}`, http.StatusBadRequest, `\"event\" is required`},
		{"/api/emit", `{"event":"x","args":{"a":1}}`, http.StatusBadRequest, "bad JSON"},
		{"/api/emit", `{"event":"disconnect"}`, http.StatusBadRequest, "reserved"},
		{"/api/emit", `{"event":"x","namespace":"/other"}`, http.StatusNotFound, "unknown namespace"},
		{"/api/disconnect", `{"close":"yes"}`, http.StatusBadRequest, "bad JSON"},
		{"/api/disconnect", `{"namespace":"chat"}`, http.StatusNotFound, `unknown namespace \"/chat\"`},
		{"/api/emit", `{"event":"x","args":["` + strings.Repeat("a", 300) + `"]}`, http.StatusRequestEntityTooLarge, "over 256 bytes"},
		{"/api/nothing", `{}`, http.StatusNotFound, "no such API route"},
	} {
		status, _, body := post(t, base+tc.route, auth, tc.body)
		if status != tc.status || !strings.Contains(body, tc.contains) {
			t.Errorf("%s %s: %d %s, want %d containing %q", tc.route, tc.body, status, body, tc.status, tc.contains)
		}
	}
	if n := srv.Of("/").Len(); n != 0 {
		t.Errorf("namespace has %d sockets", n)
	}
}

func TestTooLargeBodyWithoutContentLength(t *testing.T) {
	srv, _ := startIO(t)
	_, base := startAPI(t, srv, Config{Token: token, MaxBody: 100})
	// chunked: the size is only known while reading
	req, _ := http.NewRequest(http.MethodPost, base+"/api/emit", io2reader(strings.Repeat(" ", 200)+`{"event":"x"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// io2reader hides the length of a body, so that the client sends it chunked.
func io2reader(s string) io.Reader { return struct{ io.Reader }{bytes.NewReader([]byte(s))} }

func TestMethods(t *testing.T) {
	srv, _ := startIO(t)
	api, base := startAPI(t, srv, Config{Token: token, Stats: func() any { return struct{}{} }})
	for _, tc := range []struct{ method, route, allow string }{
		{http.MethodGet, "/api/emit", "POST"},
		{http.MethodPut, "/api/disconnect", "POST"},
		{http.MethodPost, "/api/stats", "GET, HEAD"},
		{http.MethodDelete, "/api/stats", "GET, HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.route, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s %s: %d Allow=%q %s", tc.method, tc.route, resp.StatusCode, resp.Header.Get("Allow"), b)
		}
	}
	// the calls are counted by route and status
	var found bool
	for _, f := range api.Families() {
		for _, s := range f.Samples {
			if s.Labels[0].Value == "/api/stats" && s.Labels[1].Value == "405" && s.Value == 2 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("405 on /api/stats not counted twice: %+v", api.Families())
	}
}
