// Command nethttp is an existing net/http application with its own routes, and fastio added to it: the Go
// answer to the seed's "With express" section. It shows the two ways to share one port:
//
//   - mounted (the default): the application keeps its http.Server and mounts the Socket.IO server in its mux
//     at /socket.io/, like any handler. net/http serves everything, with TLS when -tls-cert and -tls-key are
//     given (gnet has no TLS); fastio's sessions then run on goroutines.
//   - -eventloops: fastio's event loops listen and serve Socket.IO at /socket.io/, and hand every other request
//     to the application's mux (server.Options.Fallback), run off the event loops. No TLS (put a TLS-terminating
//     proxy in front), but the event loops hold many more connections per core.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/fastio/fastio/server"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	eventLoops := flag.Bool("eventloops", false, "serve with fastio's event loops, the application's routes as their fallback")
	certFile := flag.String("tls-cert", "", "PEM certificate: serve HTTPS and WSS (mounted mode)")
	keyFile := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *eventLoops {
		io, err := newEventLoopServer(*addr)
		if err != nil {
			log.Fatal(err)
		}
		log.Fatal(io.Serve(ctx))
	}
	var tlsConfig *tls.Config
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := serveMounted(ctx, ln, tlsConfig); err != nil {
		log.Fatal(err)
	}
}

// routes is the application as it was before Socket.IO: plain net/http. announce reaches the Socket.IO
// clients.
func routes(io *server.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello, %s\n", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("POST /announce", func(w http.ResponseWriter, r *http.Request) {
		_ = io.Emit("announcement", r.URL.Query().Get("text"))
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// newSocketIO is the Socket.IO part, the same in both modes.
func newSocketIO(opts server.Options) (*server.Server, error) {
	io, err := server.New(opts)
	if err != nil {
		return nil, err
	}
	io.OnConnection(func(s *server.Socket) {
		_ = s.Emit("welcome", s.ID())
		s.On("chat", func(e *server.Event) {
			if text, err := e.Args.String(0); err == nil {
				_ = io.Emit("chat", text)
			}
		})
	})
	return io, nil
}

// serveMounted serves the application's http.Server on ln, with fastio mounted in its mux, until ctx ends;
// with TLS when tlsConfig is not nil.
func serveMounted(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	io, err := newSocketIO(server.Options{})
	if err != nil {
		return err
	}
	mux := routes(io)
	mux.Handle("/socket.io/", io)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	stop := context.AfterFunc(ctx, func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = io.Shutdown(shutdownCtx) // every socket: "server shutting down"
		_ = hs.Shutdown(shutdownCtx)
	})
	defer stop()
	if tlsConfig != nil {
		err = hs.ServeTLS(ln, "", "")
	} else {
		err = hs.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// newEventLoopServer builds the server for fastio's event loops, the application's routes as their fallback.
func newEventLoopServer(addr string) (*server.Server, error) {
	var app http.Handler // set before the server serves: the routes need the server
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { app.ServeHTTP(w, r) })
	io, err := newSocketIO(server.Options{Addr: addr, Fallback: fallback})
	if err != nil {
		return nil, err
	}
	app = routes(io)
	return io, nil
}
