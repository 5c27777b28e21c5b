package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/fastio/fastio/internal/app/apptest"
	"github.com/fastio/fastio/internal/selfsigned"
)

func TestEventLoopsWithRoutesAsFallback(t *testing.T) {
	srv, err := newEventLoopServer("127.0.0.1:0")
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
	checkRoutes(t, http.DefaultClient, "http://"+addr, func() string { return c.MustRead() })
}

func TestMountedInNetHTTPWithTLS(t *testing.T) {
	cert, err := selfsigned.New(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := cert.Roots
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveMounted(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert.TLS}}) }()
	base := "https://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}

	// WebSocket over TLS.
	dialer := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	conn, br, _, err := dialer.Dial(ctx, "wss://"+ln.Addr().String()+"/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if br == nil {
		br = bufio.NewReader(conn)
	}
	read := func() string {
		t.Helper()
		for {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			h, err := ws.ReadHeader(br)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			msg := make([]byte, h.Length)
			if _, err := io.ReadFull(br, msg); err != nil {
				t.Fatalf("read: %v", err)
			}
			if string(msg) == "2" {
				_ = wsutil.WriteClientText(conn, []byte("3"))
				continue
			}
			return string(msg)
		}
	}
	send := func(packet string) {
		t.Helper()
		if err := wsutil.WriteClientText(conn, []byte(packet)); err != nil {
			t.Fatal(err)
		}
	}
	if open := read(); !strings.HasPrefix(open, `0{"sid":"`) {
		t.Fatalf("open packet %q", open)
	}
	send("40")
	connected := read()
	if !strings.HasPrefix(connected, `40{"sid":"`) {
		t.Fatalf("connect answer %q", connected)
	}
	id := connected[len(`40{"sid":"`) : len(connected)-2]
	if got, want := read(), `42["welcome","`+id+`"]`; got != want {
		t.Fatalf("welcome %q, want %q", got, want)
	}

	// Long-polling over TLS, on HTTP/2: a second client whose chat message reaches the WebSocket one.
	resp, err := client.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !strings.HasPrefix(string(body), `0{"sid":"`) {
		t.Fatalf("polling handshake over %s: %q", resp.Proto, body)
	}
	sid := string(body[9:29])
	post := func(payload string) {
		t.Helper()
		resp, err := client.Post(base+"/socket.io/?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("post: %d", resp.StatusCode)
		}
	}
	post("40")
	post(`42["chat","over h2"]`)
	if got := read(); got != `42["chat","over h2"]` {
		t.Fatalf("chat relayed %q", got)
	}

	checkRoutes(t, client, base, read)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// checkRoutes checks the application's own routes next to Socket.IO: read returns the next packet of a
// connected Socket.IO client.
func checkRoutes(t *testing.T, client *http.Client, base string, read func() string) {
	t.Helper()
	resp, err := client.Get(base + "/hello?name=gopher")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello, gopher\n" {
		t.Fatalf("/hello: %d %q", resp.StatusCode, body)
	}
	resp, err = client.Post(base+"/announce?text=deploy", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := read(); got != `42["announcement","deploy"]` {
		t.Fatalf("announcement %q", got)
	}
}
