package testserver

import (
	"errors"
	"time"

	"github.com/fastio/fastio/server"
)

// mountSocketIO adds the contract's Socket.IO handlers to io: namespaces "/", "/custom" and "/guarded".
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
		common(s)
		mainHandlers(io, s)
	})
	io.Of("/custom").OnConnection(common)
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
	guarded.OnConnection(common)
}

// common installs the handlers of every namespace: "auth" on connection, "message" and "message-with-ack".
func common(s *server.Socket) {
	_ = s.Emit("auth", server.RawJSON(s.Handshake().Auth))
	s.On("message", func(e *server.Event) {
		_ = s.Emit("message-back", e.Args.Spread()...)
	})
	s.On("message-with-ack", func(e *server.Event) {
		_ = e.Ack(e.Args.Spread()...)
	})
}

// mainHandlers installs the extra handlers of the main namespace.
func mainHandlers(io *server.Server, s *server.Socket) {
	roomArg := func(e *server.Event) (string, []any, error) {
		if e.Args.Len() == 0 {
			return "", nil, errors.New("no room")
		}
		room, err := e.Args.String(0)
		return room, e.Args.Spread()[1:], err
	}
	s.On("join", func(e *server.Event) {
		if room, _, err := roomArg(e); err == nil {
			s.Join(room)
		}
		_ = e.Ack()
	})
	s.On("leave", func(e *server.Event) {
		if room, _, err := roomArg(e); err == nil {
			s.Leave(room)
		}
		_ = e.Ack()
	})
	s.On("broadcast", func(e *server.Event) {
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
	s.On("broadcast-others", func(e *server.Event) {
		room, args, err := roomArg(e)
		if err != nil {
			return
		}
		if room == "" {
			_ = s.Broadcast().Emit("broadcast", args...)
		} else {
			_ = s.To(room).Emit("broadcast", args...)
		}
	})
	s.On("echo", func(e *server.Event) {
		args := e.Args.Spread()
		if e.WantsAck() {
			_ = e.Ack(args...)
			return
		}
		_ = s.Emit("echo", args...)
	})
	s.On("server-ack", func(e *server.Event) {
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
	s.On("disconnect-me", func(*server.Event) {
		s.Disconnect(true)
	})
}
