package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// testCLIEnv makes the test binary act as `fastio bench ...` when run with "bench" as its first argument: the suite
// test runs it as the servers' and the generator's binary.
const testCLIEnv = "FASTIO_BENCH_TEST_CLI"

// TestMain lets the test binary serve as a bench worker process when re-executed, and as the bench command.
func TestMain(m *testing.M) {
	RunWorkerIfChild()
	if os.Getenv(testCLIEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "bench" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := Main(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type fakeOptions struct {
	pingInterval  time.Duration // 0: no pings
	rejectConnect bool          // answer CONNECT with CONNECT_ERROR
	dropEvery     int           // broadcast: the room's first member misses every dropEvery-th message (0: none)
	pollHold      time.Duration // longest a polling GET is held without data (default 2 s), then answered with a noop
}

// fakeServer is a minimal Engine.IO v4 / Socket.IO v5 server over WebSocket and long-polling (with upgrade): it
// sends the open packet, answers 40 with 40{"sid":...} (or 44 when rejecting) and, when the CONNECT carried auth,
// the "auth" event (joining auth.room first); it acks "message-with-ack", relays "broadcast" to a room, echoes other
// messages, sends pings, and counts what the clients do.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	opts fakeOptions

	upgrades     atomic.Int64
	sioConnects  atomic.Int64
	pongs        atomic.Int64
	open         atomic.Int64
	nextSID      atomic.Int64
	acked        atomic.Int64
	broadcasts   atomic.Int64
	dropped      atomic.Int64
	pollOpens    atomic.Int64
	pollUpgrades atomic.Int64
	polls        atomic.Int64 // polling GETs answered
	posts        atomic.Int64 // polling POSTs answered

	mu       sync.Mutex
	conns    map[net.Conn]bool
	peers    map[string]int // remote IP -> connections
	rooms    map[string][]*fakeSession
	sessions map[string]*fakeSession // polling sessions by sid
	wg       sync.WaitGroup
	quit     chan struct{} // closed when the test ends
}

// fakeSession is one Engine.IO session: its packets go out on its WebSocket, or wait for a polling GET.
type fakeSession struct {
	sid string
	mu  sync.Mutex
	ws  net.Conn
	q   []string
	bel chan struct{} // rung when q gets a packet
}

func (s *fakeSession) send(pkt string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws != nil {
		return wsutil.WriteServerText(s.ws, []byte(pkt))
	}
	s.q = append(s.q, pkt)
	select {
	case s.bel <- struct{}{}:
	default:
	}
	return nil
}

func startFakeServer(t *testing.T, opts fakeOptions) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.pollHold == 0 {
		opts.pollHold = 2 * time.Second
	}
	fs := &fakeServer{t: t, ln: ln, opts: opts, conns: map[net.Conn]bool{}, peers: map[string]int{},
		rooms: map[string][]*fakeSession{}, sessions: map[string]*fakeSession{}, quit: make(chan struct{})}
	srv := &http.Server{Handler: fs, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(fs.quit)
		srv.Close()
		fs.mu.Lock()
		for c := range fs.conns {
			c.Close()
		}
		fs.mu.Unlock()
		fs.wg.Wait()
	})
	return fs
}

func (fs *fakeServer) port() int   { return fs.ln.Addr().(*net.TCPAddr).Port }
func (fs *fakeServer) url() string { return "ws://" + fs.ln.Addr().String() }

func (fs *fakeServer) peerCounts() map[string]int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := map[string]int{}
	for k, v := range fs.peers {
		out[k] = v
	}
	return out
}

func (fs *fakeServer) openPacket(sid string) string {
	ms := max(fs.opts.pingInterval.Milliseconds(), 25000)
	return fmt.Sprintf(`0{"sid":%q,"upgrades":["websocket"],"pingInterval":%d,"pingTimeout":%d,"maxPayload":1000000}`,
		sid, ms, 20000)
}

func (fs *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	socketIO := r.URL.Path == "/socket.io/"
	if q.Get("EIO") != "4" || (!socketIO && r.URL.Path != "/engine.io/") {
		http.Error(w, `{"code":0,"message":"Transport unknown"}`, http.StatusBadRequest)
		return
	}
	switch q.Get("transport") {
	case "polling":
		fs.servePolling(w, r, socketIO)
		return
	case "websocket":
	default:
		http.Error(w, `{"code":0,"message":"Transport unknown"}`, http.StatusBadRequest)
		return
	}
	var sess *fakeSession
	if sid := q.Get("sid"); sid != "" {
		fs.mu.Lock()
		sess = fs.sessions[sid]
		fs.mu.Unlock()
		if sess == nil {
			http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
			return
		}
	}
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	fs.upgrades.Add(1)
	fs.open.Add(1)
	host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
	fs.mu.Lock()
	fs.conns[conn] = true
	fs.peers[host]++
	fs.wg.Add(1)
	fs.mu.Unlock()
	go fs.serve(conn, socketIO, sess)
}

// servePolling serves the polling transport: the handshake, POSTs of packets and long-polling GETs.
func (fs *fakeServer) servePolling(w http.ResponseWriter, r *http.Request, socketIO bool) {
	sid := r.URL.Query().Get("sid")
	if sid == "" {
		if r.Method != http.MethodGet {
			http.Error(w, "bad handshake", http.StatusBadRequest)
			return
		}
		sess := &fakeSession{sid: fmt.Sprintf("p%d", fs.nextSID.Add(1)), bel: make(chan struct{}, 1)}
		fs.mu.Lock()
		fs.sessions[sess.sid] = sess
		fs.mu.Unlock()
		fs.pollOpens.Add(1)
		if iv := fs.opts.pingInterval; iv > 0 {
			go func() { // pings, over polling until the session is upgraded (then the WebSocket loop sends them)
				t := time.NewTicker(iv)
				defer t.Stop()
				for {
					select {
					case <-t.C:
						sess.mu.Lock()
						upgraded := sess.ws != nil
						sess.mu.Unlock()
						if upgraded {
							return
						}
						_ = sess.send("2")
					case <-fs.quit:
						return
					}
				}
			}()
		}
		io.WriteString(w, fs.openPacket(sess.sid))
		return
	}
	fs.mu.Lock()
	sess := fs.sessions[sid]
	fs.mu.Unlock()
	if sess == nil {
		http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		for _, p := range strings.Split(string(body), "\x1e") {
			fs.handle(sess, p, socketIO)
		}
		fs.posts.Add(1)
		io.WriteString(w, "ok")
	case http.MethodGet:
		t := time.NewTimer(fs.opts.pollHold)
		defer t.Stop()
		for {
			sess.mu.Lock()
			if len(sess.q) > 0 {
				out := strings.Join(sess.q, "\x1e")
				sess.q = nil
				sess.mu.Unlock()
				fs.polls.Add(1)
				io.WriteString(w, out)
				return
			}
			sess.mu.Unlock()
			select {
			case <-sess.bel:
			case <-t.C:
				fs.polls.Add(1)
				io.WriteString(w, "6")
				return
			case <-r.Context().Done():
				return
			}
		}
	default:
		http.Error(w, "bad method", http.StatusBadRequest)
	}
}

// handle processes one Engine.IO packet of a session.
func (fs *fakeServer) handle(sess *fakeSession, s string, socketIO bool) bool {
	switch {
	case s == "3":
		fs.pongs.Add(1)
	case socketIO && strings.HasPrefix(s, "40"):
		if fs.opts.rejectConnect {
			return sess.send(`44{"message":"Not authorized"}`) == nil
		}
		fs.sioConnects.Add(1)
		if sess.send(`40{"sid":"x`+sess.sid+`"}`) != nil {
			return false
		}
		if auth := s[2:]; auth != "" {
			var a struct {
				Room string `json:"room"`
			}
			if json.Unmarshal([]byte(auth), &a) == nil && a.Room != "" {
				fs.mu.Lock()
				fs.rooms[a.Room] = append(fs.rooms[a.Room], sess)
				fs.mu.Unlock()
			}
			return sess.send(`42["auth",`+auth+`]`) == nil
		}
	case socketIO && strings.HasPrefix(s, "42"):
		// 42["name",...] or 42<id>["name",...]
		body := s[2:]
		i := strings.IndexByte(body, '[')
		if i < 0 {
			return false
		}
		id := body[:i]
		var args []json.RawMessage
		if json.Unmarshal([]byte(body[i:]), &args) != nil || len(args) == 0 {
			return false
		}
		switch string(args[0]) {
		case `"message-with-ack"`:
			if id == "" {
				return true
			}
			fs.acked.Add(1)
			rest := make([]string, 0, len(args)-1)
			for _, a := range args[1:] {
				rest = append(rest, string(a))
			}
			return sess.send("43"+id+"["+strings.Join(rest, ",")+"]") == nil
		case `"broadcast"`:
			var room string
			if len(args) < 2 || json.Unmarshal(args[1], &room) != nil {
				return false
			}
			n := fs.broadcasts.Add(1)
			rest := make([]string, 0, len(args)-2)
			for _, a := range args[2:] {
				rest = append(rest, string(a))
			}
			out := `42["broadcast",` + strings.Join(rest, ",") + "]"
			fs.mu.Lock()
			members := append([]*fakeSession(nil), fs.rooms[room]...)
			fs.mu.Unlock()
			for k, m := range members {
				if k == 0 && fs.opts.dropEvery > 0 && n%int64(fs.opts.dropEvery) == 0 {
					fs.dropped.Add(1)
					continue
				}
				_ = m.send(out)
			}
			return true
		}
		return sess.send(s) == nil // echo
	case strings.HasPrefix(s, "4"):
		return sess.send(s) == nil // echo
	}
	return true
}

func (fs *fakeServer) serve(conn net.Conn, socketIO bool, sess *fakeSession) {
	defer fs.wg.Done()
	done := make(chan struct{})
	defer func() {
		close(done)
		conn.Close()
		fs.open.Add(-1)
		fs.mu.Lock()
		delete(fs.conns, conn)
		fs.mu.Unlock()
	}()
	if sess != nil {
		// Upgrade of a polling session: 2probe, 3probe, then 5; the queued packets follow on the WebSocket.
		data, _, err := wsutil.ReadClientData(conn)
		if err != nil || string(data) != "2probe" {
			return
		}
		if wsutil.WriteServerText(conn, []byte("3probe")) != nil {
			return
		}
		if data, _, err = wsutil.ReadClientData(conn); err != nil || string(data) != "5" {
			return
		}
		sess.mu.Lock()
		sess.ws = conn
		for _, p := range sess.q {
			_ = wsutil.WriteServerText(conn, []byte(p))
		}
		sess.q = nil
		sess.mu.Unlock()
		fs.pollUpgrades.Add(1)
	} else {
		sess = &fakeSession{sid: fmt.Sprintf("s%d", fs.nextSID.Add(1)), ws: conn}
		if sess.send(fs.openPacket(sess.sid)) != nil {
			return
		}
	}
	if interval := fs.opts.pingInterval; interval > 0 {
		go func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if sess.send("2") != nil {
						return
					}
				case <-done:
					return
				}
			}
		}()
	}
	for {
		data, _, err := wsutil.ReadClientData(conn)
		if err != nil {
			return
		}
		if !fs.handle(sess, string(data), socketIO) {
			return
		}
	}
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
