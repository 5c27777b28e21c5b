package main

import (
	"context"
	"strings"
	"testing"

	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/server"
)

func serve(t *testing.T, io *server.Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- io.Serve(ctx) }()
	<-io.Engine().Ready()
	t.Cleanup(func() { cancel(); <-done })
	return io.Engine().Addr().String()
}

func TestChat(t *testing.T) {
	io, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, io)
	a := apptest.DialWS(t, addr, "/socket.io/", nil)
	a.Connect("")
	b := apptest.DialWS(t, addr, "/socket.io/", nil)
	b.Connect("")
	if got := a.MustRead(); got != `42["notification",{"id":"`+b.ID+`","message":"a new user has joined"}]` {
		t.Fatalf("join notification %q", got)
	}
	b.Send(`42["message",{"text":"hi"}]`)
	for _, c := range []*apptest.WS{a, b} {
		got := c.MustRead()
		if !strings.HasPrefix(got, `42["notification",{"text":"hi","timestamp":"`) || !strings.HasSuffix(got, `","type":"user_message"}]`) {
			t.Fatalf("relayed message %q", got)
		}
	}
}
