// Package cluster_test runs fastio nodes with the Redis adapter against a real redis-server (started with
// start-redis.sh; the tests are skipped when redis-server cannot be found or started). The interop with Node.js
// socket.io nodes is in interop.test.js (npm test).
package cluster_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	redisadapter "github.com/fastio/fastio/adapter/redis"
	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/emitter"
	"github.com/fastio/fastio/server"
)

// redisServer is a redis-server started by start-redis.sh.
type redisServer struct {
	port int
	pid  int
	dir  string
}

var scriptPath = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "start-redis.sh")
}()

var (
	outPort = regexp.MustCompile(`REDIS_PORT=(\d+)`)
	outPid  = regexp.MustCompile(`kill (\d+)`)
)

// startRedis starts a redis-server (on port when not 0), or skips the test when there is none.
func startRedis(t testing.TB, port int, dir string) *redisServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	args := []string{"--dir", dir, "--watch", strconv.Itoa(os.Getpid())}
	if port != 0 {
		args = append(args, "--port", strconv.Itoa(port))
	}
	cmd := exec.Command(scriptPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 {
			t.Skipf("redis-server not available (%s): %s", scriptPath, strings.TrimSpace(stderr.String()))
		}
		if port == 0 {
			t.Skipf("redis-server could not be started: %v: %s", err, stderr.String())
		}
		t.Fatalf("redis-server could not be restarted: %v: %s", err, stderr.String())
	}
	m, p := outPort.FindSubmatch(out), outPid.FindSubmatch(out)
	if m == nil || p == nil {
		t.Fatalf("unexpected start-redis.sh output %q", out)
	}
	r := &redisServer{dir: dir}
	r.port, _ = strconv.Atoi(string(m[1]))
	r.pid, _ = strconv.Atoi(string(p[1]))
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

func (r *redisServer) stop() {
	if r.pid == 0 {
		return
	}
	_ = syscall.Kill(r.pid, syscall.SIGKILL)
	// Wait until the port is free again (the process may linger as a zombie of whoever reaps daemons).
	for range 200 {
		c, err := net.DialTimeout("tcp", r.addr(), 100*time.Millisecond)
		if err != nil {
			break
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	r.pid = 0
}

func init() {
	redis.SetLogger(redisadapter.RedisLogger(slog.Default()))
}

func newRedisClient(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// goNode is an in-process fastio server with the Redis adapter.
type goNode struct {
	io   *server.Server
	node *redisadapter.Node
	addr string
}

func startNode(t testing.TB, redisAddr string, opts redisadapter.Options, sopts server.Options, setup func(*server.Server)) *goNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rdb := newRedisClient(t, redisAddr)
	if opts.RequestsTimeout == 0 {
		opts.RequestsTimeout = 2 * time.Second
	}
	node := redisadapter.New(ctx, rdb, opts)
	sopts.Addr = "127.0.0.1:0"
	sopts.Adapter = node.Adapter
	io, err := server.New(sopts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(io)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = io.Serve(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		_ = io.Close()
		<-served
		_ = node.Close()
	})
	select {
	case <-io.Engine().Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start")
	}
	return &goNode{io: io, node: node, addr: io.Engine().Addr().String()}
}

// waitServers waits until n nodes subscribe to the request channel of nsp.
func waitServers(t testing.TB, rdb *redis.Client, nsp string, n int) {
	t.Helper()
	ch := "socket.io-request#" + nsp + "#"
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := rdb.PubSubNumSub(context.Background(), ch).Result()
		if err == nil && int(res[ch]) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers of %s, want %d (err %v)", res[ch], ch, n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const settle = 200 * time.Millisecond

// twoNodes starts Redis and two nodes whose main namespace is ready.
func twoNodes(t *testing.T, opts redisadapter.Options, setup func(*server.Server)) (*redisServer, *redis.Client, *goNode, *goNode) {
	t.Helper()
	rs := startRedis(t, 0, "")
	rdb := newRedisClient(t, rs.addr())
	n1 := startNode(t, rs.addr(), opts, server.Options{}, setup)
	n2 := startNode(t, rs.addr(), opts, server.Options{}, setup)
	waitServers(t, rdb, "/", 2)
	return rs, rdb, n1, n2
}

// joinOnConnect makes a socket join the room of its auth payload, then tells it "ready" (dialReady waits for it:
// connection handlers run after the client got its CONNECT).
func joinOnConnect(io *server.Server) {
	io.Of("/chat")
	io.OnConnection(func(s *server.Socket) {
		var auth struct {
			Room string `json:"room"`
		}
		if s.Handshake().DecodeAuth(&auth) == nil && auth.Room != "" {
			s.Join(auth.Room)
		}
		_ = s.Emit("ready")
	})
}

func dialReady(t testing.TB, addr, auth string, header http.Header, query string) *wsClient {
	t.Helper()
	c := dial(t, addr, "/", auth, header, query)
	c.expect("ready", 3*time.Second)
	return c
}

func TestBroadcastAcrossNodes(t *testing.T) {
	t.Parallel()
	_, _, n1, n2 := twoNodes(t, redisadapter.Options{}, joinOnConnect)
	a := dialReady(t, n1.addr, `{"room":"r1"}`, nil, "")
	b := dialReady(t, n2.addr, "", nil, "")
	c := dialReady(t, n2.addr, `{"room":"r1"}`, nil, "")
	clients := []*wsClient{a, b, c}
	only := func(event string, want ...*wsClient) {
		t.Helper()
		for _, w := range want {
			w.expect(event, 3*time.Second)
		}
		time.Sleep(settle)
		for i, cl := range clients {
			n := len(cl.all(event))
			if wanted := slices.Contains(want, cl); (wanted && n != 1) || (!wanted && n != 0) {
				t.Fatalf("%s: client %d got it %d times", event, i, n)
			}
		}
	}
	if err := n1.io.Emit("all", 1, "x"); err != nil {
		t.Fatal(err)
	}
	only("all", a, b, c)
	if got := c.all("all")[0].Text; got != `2["all",1,"x"]` {
		t.Fatalf("text %s", got)
	}
	_ = n2.io.To("r1").Emit("room")
	only("room", a, c)
	_ = n1.io.Except("r1").Emit("except")
	only("except", b)
	_ = n1.io.Local().Emit("local")
	only("local", a)
	_ = n2.io.To("r1").Except(c.ID).Emit("room-except")
	only("room-except", a)
	_ = n2.io.To(a.ID).Emit("to-id") // a socket's own room, on another node
	only("to-id", a)
	_ = n1.io.Volatile().Emit("volatile")
	only("volatile", a, b, c)

	// a room left on one node stops receiving there
	n2.io.Of("/").Socket(c.ID).Leave("r1")
	_ = n1.io.To("r1").Emit("after-leave")
	only("after-leave", a)
}

// Node.js messages (built and encoded as @socket.io/redis-adapter does, see adapter/redis/wire/testdata) reach
// fastio's clients as socket.io-parser writes them on a Node.js node: same bytes, key order included.
func TestNodeJSMessagesBytes(t *testing.T) {
	t.Parallel()
	_, rdb, n1, _ := twoNodes(t, redisadapter.Options{}, joinOnConnect)
	raw, err := os.ReadFile("../../adapter/redis/wire/testdata/notepack.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []struct {
		Name, Kind, Hex, Event string
		Args                   struct {
			JSON        string   `json:"json"`
			Attachments []string `json:"attachments"`
		}
		Opts struct {
			Rooms []string `json:"rooms"`
		}
		Nsp string
	}
	if err := json.Unmarshal(raw, &fixtures); err != nil {
		t.Fatal(err)
	}
	inRooms := dialReady(t, n1.addr, `{"room":"r1"}`, nil, "")
	n1.io.Of("/").Socket(inRooms.ID).Join("a", "room")
	chat := dial(t, n1.addr, "/chat", "", nil, "")
	waitServers(t, rdb, "/chat", 2)
	for _, f := range fixtures {
		if f.Kind != "broadcast" {
			continue
		}
		msg, _ := hex.DecodeString(f.Hex)
		channel := "socket.io#" + f.Nsp + "#"
		if len(f.Opts.Rooms) == 1 {
			channel += f.Opts.Rooms[0] + "#"
		}
		if err := rdb.Publish(context.Background(), channel, msg).Err(); err != nil {
			t.Fatal(err)
		}
		cl := inRooms
		if f.Nsp != "/" {
			cl = chat
		}
		ev := cl.expect(f.Event, 3*time.Second)
		want := "2" + f.Args.JSON
		if n := len(f.Args.Attachments); n > 0 {
			want = fmt.Sprintf("5%d-%s", n, f.Args.JSON)
		}
		if f.Nsp != "/" {
			want = want[:len(want)-len(f.Args.JSON)] + f.Nsp + "," + f.Args.JSON
		}
		if ev.Text != want {
			t.Errorf("%s:\n got %s\nwant %s", f.Name, ev.Text, want)
		}
		for i, a := range f.Args.Attachments {
			if i >= len(ev.Attachments) || hex.EncodeToString(ev.Attachments[i]) != a {
				t.Errorf("%s: attachment %d", f.Name, i)
			}
		}
	}
}

func TestRequestsAcrossNodes(t *testing.T) {
	t.Parallel()
	setup := func(io *server.Server) {
		io.Use(func(s *server.Socket) error {
			s.SetData(map[string]any{"z": 1, "a": []byte{1}})
			return nil
		})
		joinOnConnect(io)
	}
	_, _, n1, n2 := twoNodes(t, redisadapter.Options{}, setup)
	h := http.Header{"X-Fastio-Test": {"hello"}}
	a := dialReady(t, n1.addr, `{"room":"r1","token":"t"}`, h, "probe=q")
	b := dialReady(t, n2.addr, `{"room":"r2"}`, h, "probe=p")

	// FetchSockets: the remote socket with its handshake and data
	sockets, err := n1.io.FetchSockets()
	if err != nil || len(sockets) != 2 {
		t.Fatalf("FetchSockets: %d sockets, %v", len(sockets), err)
	}
	i := slices.IndexFunc(sockets, func(s *server.RemoteSocket) bool { return s.ID == b.ID })
	if i < 0 {
		t.Fatal("remote socket missing")
	}
	rs := sockets[i]
	hs := rs.Handshake
	if hs.Headers().Get("X-Fastio-Test") != "hello" || hs.Query().Get("probe") != "p" || string(hs.Auth) != `{"room":"r2"}` ||
		!strings.HasPrefix(hs.URL(), "/socket.io/?EIO=4") || hs.Address != "127.0.0.1" || time.Since(hs.Time) > time.Minute {
		t.Fatalf("handshake %+v headers %v query %v url %q", hs, hs.Headers(), hs.Query(), hs.URL())
	}
	if d, ok := rs.Data.(sio.RawJSON); !ok || string(d) != `{"a":{"type":"Buffer","data":[1]},"z":1}` {
		t.Fatalf("data %#v", rs.Data)
	}
	if !slices.Contains(rs.Rooms, "r2") || !slices.Contains(rs.Rooms, b.ID) {
		t.Fatalf("rooms %v", rs.Rooms)
	}
	in, _ := n2.io.In("r1").FetchSockets()
	if len(in) != 1 || in[0].ID != a.ID {
		t.Fatalf("In(r1): %v", in)
	}

	// RemoteSocket actions
	if err := rs.Emit("direct", "x"); err != nil {
		t.Fatal(err)
	}
	if b.expect("direct", 3*time.Second).Text != `2["direct","x"]` {
		t.Fatal("direct")
	}
	rs.Join("joined")
	waitFor(t, "remote join", 3*time.Second, func() bool {
		return slices.Contains(n2.io.Of("/").Socket(b.ID).Rooms(), "joined")
	})
	rs.Leave("joined")
	waitFor(t, "remote leave", 3*time.Second, func() bool {
		return !slices.Contains(n2.io.Of("/").Socket(b.ID).Rooms(), "joined")
	})

	// SocketsJoin / SocketsLeave over the cluster, then a broadcast to the room
	n1.io.In("r2").SocketsJoin("both")
	n2.io.In("r1").SocketsJoin("both")
	waitFor(t, "sockets join", 3*time.Second, func() bool {
		s, _ := n1.io.In("both").FetchSockets()
		return len(s) == 2
	})
	rooms, err := n1.io.Of("/").Adapter().(*redisadapter.Adapter).AllRooms(context.Background())
	if err != nil || !slices.Contains(rooms, "both") || !slices.Contains(rooms, "r2") || !slices.Contains(rooms, a.ID) {
		t.Fatalf("AllRooms %v %v", rooms, err)
	}
	_ = n1.io.To("both").Emit("both")
	a.expect("both", 3*time.Second)
	b.expect("both", 3*time.Second)
	n1.io.SocketsLeave("both")
	waitFor(t, "sockets leave", 3*time.Second, func() bool {
		s, _ := n2.io.In("both").FetchSockets()
		return len(s) == 0
	})

	// DisconnectSockets over the cluster
	n1.io.In("r2").DisconnectSockets(false)
	b.disconnected(3 * time.Second)
	waitFor(t, "socket gone", 3*time.Second, func() bool { return n2.io.Of("/").Socket(b.ID) == nil })
	if s, _ := n1.io.FetchSockets(); len(s) != 1 {
		t.Fatalf("%d sockets after disconnect", len(s))
	}
}

func TestServerSideEmit(t *testing.T) {
	t.Parallel()
	setup := func(io *server.Server) {
		io.Of("/").OnServerSide("ping", func(e *server.ServerSideEvent) {
			v, _ := e.Args.Value(0)
			e.Ack(map[string]any{"got": v})
		})
	}
	rs, rdb, n1, n2 := twoNodes(t, redisadapter.Options{}, setup)
	got := make(chan string, 4)
	n2.io.Of("/").OnServerSide("hello", func(e *server.ServerSideEvent) {
		s, _ := e.Args.String(0)
		got <- s
	})
	if err := n1.io.ServerSideEmit("hello", "world"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "world" {
			t.Fatal(s)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no server-side event")
	}
	responses, err := n1.io.Of("/").ServerSideEmitWithAck(2*time.Second, "ping", 42)
	if err != nil || len(responses) != 1 || string(responses[0].Raw(0)) != `{"got":42}` {
		t.Fatalf("%v %v", responses, err)
	}
	// a third node that never answers: the request ends with ErrAckTimeout and the answers that arrived
	startNode(t, rs.addr(), redisadapter.Options{}, server.Options{}, nil)
	waitServers(t, rdb, "/", 3)
	start := time.Now()
	responses, err = n1.io.Of("/").ServerSideEmitWithAck(300*time.Millisecond, "ping", 1)
	if !errors.Is(err, server.ErrAckTimeout) || len(responses) != 1 || time.Since(start) > 2*time.Second {
		t.Fatalf("%v %v after %v", responses, err, time.Since(start))
	}
	if n1.node.Stats().RequestTimeouts == 0 {
		t.Fatal("timeout not counted")
	}
}

func TestBroadcastWithAck(t *testing.T) {
	t.Parallel()
	_, _, n1, n2 := twoNodes(t, redisadapter.Options{}, joinOnConnect)
	a := dialReady(t, n1.addr, `{"room":"r"}`, nil, "")
	b := dialReady(t, n2.addr, `{"room":"r"}`, nil, "")
	c := dialReady(t, n2.addr, "", nil, "")
	ctx := context.Background()
	responses, err := n1.io.Timeout(3*time.Second).EmitWithAck(ctx, "ask", 1)
	if err != nil || len(responses) != 3 {
		t.Fatalf("%d responses, %v", len(responses), err)
	}
	var from []string
	for _, r := range responses {
		var v struct{ From string }
		_ = r.Decode(0, &v)
		from = append(from, v.From)
	}
	slices.Sort(from)
	want := []string{a.ID, b.ID, c.ID}
	slices.Sort(want)
	if !slices.Equal(from, want) {
		t.Fatalf("answers from %v, want %v", from, want)
	}
	responses, err = n2.io.To("r").Timeout(3*time.Second).EmitWithAck(ctx, "ask")
	if err != nil || len(responses) != 2 {
		t.Fatalf("room: %d responses, %v", len(responses), err)
	}
	// to a socket of this node: the other node still answers with its count (0), so no waiting for the timeout
	start := time.Now()
	responses, err = n1.io.To(a.ID).Timeout(3*time.Second).EmitWithAck(ctx, "ask")
	if err != nil || len(responses) != 1 || time.Since(start) > time.Second {
		t.Fatalf("own socket: %d responses, %v, after %v", len(responses), err, time.Since(start))
	}
}

func TestGoEmitter(t *testing.T) {
	t.Parallel()
	rs, rdb, n1, n2 := twoNodes(t, redisadapter.Options{}, joinOnConnect)
	a := dialReady(t, n1.addr, `{"room":"r1"}`, nil, "")
	b := dialReady(t, n2.addr, "", nil, "")
	chat := dial(t, n2.addr, "/chat", "", nil, "")
	waitServers(t, rdb, "/chat", 2)
	e := emitter.New(newRedisClient(t, rs.addr()), emitter.Options{})
	ctx := context.Background()
	type point struct {
		Y int `json:"y"`
		X int `json:"x"`
	}
	if err := e.To("r1").Emit(ctx, "news", point{1, 2}, []byte{7, 8}); err != nil {
		t.Fatal(err)
	}
	ev := a.expect("news", 3*time.Second)
	if ev.Text != `51-["news",{"y":1,"x":2},{"_placeholder":true,"num":0}]` || !bytes.Equal(ev.Attachments[0], []byte{7, 8}) {
		t.Fatalf("%s %v", ev.Text, ev.Attachments)
	}
	b.none("news", settle)
	if err := e.Except("r1").Emit(ctx, "others"); err != nil {
		t.Fatal(err)
	}
	b.expect("others", 3*time.Second)
	a.none("others", settle)
	if err := e.Of("chat").Emit(ctx, "chat", "hi"); err != nil {
		t.Fatal(err)
	}
	if chat.expect("chat", 3*time.Second).Text != `2/chat,["chat","hi"]` {
		t.Fatal("chat")
	}
	if err := e.In(b.ID).SocketsJoin(ctx, "joined"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "emitter join", 3*time.Second, func() bool {
		return slices.Contains(n2.io.Of("/").Socket(b.ID).Rooms(), "joined")
	})
	got := make(chan string, 2)
	n1.io.Of("/").OnServerSide("cfg", func(ev *server.ServerSideEvent) { got <- string(ev.Args.Raw(0)) })
	if err := e.ServerSideEmit(ctx, "cfg", map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != `{"v":1}` {
			t.Fatal(s)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no server-side event from the emitter")
	}
	if err := e.Emit(ctx, "disconnect"); !errors.Is(err, emitter.ErrReservedEvent) {
		t.Fatal(err)
	}
	if err := e.DisconnectSockets(ctx, true); err != nil {
		t.Fatal(err)
	}
	a.disconnected(3 * time.Second)
	b.disconnected(3 * time.Second)
}

func TestSpecificResponseChannel(t *testing.T) {
	t.Parallel()
	rs := startRedis(t, 0, "")
	rdb := newRedisClient(t, rs.addr())
	n1 := startNode(t, rs.addr(), redisadapter.Options{PublishOnSpecificResponseChannel: true}, server.Options{}, joinOnConnect)
	n2 := startNode(t, rs.addr(), redisadapter.Options{}, server.Options{}, joinOnConnect)
	waitServers(t, rdb, "/", 2)
	a := dialReady(t, n1.addr, "", nil, "")
	b := dialReady(t, n2.addr, "", nil, "")
	for _, n := range []*goNode{n1, n2} {
		s, err := n.io.FetchSockets()
		if err != nil || len(s) != 2 {
			t.Fatalf("%d sockets, %v", len(s), err)
		}
	}
	_, _ = a, b
}

func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rs, rdb, n1, n2 := twoNodes(t, redisadapter.Options{RequestsTimeout: 500 * time.Millisecond}, joinOnConnect)
	a := dialReady(t, n1.addr, "", nil, "")
	b := dialReady(t, n2.addr, "", nil, "")
	_ = n1.io.Emit("before")
	b.expect("before", 3*time.Second)

	port, dir := rs.port, rs.dir
	rs.stop()
	_ = n1.io.Emit("during")
	a.expect("during", 3*time.Second) // local delivery carries on
	waitFor(t, "publish errors counted", 5*time.Second, func() bool {
		s := n1.node.Stats()
		return s.PublishErrors+s.Dropped > 0 && s.SubscriberErrors > 0
	})
	start := time.Now()
	if _, err := n1.io.FetchSockets(); !errors.Is(err, redisadapter.ErrTimeout) {
		t.Fatalf("FetchSockets during the outage: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("FetchSockets took %v", d)
	}
	if _, err := n1.io.Of("/").ServerSideEmitWithAck(300*time.Millisecond, "x"); !errors.Is(err, server.ErrAckTimeout) {
		t.Fatalf("ServerSideEmitWithAck during the outage: %v", err)
	}
	b.none("during", settle)

	startRedis(t, port, dir)
	waitServers(t, rdb, "/", 2) // both subscribed again by themselves
	waitFor(t, "delivery resumed", 10*time.Second, func() bool {
		_ = n1.io.Emit("after")
		time.Sleep(50 * time.Millisecond)
		return len(b.all("after")) > 0
	})
	if s, err := n2.io.FetchSockets(); err != nil || len(s) != 2 {
		t.Fatalf("after the outage: %d sockets, %v", len(s), err)
	}
}

func TestDynamicNamespaceClose(t *testing.T) {
	t.Parallel()
	rs := startRedis(t, 0, "")
	rdb := newRedisClient(t, rs.addr())
	n1 := startNode(t, rs.addr(), redisadapter.Options{}, server.Options{CleanupEmptyChildNamespaces: true}, func(io *server.Server) {
		io.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	})
	c := dial(t, n1.addr, "/dyn-1", "", nil, "")
	waitServers(t, rdb, "/dyn-1", 1)
	c.close()
	waitServers(t, rdb, "/dyn-1", 0) // the namespace went away with its last socket, and its adapter unsubscribed
}

// waitShardSubs waits until channel has n shard subscribers.
func waitShardSubs(t testing.TB, rdb *redis.Client, channel string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d shard subscribers of %s", n, channel), 10*time.Second, func() bool {
		res, err := rdb.PubSubShardNumSub(context.Background(), channel).Result()
		return err == nil && int(res[channel]) == n
	})
}

func TestShardedAcrossNodes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{redisadapter.SubscriptionDynamic, redisadapter.SubscriptionStatic, redisadapter.SubscriptionDynamicPrivate} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			rs := startRedis(t, 0, "")
			rdb := newRedisClient(t, rs.addr())
			opts := redisadapter.Options{Sharded: true, SubscriptionMode: mode}
			setup := func(io *server.Server) {
				joinOnConnect(io)
				io.Of("/").OnServerSide("ping", func(e *server.ServerSideEvent) {
					b, _ := e.Args.Bytes(0)
					e.Ack(b)
				})
			}
			n1 := startNode(t, rs.addr(), opts, server.Options{}, setup)
			n2 := startNode(t, rs.addr(), opts, server.Options{}, setup)
			waitShardSubs(t, rdb, "socket.io#/#", 2)
			if _, ok := n1.io.Of("/").Adapter().(*redisadapter.ShardedAdapter); !ok {
				t.Fatalf("adapter %T", n1.io.Of("/").Adapter())
			}
			a := dialReady(t, n1.addr, `{"room":"r1"}`, nil, "")
			b := dialReady(t, n2.addr, `{"room":"r1"}`, nil, "")
			c := dialReady(t, n2.addr, "", nil, "")
			if mode != redisadapter.SubscriptionStatic {
				waitShardSubs(t, rdb, "socket.io#/#r1#", 2) // dynamic: the room's own channel, on both nodes
			}
			if mode == redisadapter.SubscriptionDynamicPrivate {
				waitShardSubs(t, rdb, "socket.io#/#"+a.ID+"#", 1)
			}
			_ = n1.io.Emit("all", []byte{1})
			for _, cl := range []*wsClient{a, b, c} {
				if ev := cl.expect("all", 3*time.Second); ev.Text != `51-["all",{"_placeholder":true,"num":0}]` {
					t.Fatal(ev.Text)
				}
			}
			_ = n2.io.To("r1").Emit("room")
			a.expect("room", 3*time.Second)
			b.expect("room", 3*time.Second)
			c.none("room", settle)
			_ = n2.io.To(a.ID).Emit("direct")
			a.expect("direct", 3*time.Second)

			if s, err := n1.io.FetchSockets(); err != nil || len(s) != 3 {
				t.Fatalf("%d sockets, %v", len(s), err)
			}
			responses, err := n1.io.Of("/").ServerSideEmitWithAck(2*time.Second, "ping", []byte{9})
			if err != nil || len(responses) != 1 {
				t.Fatalf("%v %v", responses, err)
			}
			if v, _ := responses[0].Bytes(0); !bytes.Equal(v, []byte{9}) { // binary stays binary in this protocol
				t.Fatalf("answer %s", responses[0].Raw(0))
			}
			answers, err := n2.io.Timeout(3*time.Second).EmitWithAck(context.Background(), "ask")
			if err != nil || len(answers) != 3 {
				t.Fatalf("%d answers, %v", len(answers), err)
			}
			n1.io.In(c.ID).SocketsJoin("late")
			waitFor(t, "remote join", 3*time.Second, func() bool {
				return slices.Contains(n2.io.Of("/").Socket(c.ID).Rooms(), "late")
			})
			if mode == redisadapter.SubscriptionDynamic {
				waitShardSubs(t, rdb, "socket.io#/#late#", 1)
			}
			_ = n1.io.To("late").Emit("late")
			c.expect("late", 3*time.Second)
			n1.io.DisconnectSockets(false)
			for _, cl := range []*wsClient{a, b, c} {
				cl.disconnected(3 * time.Second)
			}
			if mode != redisadapter.SubscriptionStatic {
				waitShardSubs(t, rdb, "socket.io#/#r1#", 0) // the rooms are gone: so are their subscriptions
			}
		})
	}
}
