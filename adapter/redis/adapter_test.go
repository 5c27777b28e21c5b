package redisadapter

import (
	"encoding/json"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fastio/fastio/adapter/redis/wire"
	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/server"
)

// The acknowledgement of a server-side event and the handshake of a remote socket, built with the server's hooks.

func TestServerSideEventAckHook(t *testing.T) {
	var got []any
	e := newServerSideEvent("x", new(server.Args), func(args ...any) { got = args })
	e.Ack(1, "a")
	if !slices.Equal(got, []any{1, "a"}) {
		t.Fatalf("the acknowledgement did not reach the adapter: %v", got)
	}
	newServerSideEvent("x", new(server.Args), nil).Ack(1) // no acknowledgement asked: no effect, no panic
}

func TestRemoteHandshakeHook(t *testing.T) {
	issued := time.UnixMilli(1795661111902)
	hs := newRemoteHandshake(issued, "::ffff:127.0.0.1", true, "/socket.io/?probe=q&EIO=4&transport=websocket",
		server.RawJSON(`{"token":"t"}`), map[string][]string{
			"x-fastio-test": {"h"}, "origin": {"http://x"}, "bad\nname": {"v"}, "x-bad": {"a\r\nb"}, "cookie": {"a=1; b=2"},
		})
	if hs.URL() != "/socket.io/?probe=q&EIO=4&transport=websocket" {
		t.Fatalf("URL %q", hs.URL())
	}
	if hs.Headers().Get("X-Fastio-Test") != "h" || hs.Headers().Get("Cookie") != "a=1; b=2" || hs.Headers().Get("X-Bad") != "" {
		t.Fatalf("headers %v", hs.Headers())
	}
	if hs.Query().Get("probe") != "q" || !hs.XDomain() || !hs.Secure || hs.Issued() != 1795661111902 {
		t.Fatalf("query %v xdomain %v", hs.Query(), hs.XDomain())
	}
	// a URL that is not a request target is kept as reported, and nothing panics
	hs = newRemoteHandshake(issued, "", false, "http://host/x?a=1 2", nil, nil)
	if hs.Headers() == nil || hs.Query().Get("a") != "1 2" || hs.URL() != "http://host/x?a=1 2" {
		t.Fatalf("headers %v query %v URL %q", hs.Headers(), hs.Query(), hs.URL())
	}
}

// A fetchSockets answer of a Node.js node (testdata) becomes a RemoteSocket, which serializes back to the same
// details.
func TestRemoteSocketFromNodeJS(t *testing.T) {
	raw, err := os.ReadFile("wire/testdata/notepack.json")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []struct {
		Kind, JSON string
		UID        string `json:"uid"`
	}
	if err := json.Unmarshal(raw, &fixtures); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fixtures, func(f struct {
		Kind, JSON string
		UID        string `json:"uid"`
	}) bool {
		return f.Kind == "fetch-response"
	})
	if i < 0 {
		t.Fatal("no fetch-response fixture")
	}
	f := fixtures[i]
	resp, err := wire.DecodeResponse([]byte(f.JSON))
	if err != nil || resp.RequestID != "req002" || len(resp.Sockets) != 1 {
		t.Fatalf("%+v %v", resp, err)
	}
	d, err := wire.DecodeSocketDetails(resp.Sockets[0])
	if err != nil {
		t.Fatal(err)
	}
	rs := remoteSocket(nil, d)
	if rs.ID != f.UID || !slices.Equal(rs.Rooms, []string{f.UID, "room1"}) {
		t.Fatalf("%+v", rs)
	}
	if data, ok := rs.Data.(sio.RawJSON); !ok || string(data) != `{"b":1,"a":[true]}` {
		t.Fatalf("data %#v", rs.Data)
	}
	hs := rs.Handshake
	if hs.Headers().Get("X-Fastio-Test") != "h" || hs.Query().Get("probe") != "q" || string(hs.Auth) != `{"token":"t"}` ||
		hs.Address != "::ffff:127.0.0.1" || hs.URL() != "/socket.io/?probe=q&EIO=4&transport=websocket" || hs.Time.IsZero() {
		t.Fatalf("handshake %+v %v", hs, hs.Headers())
	}
	// and back, as this node would answer
	out := appendSockets(nil, []*server.RemoteSocket{rs})
	var back []json.RawMessage
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	d2, err := wire.DecodeSocketDetails(back[0])
	if err != nil {
		t.Fatal(err)
	}
	if d2.ID != d.ID || !slices.Equal(d2.Rooms, d.Rooms) || string(d2.Data) != string(d.Data) ||
		d2.Handshake.Issued != d.Handshake.Issued || d2.Handshake.URL != d.Handshake.URL ||
		string(d2.Handshake.Auth) != string(d.Handshake.Auth) || d2.Handshake.Address != d.Handshake.Address ||
		d2.Handshake.Headers["x-fastio-test"][0] != "h" || d2.Handshake.Query["probe"][0] != "q" {
		t.Fatalf("round trip:\n%+v\n%+v", d, d2)
	}
}

func TestTaskQueueOrder(t *testing.T) {
	var q taskQueue
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		q.run(func() {
			defer wg.Done()
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			if i == 50 {
				panic("a task panics: the next ones still run")
			}
		})
	}
	wg.Wait()
	for i, v := range got {
		if v != i {
			t.Fatalf("order %v", got)
		}
	}
}

func TestRandomID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := randomID(10)
		if len(id) != 10 || seen[id] {
			t.Fatalf("id %q", id)
		}
		seen[id] = true
	}
}
