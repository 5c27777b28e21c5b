// Command chat is the seed's chat server on fastio's public API: a connection count, a notification to everyone
// but the newcomer, and every "message" relayed to everyone as a notification.
package main

import (
	"context"
	"flag"
	"log"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/server"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	io, err := newServer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Fatal(io.Serve(ctx))
}

// newServer builds the chat server listening on addr.
func newServer(addr string) (*server.Server, error) {
	io, err := server.New(server.Options{Addr: addr, CORS: &eventloop.CORS{Origins: []string{"*"}}})
	if err != nil {
		return nil, err
	}
	var count atomic.Int64
	io.OnConnection(func(socket *server.Socket) {
		_ = socket.Broadcast().Emit("notification", map[string]any{
			"id":      socket.ID(),
			"message": "a new user has joined",
		})
		log.Println("total connections", count.Add(1))
		socket.OnDisconnect(func(string) { log.Println("total connections", count.Add(-1)) })
	})
	// One handler for every socket of the namespace.
	io.Of("/").On("message", func(e *server.Event) {
		var data map[string]any
		if err := e.Args.Decode(0, &data); err != nil || data == nil {
			data = map[string]any{}
		}
		data["type"] = "user_message"
		data["timestamp"] = time.Now().UTC().Format(time.RFC1123)
		_ = io.Emit("notification", data)
	})
	return io, nil
}
