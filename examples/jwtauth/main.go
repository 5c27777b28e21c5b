// Command jwtauth guards a namespace with a middleware that checks a JWT (HS256) sent in the CONNECT auth
// payload: {"token": "<jwt>"}. A refused client gets a connect_error with the reason in its data; an accepted
// one keeps its claims in the socket's Data.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fastio/fastio/server"
)

func main() {
	addr := flag.String("addr", ":3000", "listen address")
	flag.Parse()
	secret := []byte(os.Getenv("JWT_SECRET"))
	if len(secret) == 0 {
		log.Fatal("set JWT_SECRET")
	}
	io, err := newServer(*addr, secret)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Fatal(io.Serve(ctx))
}

// Claims are the token's claims this server uses.
type Claims struct {
	Subject string `json:"sub"`
	Expires int64  `json:"exp"`
}

var errToken = errors.New("invalid token")

// verify checks an HS256 JWT and returns its claims.
func verify(token string, secret []byte, now time.Time) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errToken
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errToken
	}
	var h struct{ Alg string }
	if json.Unmarshal(header, &h) != nil || h.Alg != "HS256" {
		return nil, errToken
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errToken
	}
	var c Claims
	if json.Unmarshal(payload, &c) != nil || c.Subject == "" {
		return nil, errToken
	}
	if c.Expires != 0 && now.Unix() >= c.Expires {
		return nil, errors.New("token expired")
	}
	return &c, nil
}

func newServer(addr string, secret []byte) (*server.Server, error) {
	io, err := server.New(server.Options{Addr: addr})
	if err != nil {
		return nil, err
	}
	secure := io.Of("/secure")
	secure.Use(func(s *server.Socket) error {
		var auth struct{ Token string }
		_ = s.Handshake().DecodeAuth(&auth)
		claims, err := verify(auth.Token, secret, time.Now())
		if err != nil {
			return &server.ConnectError{Message: "unauthorized", Data: map[string]any{"reason": err.Error()}}
		}
		s.SetData(claims)
		return nil
	})
	secure.OnConnection(func(s *server.Socket) {
		_ = s.Emit("welcome", s.Data().(*Claims).Subject)
	})
	return io, nil
}
