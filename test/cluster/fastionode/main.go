// Command fastionode is the fastio node of the cluster interop tests: a Socket.IO server with the Redis adapter,
// whose clients drive the cluster operations through events (until `fastio testserver --redis` exists), and a
// Go emitter:
//
//	fastionode serve --port 3001 --redis redis://127.0.0.1:6379 --name go1 [--sharded [--subscription-mode m]]
//	fastionode emit --redis redis://127.0.0.1:6379 [--nsp /] [--to room]... [--except room]... event 'json args'
//
// serve prints "listening <port>" once it accepts connections, and stops on SIGTERM or when stdin closes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	redisadapter "github.com/fastio/fastio/adapter/redis"
	"github.com/fastio/fastio/emitter"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/server"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fastionode serve|emit [flags]")
		os.Exit(64)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "emit":
		err = emit(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fastionode:", err)
		os.Exit(1)
	}
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func emit(args []string) error {
	fs := flag.NewFlagSet("emit", flag.ContinueOnError)
	redisURL := fs.String("redis", "redis://127.0.0.1:6379", "Redis URL")
	nsp := fs.String("nsp", "/", "namespace")
	var to, except listFlag
	fs.Var(&to, "to", "room (repeatable)")
	fs.Var(&except, "except", "room to exclude (repeatable)")
	binary := fs.Bool("binary", false, "append a binary argument (bytes 1, 2, 3)")
	serverSide := fs.Bool("server-side", false, "send a server-side event instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("emit: missing event name")
	}
	var values []any
	if fs.NArg() > 1 {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(fs.Arg(1)), &raw); err != nil {
			return fmt.Errorf("emit: args must be a JSON array: %w", err)
		}
		for _, r := range raw {
			values = append(values, server.RawJSON(r))
		}
	}
	if *binary {
		values = append(values, []byte{1, 2, 3})
	}
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e := emitter.New(rdb, emitter.Options{}).Of(*nsp)
	if *serverSide {
		return e.ServerSideEmit(ctx, fs.Arg(0), values...)
	}
	return e.To(to...).Except(except...).Emit(ctx, fs.Arg(0), values...)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 3001, "TCP port")
	redisURL := fs.String("redis", "redis://127.0.0.1:6379", "Redis URL")
	name := fs.String("name", "go", "node name, in the answers")
	timeout := fs.Duration("requests-timeout", 2*time.Second, "cluster requests timeout")
	specific := fs.Bool("specific-response-channel", false, "publishOnSpecificResponseChannel")
	sharded := fs.Bool("sharded", false, "the sharded protocol (createShardedAdapter)")
	mode := fs.String("subscription-mode", "", "sharded subscription mode: static, dynamic, dynamic-private")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", *name)
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1 // fail fast during outages: the adapter logs and goes on
	redis.SetLogger(redisadapter.RedisLogger(logger))
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { // the test runner closes stdin to stop us (and dies with us)
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	node := redisadapter.New(ctx, rdb, redisadapter.Options{
		RequestsTimeout:                  *timeout,
		PublishOnSpecificResponseChannel: *specific,
		Logger:                           logger,
		Sharded:                          *sharded,
		SubscriptionMode:                 *mode,
	})
	defer node.Close()
	io, err := server.New(server.Options{
		Addr:         fmt.Sprintf("127.0.0.1:%d", *port),
		PingInterval: 2 * time.Second,
		PingTimeout:  2 * time.Second,
		CORS:         &eventloop.CORS{Origins: []string{"*"}},
		Adapter:      node.Adapter,
		Logger:       logger,
	})
	if err != nil {
		return err
	}
	mount(io, *name)
	go func() {
		<-io.Engine().Ready()
		fmt.Printf("listening %d\n", *port)
	}()
	return io.Serve(ctx)
}

// selector is the first argument of the events that act on the cluster.
type selector struct {
	To       []string `json:"to"`
	Except   []string `json:"except"`
	Event    string   `json:"event"`
	Local    bool     `json:"local"`
	Volatile bool     `json:"volatile"`
	Timeout  int      `json:"timeout"` // ms
	Rooms    []string `json:"rooms"`
	Close    bool     `json:"close"`
	Ack      bool     `json:"ack"`
	ID       string   `json:"id"`
}

func (s selector) operator(ns *server.Namespace) *server.BroadcastOperator {
	op := ns.To(s.To...).Except(s.Except...)
	if s.Local {
		op = op.Local()
	}
	if s.Volatile {
		op = op.Volatile()
	}
	if s.Timeout > 0 {
		op = op.Timeout(time.Duration(s.Timeout) * time.Millisecond)
	}
	return op
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func spreadAll(list []*server.Args) [][]any {
	out := make([][]any, len(list))
	for i, a := range list {
		if a == nil {
			out[i] = []any{}
			continue
		}
		out[i] = a.Spread()
	}
	return out
}

func describe(rs *server.RemoteSocket) map[string]any {
	d := map[string]any{"id": rs.ID, "rooms": rs.Rooms, "data": rs.Data}
	if hs := rs.Handshake; hs != nil {
		d["handshake"] = map[string]any{
			"url":     hs.URL(),
			"auth":    hs.Auth,
			"address": hs.Address,
			"issued":  hs.Issued(),
			"headers": map[string]string{"x-fastio-test": hs.Headers().Get("X-Fastio-Test")},
			"query":   map[string]string{"probe": hs.Query().Get("probe")},
		}
	}
	return d
}

func mount(io *server.Server, name string) {
	ns := io.Of("/")
	for _, nsp := range []*server.Namespace{ns, io.Of("/chat")} {
		mountNamespace(nsp, name)
	}
}

func mountNamespace(ns *server.Namespace, name string) {
	ns.OnServerSide("ping", func(e *server.ServerSideEvent) {
		e.Ack(map[string]any{"node": name, "args": e.Args.Spread()})
	})
	ns.OnServerSide("notify", func(e *server.ServerSideEvent) {
		_ = ns.Local().Emit("server-side", append([]any{name}, e.Args.Spread()...)...)
	})
	ns.OnConnection(func(s *server.Socket) {
		var auth struct {
			Room string `json:"room"`
		}
		if s.Handshake().DecodeAuth(&auth) == nil && auth.Room != "" {
			s.Join(auth.Room)
		}
		s.SetData(map[string]any{"node": name})
		defer func() { _ = s.Emit("ready") }() // the handlers below are in place: the client may go on
		sel := func(e *server.Event) (selector, []any) {
			var sl selector
			_ = e.Args.Decode(0, &sl)
			args := e.Args.Spread()
			if len(args) > 0 {
				args = args[1:]
			}
			return sl, args
		}
		s.On("whoami", func(e *server.Event) { _ = e.Ack(name, s.ID()) })
		s.On("join", func(e *server.Event) {
			if room, err := e.Args.String(0); err == nil {
				s.Join(room)
			}
			_ = e.Ack(s.Rooms())
		})
		s.On("leave", func(e *server.Event) {
			if room, err := e.Args.String(0); err == nil {
				s.Leave(room)
			}
			_ = e.Ack(s.Rooms())
		})
		s.On("set-data", func(e *server.Event) {
			v, _ := e.Args.Value(0)
			s.SetData(v)
			_ = e.Ack()
		})
		s.On("emit", func(e *server.Event) {
			sl, args := sel(e)
			err := sl.operator(ns).Emit(sl.Event, args...)
			_ = e.Ack(errString(err))
		})
		s.On("broadcast-others", func(e *server.Event) { // socket.broadcast / socket.to: the sender excluded
			sl, args := sel(e)
			err := s.To(sl.To...).Except(sl.Except...).Emit(sl.Event, args...)
			_ = e.Ack(errString(err))
		})
		s.On("emit-with-ack", func(e *server.Event) {
			sl, args := sel(e)
			// Off the client's queue: this client's own answer is handled there.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				responses, err := sl.operator(ns).EmitWithAck(ctx, sl.Event, args...)
				_ = e.Ack(map[string]any{"err": errString(err), "responses": spreadAll(responses)})
			}()
		})
		s.On("fetch", func(e *server.Event) {
			sl, _ := sel(e)
			sockets, err := sl.operator(ns).FetchSockets()
			list := make([]any, 0, len(sockets))
			for _, rs := range sockets {
				list = append(list, describe(rs))
			}
			_ = e.Ack(map[string]any{"err": errString(err), "sockets": list})
		})
		s.On("sockets-join", func(e *server.Event) {
			sl, _ := sel(e)
			sl.operator(ns).SocketsJoin(sl.Rooms...)
			_ = e.Ack()
		})
		s.On("sockets-leave", func(e *server.Event) {
			sl, _ := sel(e)
			sl.operator(ns).SocketsLeave(sl.Rooms...)
			_ = e.Ack()
		})
		s.On("disconnect-sockets", func(e *server.Event) {
			sl, _ := sel(e)
			_ = e.Ack() // first: this socket may be one of them
			sl.operator(ns).DisconnectSockets(sl.Close)
		})
		s.On("remote-emit", func(e *server.Event) { // through a RemoteSocket from FetchSockets
			sl, args := sel(e)
			sockets, err := ns.To(sl.ID).FetchSockets()
			if err == nil && len(sockets) == 0 {
				err = errors.New("no such socket")
			}
			for _, rs := range sockets {
				if sl.Rooms != nil {
					rs.Join(sl.Rooms...)
				}
				if sl.Event != "" {
					err = rs.Emit(sl.Event, args...)
				}
			}
			_ = e.Ack(errString(err))
		})
		s.On("server-side-emit", func(e *server.Event) {
			sl, args := sel(e)
			if !sl.Ack {
				_ = e.Ack(errString(ns.ServerSideEmit(sl.Event, args...)))
				return
			}
			responses, err := ns.ServerSideEmitWithAck(time.Duration(sl.Timeout)*time.Millisecond, sl.Event, args...)
			_ = e.Ack(map[string]any{"err": errString(err), "responses": spreadAll(responses)})
		})
		s.On("server-count", func(e *server.Event) { _ = e.Ack(ns.Adapter().ServerCount()) })
		s.On("all-rooms", func(e *server.Event) {
			a, ok := ns.Adapter().(*redisadapter.Adapter)
			if !ok {
				_ = e.Ack(nil, "not a redis adapter")
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			rooms, err := a.AllRooms(ctx)
			_ = e.Ack(rooms, errString(err))
		})
	})
}
