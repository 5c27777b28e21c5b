// Package apptest holds raw Socket.IO clients for the tests of the app packages: one over WebSocket and one over
// HTTP long-polling, each speaking the wire format directly so that a test sees the exact packets, over plain
// HTTP or TLS (with Certificate, a throwaway self-signed certificate).
package apptest

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/fastio/fastio/internal/selfsigned"
)

// WS is a Socket.IO client over a raw WebSocket. It answers pings; Read returns the other packets.
type WS struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	// SID is the Engine.IO session id, ID the main namespace's socket id once Connect returned.
	SID, ID string
}

// DialWS opens an Engine.IO session over WebSocket at addr (host:port) and path, with extra query parameters.
func DialWS(t testing.TB, addr, path string, query url.Values) *WS {
	t.Helper()
	return DialWSWith(t, ws.Dialer{}, "ws://"+addr+path, query)
}

// DialWSWith is DialWS with a dialer of the caller's (a TLS configuration, say) and the endpoint's URL
// (ws://host:port/path/ or wss://...).
func DialWSWith(t testing.TB, d ws.Dialer, endpoint string, query url.Values) *WS {
	t.Helper()
	q := url.Values{"EIO": {"4"}, "transport": {"websocket"}}
	for k, v := range query {
		q[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := d.Dial(ctx, endpoint+"?"+q.Encode())
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil {
		br = bufio.NewReader(conn)
	}
	c := &WS{t: t, conn: conn, r: br}
	open, err := c.Read()
	if err != nil || !strings.HasPrefix(open, `0{"sid":"`) {
		t.Fatalf("open packet %q, %v", open, err)
	}
	c.SID = open[9:29]
	return c
}

// Send writes one Engine.IO text packet.
func (c *WS) Send(packet string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := wsutil.WriteClientMessage(c.conn, ws.OpText, []byte(packet)); err != nil {
		c.t.Fatalf("websocket write: %v", err)
	}
}

// ErrClosed is returned by Read once the server sent a close frame.
var ErrClosed = errors.New("websocket closed by the server")

// Read returns the next Engine.IO packet other than a ping (which it answers), waiting up to 5 seconds.
func (c *WS) Read() (string, error) {
	return c.ReadTimeout(5 * time.Second)
}

// ReadTimeout is Read with another wait.
func (c *WS) ReadTimeout(d time.Duration) (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return "", err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return "", err
		}
		switch h.OpCode {
		case ws.OpClose:
			return "", ErrClosed
		case ws.OpPing, ws.OpPong:
			continue
		}
		if string(p) == "2" {
			c.Send("3")
			continue
		}
		return string(p), nil
	}
}

// MustRead is Read that fails the test on error.
func (c *WS) MustRead() string {
	c.t.Helper()
	p, err := c.Read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return p
}

// Connect joins the main namespace with an auth payload ("" for none) and returns the server's answer packet
// (40{"sid":...} or 44{...}).
func (c *WS) Connect(auth string) string {
	c.t.Helper()
	c.Send("40" + auth)
	p := c.MustRead()
	if strings.HasPrefix(p, `40{"sid":"`) {
		c.ID = p[10:30]
	}
	return p
}

// ExpectNothing fails the test when a packet other than a ping arrives within d.
func (c *WS) ExpectNothing(d time.Duration) {
	c.t.Helper()
	p, err := c.ReadTimeout(d)
	var ne net.Error
	if err == nil {
		c.t.Fatalf("unexpected packet %q", p)
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("unexpected error %v", err)
	}
}

// Close closes the connection.
func (c *WS) Close() { c.conn.Close() }

// Polling is a Socket.IO client over HTTP long-polling.
type Polling struct {
	t    testing.TB
	base string
	SID  string
	http *http.Client
}

// DialPolling opens an Engine.IO session over long-polling at addr and path.
func DialPolling(t testing.TB, addr, path string) *Polling {
	t.Helper()
	return DialPollingWith(t, &http.Client{Timeout: 10 * time.Second}, "http://"+addr+path)
}

// DialPollingWith is DialPolling with an HTTP client of the caller's (for HTTPS, say) and the endpoint's URL
// (http://host:port/path/ or https://...).
func DialPollingWith(t testing.TB, client *http.Client, endpoint string) *Polling {
	t.Helper()
	c := &Polling{t: t, base: endpoint + "?EIO=4&transport=polling", http: client}
	body := c.get(c.base)
	if !strings.HasPrefix(body, `0{"sid":"`) {
		t.Fatalf("polling handshake: %q", body)
	}
	c.SID = body[9:29]
	c.base += "&sid=" + c.SID
	return c
}

func (c *Polling) get(u string) string {
	c.t.Helper()
	resp, err := c.http.Get(u)
	if err != nil {
		c.t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// Post sends packets in one payload.
func (c *Polling) Post(packets ...string) {
	c.t.Helper()
	resp, err := c.http.Post(c.base, "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		c.t.Fatalf("POST: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		c.t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
}

// Poll waits for the next payload and returns its packets.
func (c *Polling) Poll() ([]string, error) {
	resp, err := c.http.Get(c.base)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("poll: %d %s", resp.StatusCode, b)
	}
	return strings.Split(string(b), "\x1e"), nil
}

// Certificate writes a self-signed certificate for 127.0.0.1, ::1 and localhost, valid for a day, and its
// private key as PEM files in a temporary directory of the test. It returns the files and a pool of roots that
// trusts the certificate.
func Certificate(t testing.TB) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	c, err := selfsigned.New(24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c.Roots
}
