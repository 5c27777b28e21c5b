package eventloop

import (
	"testing"

	"github.com/fastio/fastio/eventloop/http1"
)

func TestRequestReadsItsHeadOnDemand(t *testing.T) {
	raw := []byte("\r\nGET /socket.io/?EIO=4&transport=polling&x=%20y HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nX-Two: 2\r\n\r\nbody")
	var req http1.Request
	if _, err := http1.Parse(raw, &req, http1.Limits{}); err != nil {
		t.Fatal(err)
	}
	r := newRequest(&req, raw, "127.0.0.1:5000")
	raw[2] = 'X' // the request keeps its own copy
	if r.Method() != "GET" || r.URL() != "/socket.io/?EIO=4&transport=polling&x=%20y" {
		t.Fatalf("method %q url %q", r.Method(), r.URL())
	}
	if got := r.Header()["X-Two"]; len(got) != 2 || got[1] != "2" || r.Header().Get("Host") != "a" {
		t.Fatalf("headers %v", r.Header())
	}
	if r.Query().Get("x") != " y" || r.Query().Get("EIO") != "4" {
		t.Fatalf("query %v", r.Query())
	}
}
