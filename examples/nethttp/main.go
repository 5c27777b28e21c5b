// Command nethttp is an existing net/http application with its own routes, and fastio on the same port: the Go
// answer to the seed's "With express" section. The event loops serve Socket.IO at /socket.io/; every other
// request goes to the application's mux, run off the event loops.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os/signal"
	"syscall"

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

// routes is the application as it was before Socket.IO: plain net/http.
func routes(io *server.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.URL.Query().Get("name"))
	})
	// A route that reaches the Socket.IO clients.
	mux.HandleFunc("POST /announce", func(w http.ResponseWriter, r *http.Request) {
		_ = io.Emit("announcement", r.URL.Query().Get("text"))
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func newServer(addr string) (*server.Server, error) {
	var io *server.Server
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { routes(io).ServeHTTP(w, r) })
	io, err := server.New(server.Options{Addr: addr, Fallback: handler})
	if err != nil {
		return nil, err
	}
	io.OnConnection(func(s *server.Socket) { _ = s.Emit("welcome", s.ID()) })
	return io, nil
}
