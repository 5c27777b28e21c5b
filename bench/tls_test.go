package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fastio/fastio/server"
)

// TestDialOverTLS opens Socket.IO sessions over wss:// (directly and polling first) against fastio mounted in
// a TLS net/http server, and checks that an untrusted certificate fails the dial unless Insecure is set.
func TestDialOverTLS(t *testing.T) {
	io, err := server.New(server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer io.Close()
	hs := httptest.NewTLSServer(io)
	defer hs.Close()
	u, err := buildURL(strings.Replace(hs.URL, "https://", "wss://", 1), "", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, polling := range []bool{false, true} {
		cfg := &ClientConfig{URL: u, Insecure: true, Timeout: 5 * time.Second, Polling: polling}
		c, _, err := Dial(context.Background(), cfg, netip.Addr{})
		if err != nil {
			t.Fatalf("polling %v: %v", polling, err)
		}
		if c.SocketSID == "" {
			t.Errorf("polling %v: no Socket.IO id", polling)
		}
		c.Close()
	}
	_, _, err = Dial(context.Background(), &ClientConfig{URL: u, Timeout: 5 * time.Second}, netip.Addr{})
	if ErrorKind(err) != "tls" {
		t.Fatalf("untrusted certificate: %v (kind %s), want a tls error", err, ErrorKind(err))
	}
}
