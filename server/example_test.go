package server_test

import (
	"context"
	"errors"
	"fmt"
	stdio "io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/fastio/fastio/server"
)

// The seed's first example: binary travels as attachments, arguments are decoded on demand.
func Example() {
	io, err := server.New(server.Options{Addr: ":3000"})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(socket *server.Socket) {
		// send a message to the client
		_ = socket.Emit("hello from server", 1, "2", map[string]any{"3": []byte{4}})

		// receive a message from the client
		socket.On("hello from client", func(e *server.Event) {
			n, _ := e.Args.Int(0)
			s, _ := e.Args.String(1)
			v, _ := e.Args.Value(2) // map[string]any{"7": []byte{8}}
			fmt.Println(n, s, v)
		})
	})
	log.Fatal(io.Serve(context.Background()))
}

// The seed's chat server: a connection count, a notification to everyone but the newcomer, and a relay.
func Example_chat() {
	io, err := server.New(server.Options{Addr: ":3000"})
	if err != nil {
		log.Fatal(err)
	}
	var count atomic.Int64
	io.OnConnection(func(socket *server.Socket) {
		_ = socket.Broadcast().Emit("notification", map[string]any{
			"id":      socket.ID(),
			"message": "a new user has joined",
		})
		log.Println("total connections", count.Add(1))
		socket.On("message", func(e *server.Event) {
			_ = io.Emit("notification", e.Args.Spread()...)
		})
		socket.OnDisconnect(func(string) {
			log.Println("total connections", count.Add(-1))
		})
	})
	log.Fatal(io.Serve(context.Background()))
}

// A middleware refuses a connection; the client's connect_error carries the message and data.
func ExampleNamespace_Use() {
	io, err := server.New(server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	io.Of("/admin").Use(func(s *server.Socket) error {
		var auth struct{ Token string }
		if err := s.Handshake().DecodeAuth(&auth); err != nil || auth.Token != "secret" {
			return &server.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
		}
		return nil
	})
}

// Asking a client for an acknowledgement, with a timeout.
func ExampleSocket_EmitWithAck() {
	io, err := server.New(server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(socket *server.Socket) {
		answer, err := socket.Timeout(5*time.Second).EmitWithAck(context.Background(), "question", "ready?")
		if errors.Is(err, server.ErrAckTimeout) {
			return
		}
		reply, _ := answer.String(0)
		log.Println("client said", reply)
	})
}

// Broadcasting to a room, except another room, and collecting one answer per socket.
func ExampleBroadcastOperator_EmitWithAck() {
	io, err := server.New(server.Options{})
	if err != nil {
		log.Fatal(err)
	}
	responses, err := io.To("room1").Except("room2").Timeout(time.Second).EmitWithAck(context.Background(), "poll")
	log.Println(len(responses), "answers", err)
}

// A complete round trip on a real connection: a server on a free port, and a minimal client speaking
// Engine.IO and Socket.IO over WebSocket by hand (a real application uses socket.io-client).
func ExampleSocket_On() {
	io, err := server.New(server.Options{Addr: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(socket *server.Socket) {
		socket.On("add", func(e *server.Event) {
			a, _ := e.Args.Int(0)
			b, _ := e.Args.Int(1)
			_ = e.Ack(a + b)
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = io.Serve(ctx) }()
	<-io.Engine().Ready()

	conn, br, _, err := ws.Dial(ctx, "ws://"+io.Engine().Addr().String()+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	var in stdio.Reader = conn
	if br != nil { // bytes that arrived with the handshake answer
		in = stdio.MultiReader(br, conn)
	}
	read := func() string {
		msg, err := wsutil.ReadServerText(struct {
			stdio.Reader
			stdio.Writer
		}{in, conn})
		if err != nil {
			log.Fatal(err)
		}
		return string(msg)
	}
	read()                                                      // the Engine.IO open packet
	_ = wsutil.WriteClientText(conn, []byte("40"))              // CONNECT to "/"
	read()                                                      // 40{"sid":"..."}
	_ = wsutil.WriteClientText(conn, []byte(`421["add",40,2]`)) // EVENT "add" with ack id 1
	fmt.Println(read())                                         // the ACK
	// Output: 431[42]
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(stdio.Discard, nil)) }

// Mounted in an existing net/http server, next to its own routes (serve it with ListenAndServeTLS for HTTPS):
// here a test server, and a polling client's first request.
func ExampleServer_ServeHTTP() {
	io, err := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(stdio.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer io.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	mux.Handle("/socket.io/", io)
	hs := httptest.NewServer(mux) // or &http.Server{Addr: ":443", Handler: mux}
	defer hs.Close()

	resp, err := http.Get(hs.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := stdio.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body[:9]))
	// Output: 200 0{"sid":"
}
