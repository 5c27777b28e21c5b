package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/fastio/fastio/internal/app/apptest"
)

func TestRoutesAndSocketIOShareThePort(t *testing.T) {
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

	c := apptest.DialWS(t, addr, "/socket.io/", nil)
	c.Connect("")
	if got, want := c.MustRead(), `42["welcome","`+c.ID+`"]`; got != want {
		t.Fatalf("welcome %q, want %q", got, want)
	}
	resp, err := http.Get("http://" + addr + "/hello?name=gopher")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello, gopher\n" {
		t.Fatalf("/hello: %d %q", resp.StatusCode, body)
	}
	resp, err = http.Post("http://"+addr+"/announce?text=deploy", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := c.MustRead(); got != `42["announcement","deploy"]` {
		t.Fatalf("announcement %q", got)
	}
}
