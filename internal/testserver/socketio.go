package testserver

import (
	"errors"
	"time"

	"github.com/fastio/fastio/server"
)

// mountSocketIO adds the contract's Socket.IO handlers to io: namespaces "/", "/custom" and "/guarded". The
// event handlers are registered once per namespace (Namespace.On), not per socket, so that an idle socket
// costs no handler state.
func mountSocketIO(io *server.Server) {
	main := io.Of("/")
	main.OnConnection(func(s *server.Socket) {
		var auth struct {
			Room any `json:"room"`
		}
		if s.Handshake().DecodeAuth(&auth) == nil {
			if room, ok := auth.Room.(string); ok && room != "" {
				s.Join(room)
			}
		}
		sendAuth(s)
	})
	common(main)
	mainHandlers(io, main)

	custom := io.Of("/custom")
	custom.OnConnection(sendAuth)
	common(custom)

	guarded := io.Of("/guarded")
	guarded.Use(func(s *server.Socket) error {
		var auth struct {
			Token any `json:"token"`
		}
		if s.Handshake().DecodeAuth(&auth) == nil && auth.Token == "secret" {
			return nil
		}
		return &server.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
	})
	guarded.OnConnection(sendAuth)
	common(guarded)
}

// sendAuth sends the CONNECT payload back as the "auth" event, right after the CONNECT answer.
func sendAuth(s *server.Socket) {
	_ = s.Emit("auth", server.RawJSON(s.Handshake().Auth))
}

// common installs the handlers of every namespace: "message" and "message-with-ack".
func common(ns *server.Namespace) {
	ns.On("message", func(e *server.Event) {
		_ = e.Socket().Emit("message-back", e.Args.Spread()...)
	})
	ns.On("message-with-ack", func(e *server.Event) {
		_ = e.Ack(e.Args.Spread()...)
	})
}

// mainHandlers installs the extra handlers of the main namespace.
func mainHandlers(io *server.Server, ns *server.Namespace) {
	roomArg := func(e *server.Event) (string, []any, error) {
		if e.Args.Len() == 0 {
			return "", nil, errors.New("no room")
		}
		room, err := e.Args.String(0)
		return room, e.Args.Spread()[1:], err
	}
	ns.On("join", func(e *server.Event) {
		if room, _, err := roomArg(e); err == nil {
			e.Socket().Join(room)
		}
		_ = e.Ack()
	})
	ns.On("leave", func(e *server.Event) {
		if room, _, err := roomArg(e); err == nil {
			e.Socket().Leave(room)
		}
		_ = e.Ack()
	})
	ns.On("broadcast", func(e *server.Event) {
		room, args, err := roomArg(e)
		if err != nil {
			return
		}
		if room == "" {
			_ = io.Emit("broadcast", args...)
		} else {
			_ = io.To(room).Emit("broadcast", args...)
		}
	})
	ns.On("broadcast-others", func(e *server.Event) {
		room, args, err := roomArg(e)
		if err != nil {
			return
		}
		s := e.Socket()
		if room == "" {
			_ = s.Broadcast().Emit("broadcast", args...)
		} else {
			_ = s.To(room).Emit("broadcast", args...)
		}
	})
	ns.On("echo", func(e *server.Event) {
		args := e.Args.Spread()
		if e.WantsAck() {
			_ = e.Ack(args...)
			return
		}
		_ = e.Socket().Emit("echo", args...)
	})
	ns.On("server-ack", func(e *server.Event) {
		s := e.Socket()
		args := append(e.Args.Spread(), server.AckFunc(func(err error, answer *server.Args) {
			if err != nil {
				_ = s.Emit("server-ack-result", "timeout")
				return
			}
			var v any
			if vals := answer.Spread(); len(vals) > 0 {
				v = vals[0]
			}
			_ = s.Emit("server-ack-result", v)
		}))
		_ = s.Timeout(time.Second).Emit("ping-me", args...)
	})
	ns.On("disconnect-me", func(e *server.Event) {
		e.Socket().Disconnect(true)
	})
}
