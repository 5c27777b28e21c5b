package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/fastio/fastio/internal/app/apptest"
)

func sign(secret []byte, payload string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(h + "." + p))
	return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestJWTMiddleware(t *testing.T) {
	secret := []byte("s3cret")
	srv, err := newServer("127.0.0.1:0", secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	<-srv.Engine().Ready()
	defer func() { cancel(); <-done }()
	addr := srv.Engine().Addr().String()
	future := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	past := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)

	cases := []struct{ name, token, want string }{
		{"valid", sign(secret, `{"sub":"ann","exp":`+future+`}`), `42/secure,["welcome","ann"]`},
		{"wrong key", sign([]byte("other"), `{"sub":"ann"}`), `44/secure,{"message":"unauthorized","data":{"reason":"invalid token"}}`},
		{"expired", sign(secret, `{"sub":"ann","exp":`+past+`}`), `44/secure,{"message":"unauthorized","data":{"reason":"token expired"}}`},
		{"garbage", "not.a.jwt", `44/secure,{"message":"unauthorized","data":{"reason":"invalid token"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := apptest.DialWS(t, addr, "/socket.io/", nil)
			c.Send(`40/secure,{"token":"` + tc.token + `"}`)
			got := c.MustRead()
			if tc.name == "valid" {
				got = c.MustRead() // the CONNECT answer came first
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
