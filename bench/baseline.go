package bench

// The baseline server: a measuring stick for the fan-out benchmark, not a product.
//
// It is the least work a Socket.IO server can do to deliver a room broadcast over WebSocket: the Go standard net
// package with one goroutine per connection (no event loops, no buffering layer), and on a "broadcast" event one
// ready-made WebSocket frame written with one write call to every member of the room, from the publisher's
// goroutine. It speaks just enough Engine.IO v4 / Socket.IO v5 for the fanout scenario:
//
//   - any upgrade request becomes a WebSocket session; it gets the open packet (pingInterval 25 s);
//   - CONNECT to "/" (`40` or `40{auth}`) is answered with `40{"sid":...}`; if auth.room is a non-empty string the
//     socket joins that room; then the event "auth" with the auth object is sent, as the testserver does;
//   - the event `42["broadcast",room,...args]` writes `42["broadcast",...args]` to every member of room;
//   - an event with an ack id, `42<id>["name",...args]`, is answered `43<id>[...args]` (the echo scenario's
//     `message-with-ack`), from the connection's goroutine, with one write;
//   - a ping ("2") is sent every ping interval; pongs and every other packet are ignored.
//
// Nothing else is implemented: no polling, no namespaces, no acks, no heartbeat timeout, no binary, no limits.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// BaselineServer is the fan-out measuring stick described above.
type BaselineServer struct {
	PingInterval time.Duration

	nextID atomic.Uint64
	mu     sync.Mutex
	rooms  map[string]*baselineRoom
	conns  map[*baselineConn]struct{}
	wg     sync.WaitGroup
}

type baselineRoom struct {
	members  map[*baselineConn]struct{}
	snapshot []*baselineConn // members as a slice, rebuilt after a change
}

type baselineConn struct {
	nc   net.Conn
	wmu  sync.Mutex
	room string
}

// write sends one ready-made frame.
func (c *baselineConn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(frame)
	return err
}

// serverFrame builds an unmasked WebSocket text frame.
func serverFrame(payload []byte) []byte {
	n := len(payload)
	b := make([]byte, 0, n+10)
	b = append(b, 0x81)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, payload...)
}

// Serve accepts connections on ln until ctx ends, then closes them all.
func (s *BaselineServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.PingInterval <= 0 {
		s.PingInterval = 25 * time.Second
	}
	s.mu.Lock()
	s.rooms = map[string]*baselineRoom{}
	s.conns = map[*baselineConn]struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
	})
	defer stop()
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			break
		}
		c := &baselineConn{nc: nc}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *BaselineServer) serve(c *baselineConn) {
	defer s.wg.Done()
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		if r := s.rooms[c.room]; r != nil {
			delete(r.members, c)
			r.snapshot = nil
		}
		s.mu.Unlock()
	}()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := ws.Upgrade(c.nc); err != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	id := strconv.FormatUint(s.nextID.Add(1), 36)
	open := fmt.Sprintf(`0{"sid":"b%s","upgrades":[],"pingInterval":%d,"pingTimeout":20000,"maxPayload":1000000}`,
		id, s.PingInterval.Milliseconds())
	if c.write(serverFrame([]byte(open))) != nil {
		return
	}
	ping := serverFrame([]byte("2"))
	var ticker *time.Timer
	ticker = time.AfterFunc(s.PingInterval, func() {
		if c.write(ping) == nil {
			ticker.Reset(s.PingInterval)
		}
	})
	defer ticker.Stop()
	rw := struct {
		io.Reader
		io.Writer
	}{bufio.NewReaderSize(c.nc, 1024), c.nc}
	for {
		data, op, err := wsutil.ReadClientData(rw)
		if err != nil {
			return
		}
		if op != ws.OpText || len(data) < 2 || data[0] != '4' {
			continue
		}
		switch data[1] {
		case '0': // CONNECT
			if s.connect(c, id, data[2:]) != nil {
				return
			}
		case '2': // EVENT
			if len(data) > 2 && data[2] >= '0' && data[2] <= '9' {
				if ack := ackEcho(data[2:]); ack != nil && c.write(serverFrame(ack)) != nil {
					return
				}
				continue
			}
			s.event(data[2:])
		case '1': // DISCONNECT
			return
		}
	}
}

func (s *BaselineServer) connect(c *baselineConn, id string, auth []byte) error {
	if len(auth) > 0 && auth[0] == '/' {
		ns, _, _ := bytes.Cut(auth, []byte{','})
		return c.write(serverFrame([]byte(`44` + string(ns) + `,{"message":"Invalid namespace"}`)))
	}
	if len(auth) == 0 {
		auth = []byte("{}")
	}
	var a struct {
		Room any `json:"room"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return errors.New("bad auth")
	}
	if err := c.write(serverFrame([]byte(`40{"sid":"s` + id + `"}`))); err != nil {
		return err
	}
	if room, ok := a.Room.(string); ok && room != "" {
		s.mu.Lock()
		r := s.rooms[room]
		if r == nil {
			r = &baselineRoom{members: map[*baselineConn]struct{}{}}
			s.rooms[room] = r
		}
		r.members[c] = struct{}{}
		r.snapshot = nil
		c.room = room
		s.mu.Unlock()
	}
	return c.write(serverFrame(append(append([]byte(`42["auth",`), auth...), ']')))
}

// ackEcho turns the body of an event with an ack id, `<id>["name",...args]`, into its answer
// `43<id>[...args]`, or returns nil when it does not look like one. It only scans for the end of the event name:
// the least work an echo can do.
func ackEcho(p []byte) []byte {
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	id, rest := p[:i], p[i:]
	if len(rest) < 4 || rest[0] != '[' || rest[1] != '"' || rest[len(rest)-1] != ']' {
		return nil
	}
	j := 2
	for j < len(rest) && rest[j] != '"' {
		if rest[j] == '\\' {
			j++
		}
		j++
	}
	j++ // past the closing quote
	if j >= len(rest) {
		return nil
	}
	out := make([]byte, 0, 3+len(id)+len(rest)-j+1)
	out = append(append(append(out, "43"...), id...), '[')
	if rest[j] == ',' {
		out = append(out, rest[j+1:]...) // the arguments and the closing bracket
	} else {
		out = append(out, ']')
	}
	return out
}

// event handles `["broadcast",room,...args]`; anything else is ignored.
func (s *BaselineServer) event(p []byte) {
	var args []json.RawMessage
	if json.Unmarshal(p, &args) != nil || len(args) < 2 || string(args[0]) != `"broadcast"` {
		return
	}
	var room string
	if json.Unmarshal(args[1], &room) != nil {
		return
	}
	out := append([]byte(nil), `42["broadcast"`...)
	for _, a := range args[2:] {
		out = append(out, ',')
		out = append(out, a...)
	}
	out = append(out, ']')
	frame := serverFrame(out)
	s.mu.Lock()
	r := s.rooms[room]
	var members []*baselineConn
	if r != nil {
		if r.snapshot == nil {
			r.snapshot = make([]*baselineConn, 0, len(r.members))
			for m := range r.members {
				r.snapshot = append(r.snapshot, m)
			}
		}
		members = r.snapshot
	}
	s.mu.Unlock()
	for _, m := range members {
		if m.write(frame) != nil {
			m.nc.Close()
		}
	}
}

// runBaselineServer is `fastio bench baseline-server`.
func runBaselineServer(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench baseline-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 3000, "TCP port to listen on (all interfaces)")
	ping := fs.Duration("ping-interval", 25*time.Second, "Engine.IO ping interval")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fastio bench baseline-server [--port 3000] [--ping-interval 25s]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "A bare Go server (goroutine per connection, no gnet) that speaks just enough Engine.IO/Socket.IO over")
		fmt.Fprintln(stderr, "WebSocket for the fanout scenario: the measuring stick, not a product. See bench/baseline.go.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "baseline-server listening on port %d\n", ln.Addr().(*net.TCPAddr).Port)
	return (&BaselineServer{PingInterval: *ping}).Serve(ctx, ln)
}
