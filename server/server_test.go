package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConnectEventAndAck(t *testing.T) {
	connected := make(chan *Socket, 1)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.On("hello", func(e *Event) {
				name, _ := e.Args.String(0)
				n, _ := e.Args.Int(1)
				_ = e.Ack("hi "+name, n+1)
			})
			connected <- s
		})
	})
	c := dial(t, addr)
	sid := c.connect("/", `{"token":"abc"}`)
	s := <-connected
	if s.ID() != sid {
		t.Fatalf("socket id %q, CONNECT said %q", s.ID(), sid)
	}
	if string(s.Handshake().Auth) != `{"token":"abc"}` || s.Handshake().Address != "127.0.0.1" {
		t.Fatalf("handshake %+v", s.Handshake())
	}
	c.send(`427["hello","bob",41]`)
	if got := c.read(); got != `37["hi bob",42]` {
		t.Fatalf("ack %q", got)
	}
	// A numeric event name is valid.
	got := make(chan string, 1)
	s.On("5", func(e *Event) { got <- string(e.Args.Raw(0)) })
	c.send(`42[5,"x"]`)
	if v := <-got; v != `"x"` {
		t.Fatalf("numeric event arg %q", v)
	}
}

func TestServerAckTimeoutAndAnswer(t *testing.T) {
	connected := make(chan *Socket, 1)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) { connected <- s })
	})
	c := dial(t, addr)
	c.connect("/", "")
	s := <-connected

	// Unanswered: the callback gets ErrAckTimeout.
	result := make(chan error, 1)
	_ = s.Timeout(100*time.Millisecond).Emit("ask", 1, AckFunc(func(err error, _ *Args) { result <- err }))
	if got := c.read(); got != `20["ask",1]` {
		t.Fatalf("emit with ack %q", got)
	}
	if err := <-result; !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("got %v, want timeout", err)
	}

	// Answered, through EmitWithAck.
	answer := make(chan string, 1)
	go func() {
		args, err := s.Timeout(time.Second).EmitWithAck(context.Background(), "ask", "q")
		if err != nil {
			answer <- err.Error()
			return
		}
		v, _ := args.String(0)
		answer <- v
	}()
	if got := c.read(); got != `21["ask","q"]` {
		t.Fatalf("emit with ack %q", got)
	}
	c.send(`431["yes"]`)
	if v := <-answer; v != "yes" {
		t.Fatalf("answer %q", v)
	}
}

func TestBinaryBothWays(t *testing.T) {
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.On("up", func(e *Event) {
				b, err := e.Args.Bytes(1)
				if err != nil {
					_ = s.Emit("error", err.Error())
					return
				}
				_ = s.Emit("down", map[string]any{"data": append(b, 9), "n": 1}, []byte{7})
			})
		})
	})
	c := dial(t, addr)
	c.connect("/", "")
	c.send(`451-["up","x",{"_placeholder":true,"num":0}]`)
	c.sendBinary([]byte{1, 2})
	if got := c.read(); got != `52-["down",{"data":{"_placeholder":true,"num":0},"n":1},{"_placeholder":true,"num":1}]` {
		t.Fatalf("binary event %q", got)
	}
	if got := c.read(); got != "<bin>\x01\x02\x09" {
		t.Fatalf("attachment 0 %q", got)
	}
	if got := c.read(); got != "<bin>\x07" {
		t.Fatalf("attachment 1 %q", got)
	}
}

func TestRoomsAndBroadcast(t *testing.T) {
	sockets := make(chan *Socket, 3)
	io, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) { sockets <- s })
	})
	a, b, c := dial(t, addr), dial(t, addr), dial(t, addr)
	a.connect("/", "")
	sa := <-sockets
	b.connect("/", "")
	sb := <-sockets
	c.connect("/", "")
	sc := <-sockets
	sa.Join("red")
	sb.Join("red", "blue")
	sc.Join("blue")

	_ = io.To("red").Emit("m", 1)
	expect(t, a, `2["m",1]`)
	expect(t, b, `2["m",1]`)
	_ = io.To("red", "blue").Except("blue").Emit("m", 2)
	expect(t, a, `2["m",2]`)
	_ = sb.Broadcast().Emit("m", 3) // everyone but b
	expect(t, a, `2["m",3]`)
	expect(t, c, `2["m",3]`)
	_ = sb.To("blue").Emit("m", 4) // c only: b is excluded as the sender
	expect(t, c, `2["m",4]`)
	a.silent(100 * time.Millisecond)
	b.silent(10 * time.Millisecond)

	if got := sortStrings(sb.Rooms()); strings.Join(got, ",") != strings.Join(sortStrings([]string{sb.ID(), "red", "blue"}), ",") {
		t.Fatalf("rooms %v", got)
	}
	sb.Leave("red")
	_ = io.To("red").Emit("m", 5)
	expect(t, a, `2["m",5]`)
	b.silent(100 * time.Millisecond)

	// Cluster-style operations through the adapter.
	found, err := io.In("blue").FetchSockets()
	if err != nil || len(found) != 2 {
		t.Fatalf("fetch: %v %d", err, len(found))
	}
	io.In("blue").SocketsJoin("green")
	_ = io.To("green").Emit("m", 6)
	expect(t, b, `2["m",6]`)
	expect(t, c, `2["m",6]`)
	io.In("green").DisconnectSockets(false)
	expect(t, b, `1`)
	expect(t, c, `1`)
	if io.Of("/").Len() != 1 {
		t.Fatalf("%d sockets left", io.Of("/").Len())
	}
}

func TestBroadcastWithAcks(t *testing.T) {
	io, addr := startIO(t, Options{}, nil)
	clients := []*wsClient{dial(t, addr), dial(t, addr), dial(t, addr)}
	for _, c := range clients {
		c.connect("/", "")
	}
	type result struct {
		responses []*Args
		err       error
	}
	done := make(chan result, 1)
	go func() {
		r, err := io.Timeout(300*time.Millisecond).EmitWithAck(context.Background(), "q")
		done <- result{r, err}
	}()
	for i, c := range clients[:2] { // the third never answers
		got := c.read()
		if !strings.HasPrefix(got, "2") || !strings.HasSuffix(got, `["q"]`) {
			t.Fatalf("client %d got %q", i, got)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(got, "2"), `["q"]`)
		c.send("43" + id + `["a"]`)
	}
	clients[2].read()
	r := <-done
	if !errors.Is(r.err, ErrAckTimeout) || len(r.responses) != 2 {
		t.Fatalf("got %d responses, err %v", len(r.responses), r.err)
	}
}

func TestMiddlewareAndNamespaces(t *testing.T) {
	dynamic := make(chan string, 1)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.Of("/guarded").Use(func(s *Socket) error {
			var auth struct{ Token string }
			_ = s.Handshake().DecodeAuth(&auth)
			if auth.Token != "secret" {
				return &ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
			}
			return nil
		})
		io.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`)).OnConnection(func(s *Socket) {
			dynamic <- s.Namespace().Name()
		})
	})
	c := dial(t, addr)
	c.send(`40/guarded,{"token":"nope"}`)
	expect(t, c, `4/guarded,{"message":"unauthorized","data":{"code":401}}`)
	c.connect("/guarded", `{"token":"secret"}`)
	c.send(`40/nowhere,`)
	expect(t, c, `4/nowhere,{"message":"Invalid namespace"}`)
	c.connect("/dyn-42", "")
	if got := <-dynamic; got != "/dyn-42" {
		t.Fatalf("dynamic namespace %q", got)
	}
	// Two namespaces over one connection; leaving one keeps the connection.
	c.connect("/", "")
	c.send(`41/guarded,`)
	c.send(`42["ping"]`)
	c.silent(100 * time.Millisecond)
}

func TestHandlersMayBlock(t *testing.T) {
	release := make(chan struct{})
	_, addr := startIO(t, Options{EventLoops: 1}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.On("slow", func(e *Event) { <-release; _ = e.Ack("slow done") })
			s.On("fast", func(e *Event) { _ = e.Ack("fast done") })
		})
	})
	a, b := dial(t, addr), dial(t, addr)
	a.connect("/", "")
	b.connect("/", "")
	a.send(`420["slow"]`)
	a.send(`421["fast"]`) // queued behind "slow": events of one client stay in order
	b.send(`420["fast"]`)
	expect(t, b, `30["fast done"]`)
	close(release)
	expect(t, a, `30["slow done"]`)
	expect(t, a, `31["fast done"]`)
}

func TestInvalidPacketsCloseTheConnection(t *testing.T) {
	closed := make(chan string, 8)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) { s.OnDisconnect(func(r string) { closed <- r }) })
	})
	for _, tc := range []struct{ name, packet string }{
		{"bad json", `42["a",`},
		{"not an array", `42{"a":1}`},
		{"empty array", `42[]`},
		{"bad event name", `42[{}]`},
		{"bad ack id", `42a["x"]`},
		{"unknown type", `49["x"]`},
		{"event to a namespace not joined", `42/other,["x"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.connect("/", "")
			c.send(tc.packet)
			c.expectClosed()
			<-closed
		})
	}
	t.Run("unexpected binary", func(t *testing.T) {
		c := dial(t, addr)
		c.connect("/", "")
		c.sendBinary([]byte{1})
		c.expectClosed()
		<-closed
	})
}

func TestServerDisconnect(t *testing.T) {
	reasons := make(chan string, 2)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.OnDisconnect(func(r string) { reasons <- r })
			s.On("bye", func(*Event) { s.Disconnect(true) })
			s.On("leave", func(*Event) { s.Disconnect(false) })
		})
	})
	c := dial(t, addr)
	c.connect("/", "")
	c.send(`42["leave"]`)
	expect(t, c, `1`)
	if r := <-reasons; r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason %q", r)
	}
	c.connect("/", "")
	c.send(`42["bye"]`)
	expect(t, c, `1`)
	c.expectClosed()
	if r := <-reasons; r != ReasonServerNamespaceDisconnect {
		t.Fatalf("reason %q", r)
	}
}

func TestConnectTimeout(t *testing.T) {
	_, addr := startIO(t, Options{ConnectTimeout: 200 * time.Millisecond}, nil)
	c := dial(t, addr)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

func TestConnectionStateRecovery(t *testing.T) {
	sockets := make(chan *Socket, 2)
	io, addr := startIO(t, Options{ConnectionStateRecovery: &RecoveryOptions{}}, func(io *Server) {
		io.Use(func(s *Socket) error {
			if s.Recovered() {
				return errors.New("middlewares must be skipped for a recovered socket")
			}
			return nil
		})
		io.OnConnection(func(s *Socket) { sockets <- s })
	})
	c := dial(t, addr)
	c.send("40")
	got := c.read()
	if !strings.HasPrefix(got, `0{"sid":"`) || !strings.Contains(got, `"pid":"`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	pid := got[strings.Index(got, `"pid":"`)+7:][:20]
	s := <-sockets
	s.Join("news")
	s.SetData("kept")
	_ = io.To("news").Emit("n", 1)
	first := c.read()
	offset := first[strings.LastIndex(first, `,"`)+2 : len(first)-2]
	if !strings.HasPrefix(first, `2["n",1,"`) {
		t.Fatalf("event with offset %q", first)
	}
	c.conn.Close() // the connection drops
	deadline := time.Now().Add(3 * time.Second)
	for io.Of("/").Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = io.To("news").Emit("n", 2)
	_ = io.Emit("n", 3)
	_ = io.To("elsewhere").Emit("n", 4)

	c2 := dial(t, addr)
	c2.send(`40{"pid":"` + pid + `","offset":"` + offset + `"}`)
	if got := c2.read(); !strings.HasPrefix(got, `0{"sid":"`+s.ID()+`"`) {
		t.Fatalf("recovered CONNECT %q, want sid %s", got, s.ID())
	}
	r := <-sockets
	if !r.Recovered() || r.ID() != s.ID() || r.Data() != "kept" {
		t.Fatalf("recovered=%v id=%s data=%v", r.Recovered(), r.ID(), r.Data())
	}
	if got := c2.read(); !strings.HasPrefix(got, `2["n",2,"`) {
		t.Fatalf("missed packet 1 %q", got)
	}
	if got := c2.read(); !strings.HasPrefix(got, `2["n",3,"`) {
		t.Fatalf("missed packet 2 %q", got)
	}
	c2.silent(100 * time.Millisecond)
	if !contains(r.Rooms(), "news") {
		t.Fatalf("rooms not restored: %v", r.Rooms())
	}
}

func TestConcurrentClientsWithAcks(t *testing.T) {
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.On("echo", func(e *Event) { _ = e.Ack(e.Args.Spread()...) })
		})
	})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, addr)
			c.connect("/", "")
			for j := 0; j < 5; j++ {
				c.send(`42` + itoa(j) + `["echo",` + itoa(i) + `]`)
				if got, want := c.read(), `3`+itoa(j)+`[`+itoa(i)+`]`; got != want {
					t.Errorf("client %d: %q, want %q", i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func expect(t *testing.T, c *wsClient, want string) {
	t.Helper()
	if got := c.read(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func itoa(i int) string { return strconv.Itoa(i) }

// The seed's first example, on the wire as socket.io-client 4 writes and reads it.
func TestSeedHelloExample(t *testing.T) {
	got := make(chan string, 1)
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.OnConnection(func(socket *Socket) {
			_ = socket.Emit("hello from server", 1, "2", map[string]any{"3": []byte{4}})
			socket.On("hello from client", func(e *Event) {
				n, _ := e.Args.Int(0)
				s, _ := e.Args.String(1)
				v, _ := e.Args.Value(2)
				got <- fmt.Sprint(n, " ", s, " ", v)
			})
		})
	})
	c := dial(t, addr)
	c.connect("/", "")
	expect(t, c, `51-["hello from server",1,"2",{"3":{"_placeholder":true,"num":0}}]`)
	expect(t, c, "<bin>\x04")
	c.send(`451-["hello from client",5,"6",{"7":{"_placeholder":true,"num":0}}]`)
	c.sendBinary([]byte{8})
	if v := <-got; v != "5 6 map[7:[8]]" {
		t.Fatalf("handler saw %q", v)
	}
}

// TestReconnectRightAway sends each next CONNECT as soon as the answer to the previous packet is in (or, after
// a DISCONNECT, right behind it): the server must treat the namespace as left or free again by then.
func TestReconnectRightAway(t *testing.T) {
	_, addr := startIO(t, Options{}, func(io *Server) {
		io.Of("/guarded").Use(func(s *Socket) error {
			var auth struct{ Token string }
			_ = s.Handshake().DecodeAuth(&auth)
			if auth.Token != "secret" {
				return &ConnectError{Message: "unauthorized"}
			}
			return nil
		})
	})
	c := dial(t, addr)
	c.connect("/", "")
	for range 100 {
		c.send(`40/guarded,{"token":"nope"}`)
		expect(t, c, `4/guarded,{"message":"unauthorized"}`)
		c.connect("/guarded", `{"token":"secret"}`)
		c.send(`41/guarded,`) // and at once:
		c.connect("/guarded", `{"token":"secret"}`)
		c.send(`41/guarded,`)
	}
	c.send(`42["still","here"]`)
	c.silent(50 * time.Millisecond)
}

// With connection state recovery, a socket's Emit goes through the adapter (to get an offset): its OnAnyOutgoing
// handlers still see the event once, with the offset as the Node.js server gives it.
func TestAnyOutgoingOnceWithRecovery(t *testing.T) {
	sockets := make(chan *Socket, 1)
	_, addr := startIO(t, Options{ConnectionStateRecovery: &RecoveryOptions{}}, func(io *Server) {
		io.OnConnection(func(s *Socket) { sockets <- s })
	})
	c := dial(t, addr)
	c.connect("/", "")
	s := <-sockets
	seen := make(chan []any, 4)
	s.OnAnyOutgoing(func(event string, args []any) { seen <- args })
	if err := s.Emit("n", 1); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); !strings.HasPrefix(got, `2["n",1,"`) {
		t.Fatalf("event %q", got)
	}
	if args := <-seen; len(args) != 2 || args[0] != 1 {
		t.Fatalf("outgoing args %v", args)
	}
	select {
	case args := <-seen:
		t.Fatalf("OnAnyOutgoing called twice, again with %v", args)
	case <-time.After(50 * time.Millisecond):
	}
}

// pausingAdapter stops in DelAll, after the rooms were emptied, until resume is closed.
type pausingAdapter struct {
	Adapter
	emptied, resume chan struct{}
}

func (a *pausingAdapter) DelAll(id string) {
	a.Adapter.DelAll(id)
	close(a.emptied)
	<-a.resume
}

// TestJoinDuringDisconnectLeavesNoRoom joins a room just after the disconnection emptied the socket's rooms:
// once the socket is disconnected, it must be in no room.
func TestJoinDuringDisconnectLeavesNoRoom(t *testing.T) {
	pa := &pausingAdapter{emptied: make(chan struct{}), resume: make(chan struct{})}
	sockets := make(chan *Socket, 1)
	gone := make(chan struct{})
	io, addr := startIO(t, Options{Adapter: func(nsp *Namespace) Adapter {
		pa.Adapter = NewMemoryAdapter(nsp)
		return pa
	}}, func(io *Server) {
		io.OnConnection(func(s *Socket) {
			s.OnDisconnect(func(string) { close(gone) })
			sockets <- s
		})
	})
	c := dial(t, addr)
	c.connect("/", "")
	s := <-sockets
	c.conn.Close()
	<-pa.emptied
	s.Join("late") // the socket still counts as connected at this point
	close(pa.resume)
	<-gone
	if rooms := io.Of("/").adapter.Rooms(); len(rooms) > 0 {
		t.Fatalf("rooms left after the only socket disconnected: %v", rooms)
	}
}
