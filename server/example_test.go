package server_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"time"

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
