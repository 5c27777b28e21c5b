package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestMain lets the test binary serve as a bench worker process when re-executed.
func TestMain(m *testing.M) {
	RunWorkerIfChild()
	os.Exit(m.Run())
}

type fakeOptions struct {
	pingInterval  time.Duration // 0: no pings
	rejectConnect bool          // answer CONNECT with CONNECT_ERROR
}

// fakeServer is a minimal Engine.IO v4 / Socket.IO v5 WebSocket server: it sends the open packet, answers 40 with
// 40{"sid":...} (or 44 when rejecting), sends pings and counts what the clients do.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	opts fakeOptions

	upgrades    atomic.Int64
	sioConnects atomic.Int64
	pongs       atomic.Int64
	open        atomic.Int64
	nextSID     atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]bool
	peers map[string]int // remote IP -> connections
	wg    sync.WaitGroup
}

func startFakeServer(t *testing.T, opts fakeOptions) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{t: t, ln: ln, opts: opts, conns: map[net.Conn]bool{}, peers: map[string]int{}}
	srv := &http.Server{Handler: fs, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
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

func (fs *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" || q.Get("transport") != "websocket" ||
		(r.URL.Path != "/socket.io/" && r.URL.Path != "/engine.io/") {
		http.Error(w, `{"code":0,"message":"Transport unknown"}`, http.StatusBadRequest)
		return
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
	go fs.serve(conn, r.URL.Path == "/socket.io/")
}

func (fs *fakeServer) serve(conn net.Conn, socketIO bool) {
	defer fs.wg.Done()
	var wmu sync.Mutex
	write := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		return wsutil.WriteServerText(conn, []byte(s))
	}
	done := make(chan struct{})
	defer func() {
		close(done)
		conn.Close()
		fs.open.Add(-1)
		fs.mu.Lock()
		delete(fs.conns, conn)
		fs.mu.Unlock()
	}()
	interval := fs.opts.pingInterval
	ms := max(interval.Milliseconds(), 25000)
	sid := fmt.Sprintf("s%d", fs.nextSID.Add(1))
	if err := write(fmt.Sprintf(`0{"sid":%q,"upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":1000000}`,
		sid, ms, 20000)); err != nil {
		return
	}
	if interval > 0 {
		go func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if write("2") != nil {
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
		s := string(data)
		switch {
		case s == "3":
			fs.pongs.Add(1)
		case socketIO && strings.HasPrefix(s, "40"):
			if fs.opts.rejectConnect {
				_ = write(`44{"message":"Not authorized"}`)
				continue
			}
			fs.sioConnects.Add(1)
			if write(`40{"sid":"x`+sid+`"}`) != nil {
				return
			}
		case strings.HasPrefix(s, "4"):
			if write(s) != nil { // echo
				return
			}
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
