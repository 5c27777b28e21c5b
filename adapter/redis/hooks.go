package redisadapter

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fastio/fastio/server"
)

// newServerSideEvent builds the event given to Namespace.DispatchServerSide, with its acknowledgement.
func newServerSideEvent(name string, args *server.Args, ack func(args ...any)) *server.ServerSideEvent {
	return server.NewServerSideEvent(name, args, ack)
}

// newRemoteHandshake builds the handshake of a socket of another node from what that node reported: header
// names are canonicalized (Node reports them in lower case), values that could not have been sent in a header
// are dropped, and the query is read from the URL.
func newRemoteHandshake(t time.Time, address string, secure bool, rawURL string, auth server.RawJSON, headers map[string][]string) *server.Handshake {
	h := make(http.Header, len(headers))
	for k, vs := range headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			continue
		}
		for _, v := range vs {
			if !strings.ContainsAny(v, "\r\n\x00") {
				h.Add(k, v)
			}
		}
	}
	query := url.Values{}
	if u, err := url.Parse(rawURL); err == nil {
		query = u.Query()
	}
	return server.NewRemoteHandshake(t, address, secure, rawURL, auth, h, query)
}
