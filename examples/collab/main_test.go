package main

import (
	"context"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
)

func TestDocumentsAreRooms(t *testing.T) {
	srv, err := newServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	<-srv.Engine().Ready()
	defer func() { cancel(); <-done }()
	addr := srv.Engine().Addr().String()

	open := func(doc string) *apptest.WS {
		c := apptest.DialWS(t, addr, "/socket.io/", nil)
		c.Connect("")
		c.Send(`421["open","` + doc + `"]`)
		if got := c.MustRead(); got[:3] != "431" {
			t.Fatalf("open ack %q", got)
		}
		return c
	}
	a, b, other := open("readme"), open("readme"), open("notes")
	a.Send(`422["edit","readme","Hello"]`)
	if got := a.MustRead(); got != `432[1]` {
		t.Fatalf("edit ack %q", got)
	}
	if got := b.MustRead(); got != `42["edited","readme","Hello",1]` {
		t.Fatalf("co-editor got %q", got)
	}
	other.ExpectNothing(100 * time.Millisecond)
	a.ExpectNothing(50 * time.Millisecond) // the editor does not get its own edit back

	late := apptest.DialWS(t, addr, "/socket.io/", nil)
	late.Connect("")
	late.Send(`421["open","readme"]`)
	if got := late.MustRead(); got != `431[{"rev":1,"text":"Hello"}]` {
		t.Fatalf("late opener got %q", got)
	}
}
