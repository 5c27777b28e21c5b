package redisadapter_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/redis/go-redis/v9"

	redisadapter "github.com/fastio/fastio/adapter/redis"
	"github.com/fastio/fastio/server"
)

// A fastio server in a cluster: the Redis adapter for every namespace.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	redis.SetLogger(redisadapter.RedisLogger(slog.Default()))

	node := redisadapter.New(ctx, rdb, redisadapter.Options{})
	defer node.Close()
	io, err := server.New(server.Options{Addr: ":3000", Adapter: node.Adapter})
	if err != nil {
		log.Fatal(err)
	}
	io.OnConnection(func(s *server.Socket) {
		_ = io.Except(s.ID()).Emit("joined", s.ID()) // to the sockets of every node
	})
	io.Of("/").OnServerSide("ping", func(e *server.ServerSideEvent) { e.Ack("pong") })
	_ = io.Serve(ctx)
}
