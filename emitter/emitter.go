// Package emitter sends events to the Socket.IO servers of a Redis cluster from a process that is not one of
// them: the Go equivalent of the Node.js @socket.io/redis-emitter 5.x, speaking the same protocol, so that its
// events reach the clients of fastio nodes (redisadapter) and of Node.js socket.io nodes
// (@socket.io/redis-adapter) alike.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	e := emitter.New(rdb, emitter.Options{})
//	err := e.To("room1").Except("room2").Emit(ctx, "news", map[string]any{"title": "hello"})
//	err = e.Of("/admin").Emit(ctx, "update", 1, []byte{2})  // []byte: a binary attachment
//	err = e.In("room1").SocketsJoin(ctx, "room2")
//	err = e.ServerSideEmit(ctx, "reload")                     // to the servers' OnServerSide handlers
//
// Arguments are encoded as the server package encodes them (a []byte is binary, a struct or map goes through its
// JSON form, sio.RawJSON is taken as is), so a client gets what it would get from a server's Emit. As with the
// Node.js emitter, there are no acknowledgements, and an event published while no server listens is lost.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/fastio/fastio/adapter/redis/wire"
	"github.com/fastio/fastio/codec/sio"
)

// Options configures an Emitter.
type Options struct {
	// Key is the prefix of the channels, as the key option of the adapters. Default "socket.io".
	Key string
}

// Emitter publishes to the namespace it was made for ("/" for New).
type Emitter struct {
	client redis.UniversalClient
	key    string
	nsp    string
	ch     wire.Channels
}

// ErrReservedEvent is returned for the event names the Socket.IO client reserves (connect, disconnect...).
var ErrReservedEvent = errors.New("emitter: reserved event name")

// New returns an emitter of the main namespace that publishes through client.
func New(client redis.UniversalClient, opts Options) *Emitter {
	key := opts.Key
	if key == "" {
		key = wire.DefaultKey
	}
	return &Emitter{client: client, key: key, nsp: "/", ch: wire.ChannelsFor(key, "/")}
}

// Of returns an emitter of namespace nsp ("/" is added in front when missing).
func (e *Emitter) Of(nsp string) *Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return &Emitter{client: e.client, key: e.key, nsp: nsp, ch: wire.ChannelsFor(e.key, nsp)}
}

// Namespace returns the emitter's namespace.
func (e *Emitter) Namespace() string { return e.nsp }

func (e *Emitter) operator() *BroadcastOperator { return &BroadcastOperator{e: e} }

// Emit sends an event to every socket of the namespace.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	return e.operator().Emit(ctx, event, args...)
}

// To targets the sockets in any of rooms.
func (e *Emitter) To(rooms ...string) *BroadcastOperator { return e.operator().To(rooms...) }

// In is an alias of To.
func (e *Emitter) In(rooms ...string) *BroadcastOperator { return e.operator().To(rooms...) }

// Except excludes the sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *BroadcastOperator { return e.operator().Except(rooms...) }

// Volatile lets the servers drop the event for clients that are not ready to receive it.
func (e *Emitter) Volatile() *BroadcastOperator { return e.operator().Volatile() }

// Compress sets the compress flag.
func (e *Emitter) Compress(compress bool) *BroadcastOperator { return e.operator().Compress(compress) }

// SocketsJoin makes every socket of the namespace join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.operator().SocketsLeave(ctx, rooms...)
}

// DisconnectSockets disconnects every socket of the namespace; close also closes their connections.
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.operator().DisconnectSockets(ctx, close)
}

// ServerSideEmit sends an event to the OnServerSide handlers of every server of the namespace. Binary arguments
// travel as JSON.stringify writes a Buffer, as with the Node.js emitter.
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, err := sio.AppendJSON(nil, append([]any{event}, args...))
	if err != nil {
		return err
	}
	msg := wire.AppendServerSideEmitRequest(nil, wire.EmitterUID, "", data)
	return e.client.Publish(ctx, e.ch.Request, msg).Err()
}

// BroadcastOperator is a broadcast being set up. Each method that narrows it returns a new operator.
type BroadcastOperator struct {
	e      *Emitter
	rooms  []string
	except []string
	flags  wire.Flags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = slices.Clone(b.rooms)
	c.except = slices.Clone(b.except)
	return &c
}

// To targets the sockets in any of rooms (added to those already targeted).
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	for _, r := range rooms {
		if !slices.Contains(c.rooms, r) {
			c.rooms = append(c.rooms, r)
		}
	}
	return c
}

// In is an alias of To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in any of rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	for _, r := range rooms {
		if !slices.Contains(c.except, r) {
			c.except = append(c.except, r)
		}
	}
	return c
}

// Volatile lets the servers drop the event for clients that are not ready to receive it.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Compress sets the compress flag.
func (b *BroadcastOperator) Compress(compress bool) *BroadcastOperator {
	c := b.clone()
	c.flags.Compress = &compress
	return c
}

func (b *BroadcastOperator) opts() wire.Opts {
	return wire.Opts{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

var encoders = sync.Pool{New: func() any { return new(sio.Encoder) }}

// Emit sends an event to the selected sockets.
func (b *BroadcastOperator) Emit(ctx context.Context, event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	enc := encoders.Get().(*sio.Encoder)
	data, err := wire.EncodeEvent(nil, enc, event, args)
	encoders.Put(enc)
	if err != nil {
		return err
	}
	msg := wire.AppendBroadcast(nil, wire.EmitterUID, b.e.nsp, data, b.opts())
	return b.e.client.Publish(ctx, b.e.ch.BroadcastChannel(b.rooms), msg).Err()
}

// SocketsJoin makes the selected sockets join rooms.
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	msg := wire.AppendJoinRequest(nil, "", wire.TypeRemoteJoin, b.opts(), rooms)
	return b.e.client.Publish(ctx, b.e.ch.Request, msg).Err()
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	msg := wire.AppendJoinRequest(nil, "", wire.TypeRemoteLeave, b.opts(), rooms)
	return b.e.client.Publish(ctx, b.e.ch.Request, msg).Err()
}

// DisconnectSockets disconnects the selected sockets; close also closes their connections.
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	msg := wire.AppendDisconnectRequest(nil, "", b.opts(), close)
	return b.e.client.Publish(ctx, b.e.ch.Request, msg).Err()
}
