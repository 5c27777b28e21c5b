// Package redisadapter is the Redis cluster adapter of fastio: it makes the servers of a cluster one Socket.IO
// server, over Redis Pub/Sub, in the protocol of the Node.js @socket.io/redis-adapter 8.x, so that fastio nodes,
// Node.js socket.io 4.x nodes (with createAdapter from @socket.io/redis-adapter) and emitters
// (@socket.io/redis-emitter 5.x, or package emitter) share one cluster. With Options.Sharded it speaks the
// protocol of createShardedAdapter instead (Redis 7 sharded Pub/Sub).
//
// A Node is this server's membership of the cluster; its Adapter method is the server.AdapterFactory:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	redis.SetLogger(redisadapter.RedisLogger(logger)) // optional: go-redis's own logs at debug level
//	node := redisadapter.New(ctx, rdb, redisadapter.Options{Logger: logger})
//	defer node.Close() // before rdb.Close()
//	io, err := server.New(server.Options{Addr: ":3000", Adapter: node.Adapter})
//
// Broadcasts (Emit, To, Except, Volatile, acknowledgements with Timeout), FetchSockets, SocketsJoin,
// SocketsLeave, DisconnectSockets and ServerSideEmit (with acknowledgements) then reach every node, and
// ns.Adapter().(*redisadapter.Adapter).AllRooms lists the rooms of every node. Local delivery is the in-memory
// adapter's: an event from another node is decoded once, encoded once on this node and fanned out to its
// sockets. Flags.Local keeps a broadcast on this node. Key order and binary values survive the trip both ways.
//
// Redis outages: publishing and subscribing fail and are logged (once per outage) and counted (Stats), local
// delivery carries on, the subscriber reconnects and subscribes again by itself, and requests that need answers
// (FetchSockets, ServerSideEmit with acknowledgement, broadcasts with acknowledgements) end with an error once
// their timeout passed. Messages published while Redis is away are lost, as with the Node.js adapter.
package redisadapter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fastio/fastio/adapter/redis/wire"
	"github.com/fastio/fastio/server"
)

// Options configures a Node. The zero value of each field means the Node.js adapter's default.
type Options struct {
	// Key is the prefix of the channels. Default "socket.io".
	Key string
	// RequestsTimeout bounds the wait for the answers of the other nodes (FetchSockets, AllRooms, ServerSideEmit
	// acknowledgements without a timeout of their own). Default 5s.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel publishes the answers to a request on the requester's own response
	// channel (<key>-response#<nsp>#<uid>#) instead of the namespace's. Every node listens on both.
	PublishOnSpecificResponseChannel bool
	// PublishQueue is the number of messages that may wait to be published; when it is full (Redis slow or
	// away), messages are dropped and counted. Default 16384.
	PublishQueue int
	// Logger receives the adapter's logs. Default slog.Default().
	Logger *slog.Logger

	// Sharded speaks the protocol of the Node.js createShardedAdapter instead (Redis 7 sharded Pub/Sub:
	// SSUBSCRIBE, SPUBLISH, SHARDNUMSUB), for clusters whose Node.js nodes use it: every node of a cluster must
	// use the same protocol. Key is then its channelPrefix. It needs a standalone Redis 7 or later (a
	// *redis.ClusterClient is not supported in this mode yet).
	Sharded bool
	// SubscriptionMode is the sharded adapter's subscriptionMode: SubscriptionDynamic (default: a channel of
	// its own for each room but the sockets' own rooms, subscribed while the room has local members),
	// SubscriptionStatic (one channel per namespace) or SubscriptionDynamicPrivate (a channel for every room).
	SubscriptionMode string
}

// The subscription modes of the sharded adapter.
const (
	SubscriptionStatic         = "static"
	SubscriptionDynamic        = "dynamic"
	SubscriptionDynamicPrivate = "dynamic-private"
)

// Stats are counters of a Node, since it started.
type Stats struct {
	Published        uint64 // messages published
	PublishErrors    uint64 // messages that failed to publish (Redis unreachable)
	Dropped          uint64 // messages dropped because the publish queue was full
	Received         uint64 // messages received
	DecodeErrors     uint64 // messages received that did not decode
	SubscriberErrors uint64 // losses of the subscriber connection
	RequestTimeouts  uint64 // requests that ended without every answer
}

// Node is this server's membership of the cluster: one subscriber connection, shared by the namespaces, and a
// publisher.
type Node struct {
	client redis.UniversalClient
	opts   Options
	log    *slog.Logger
	uid    string
	ctx    context.Context
	cancel context.CancelFunc

	ps *redis.PubSub

	mu         sync.RWMutex
	byPattern  map[string]*Adapter
	byChannel  map[string]route
	closed     bool
	closeOnce  sync.Once
	pubq       chan outMsg
	loopsDone  sync.WaitGroup
	pubHealthy atomic.Bool

	published, publishErrors, dropped, received, decodeErrors, subscriberErrors, requestTimeouts atomic.Uint64
	lastDropLog                                                                                  atomic.Int64
}

type route struct {
	a        *Adapter
	s        *ShardedAdapter
	response bool
}

type outMsg struct {
	channel string
	payload []byte
	sharded bool
}

// ErrClosed is returned by the operations of a closed Node.
var ErrClosed = errors.New("redisadapter: closed")

// New joins the cluster through client, which the Node uses but does not own (close it after the Node). The
// Node runs until ctx ends or Close is called. It does not wait for Redis: when Redis is unreachable, it keeps
// trying in the background.
func New(ctx context.Context, client redis.UniversalClient, opts Options) *Node {
	if opts.Key == "" {
		opts.Key = wire.DefaultKey
	}
	if opts.RequestsTimeout <= 0 {
		opts.RequestsTimeout = 5 * time.Second
	}
	if opts.PublishQueue <= 0 {
		opts.PublishQueue = 16384
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SubscriptionMode == "" {
		opts.SubscriptionMode = SubscriptionDynamic
	}
	n := &Node{
		client:    client,
		opts:      opts,
		uid:       randomID(10),
		byPattern: make(map[string]*Adapter),
		byChannel: make(map[string]route),
		pubq:      make(chan outMsg, opts.PublishQueue),
	}
	n.log = opts.Logger.With("component", "redisadapter", "uid", n.uid)
	n.ctx, n.cancel = context.WithCancel(ctx)
	if opts.Sharded {
		if _, ok := client.(*redis.ClusterClient); ok {
			n.log.Error("the sharded protocol is not supported on a Redis Cluster client yet: subscriptions will fail")
		}
		n.ps = client.SSubscribe(n.ctx)
	} else {
		n.ps = client.Subscribe(n.ctx)
	}
	n.pubHealthy.Store(true)
	n.loopsDone.Add(2)
	go n.receive()
	go n.publisher()
	context.AfterFunc(n.ctx, func() { _ = n.Close() })
	return n
}

// UID returns the node's id in the cluster, as written in its messages.
func (n *Node) UID() string { return n.uid }

// Adapter creates the adapter of a namespace: Node.Adapter is a server.AdapterFactory. It is an *Adapter, or a
// *ShardedAdapter with Options.Sharded.
func (n *Node) Adapter(nsp *server.Namespace) server.Adapter {
	if n.opts.Sharded {
		return newShardedAdapter(n, nsp)
	}
	return newAdapter(n, nsp)
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{
		Published:        n.published.Load(),
		PublishErrors:    n.publishErrors.Load(),
		Dropped:          n.dropped.Load(),
		Received:         n.received.Load(),
		DecodeErrors:     n.decodeErrors.Load(),
		SubscriberErrors: n.subscriberErrors.Load(),
		RequestTimeouts:  n.requestTimeouts.Load(),
	}
}

// Close leaves the cluster: the subscriptions end, the messages waiting are published (for up to a second),
// and the adapters' pending requests fail. The Redis client is left open.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		var adapters []*core
		for _, a := range n.byPattern {
			adapters = append(adapters, &a.core)
		}
		for _, r := range n.byChannel {
			if r.s != nil {
				adapters = append(adapters, &r.s.core)
			}
		}
		close(n.pubq) // under the lock: publish checks closed under the read lock before sending
		n.mu.Unlock()
		for _, c := range adapters {
			c.failPending(ErrClosed)
		}
		done := make(chan struct{})
		go func() { n.loopsDone.Wait(); close(done) }()
		_ = n.ps.Close()
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		n.cancel()
		<-done
	})
	return nil
}

func (n *Node) isClosed() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.closed
}

// register subscribes to the channels of a namespace.
func (n *Node) register(a *Adapter) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.byPattern[a.pattern] = a
	n.byChannel[a.ch.Request] = route{a: a}
	n.byChannel[a.ch.Response] = route{a: a, response: true}
	n.byChannel[a.specific] = route{a: a, response: true}
	n.mu.Unlock()
	// The subscriptions are recorded even when Redis is unreachable, and made again on every reconnection.
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	if err := n.ps.PSubscribe(ctx, a.pattern); err != nil && !n.isClosed() {
		n.log.Warn("redis subscribe failed, will retry on reconnection", "nsp", a.nsp.Name(), "err", err)
	}
	if err := n.ps.Subscribe(ctx, a.ch.Request, a.ch.Response, a.specific); err != nil && !n.isClosed() {
		n.log.Warn("redis subscribe failed, will retry on reconnection", "nsp", a.nsp.Name(), "err", err)
	}
}

// sSubscribe subscribes to shard channels of a namespace, and routes them to s.
func (n *Node) sSubscribe(s *ShardedAdapter, channels ...string) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	for _, ch := range channels {
		n.byChannel[ch] = route{s: s}
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	if err := n.ps.SSubscribe(ctx, channels...); err != nil && !n.isClosed() {
		n.log.Warn("redis subscribe failed, will retry on reconnection", "nsp", s.nsp.Name(), "err", err)
	}
}

func (n *Node) sUnsubscribe(s *ShardedAdapter, channels ...string) {
	n.mu.Lock()
	for _, ch := range channels {
		if n.byChannel[ch].s == s {
			delete(n.byChannel, ch)
		}
	}
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	_ = n.ps.SUnsubscribe(ctx, channels...)
}

func (n *Node) unregister(a *Adapter) {
	n.mu.Lock()
	if n.byPattern[a.pattern] == a {
		delete(n.byPattern, a.pattern)
		delete(n.byChannel, a.ch.Request)
		delete(n.byChannel, a.ch.Response)
		delete(n.byChannel, a.specific)
	}
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	_ = n.ps.PUnsubscribe(ctx, a.pattern)
	_ = n.ps.Unsubscribe(ctx, a.ch.Request, a.ch.Response, a.specific)
}

// receive reads the subscriber connection until the node closes. go-redis reconnects and subscribes again after
// an error; this loop logs the outage, backs off, and checks an idle connection with a PING.
func (n *Node) receive() {
	defer n.loopsDone.Done()
	healthy := true
	backoff := 50 * time.Millisecond
	for {
		msg, err := n.ps.ReceiveTimeout(n.ctx, 15*time.Second)
		if n.ctx.Err() != nil || n.isClosed() {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if perr := n.ps.Ping(n.ctx); perr == nil {
					continue
				} else {
					err = perr
				}
			}
			if healthy {
				healthy = false
				n.subscriberErrors.Add(1)
				n.log.Warn("redis subscriber connection lost; cross-node delivery paused, reconnecting", "err", err)
			}
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		if !healthy {
			healthy = true
			n.log.Info("redis subscriber reconnected; cross-node delivery resumed")
		}
		backoff = 50 * time.Millisecond
		if m, ok := msg.(*redis.Message); ok {
			n.dispatch(m)
		}
	}
}

func (n *Node) dispatch(m *redis.Message) {
	n.received.Add(1)
	n.mu.RLock()
	var a *Adapter
	var r route
	if m.Pattern != "" {
		a = n.byPattern[m.Pattern]
	} else {
		r = n.byChannel[m.Channel]
		a = r.a
	}
	n.mu.RUnlock()
	if r.s != nil {
		r.s.onMessage([]byte(m.Payload))
		return
	}
	if a == nil {
		return
	}
	payload := []byte(m.Payload)
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, payload)
	case r.response:
		a.onResponse(payload)
	default:
		a.onRequest(payload)
	}
}

// publish queues a message; it never blocks: when the queue is full, the message is dropped and counted.
func (n *Node) publish(channel string, payload []byte) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		n.dropped.Add(1)
		return
	}
	select {
	case n.pubq <- outMsg{channel, payload, n.opts.Sharded}:
	default:
		n.dropped.Add(1)
		now := time.Now().Unix()
		if last := n.lastDropLog.Load(); now > last && n.lastDropLog.CompareAndSwap(last, now) {
			n.log.Warn("redis publish queue full, dropping messages", "dropped", n.dropped.Load())
		}
	}
}

// publisher publishes the queued messages in order, pipelining what accumulated while the previous batch was
// in flight.
func (n *Node) publisher() {
	defer n.loopsDone.Done()
	const maxBatch = 256
	batch := make([]outMsg, 0, maxBatch)
	for m := range n.pubq {
		batch = append(batch[:0], m)
	fill:
		for len(batch) < maxBatch {
			select {
			case m, ok := <-n.pubq:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		n.flush(batch)
		clear(batch)
	}
}

func (n *Node) flush(batch []outMsg) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	var err error
	switch {
	case len(batch) == 1 && batch[0].sharded:
		err = n.client.SPublish(ctx, batch[0].channel, batch[0].payload).Err()
	case len(batch) == 1:
		err = n.client.Publish(ctx, batch[0].channel, batch[0].payload).Err()
	default:
		_, err = n.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range batch {
				if m.sharded {
					p.SPublish(ctx, m.channel, m.payload)
				} else {
					p.Publish(ctx, m.channel, m.payload)
				}
			}
			return nil
		})
	}
	if err != nil {
		n.publishErrors.Add(uint64(len(batch)))
		if n.pubHealthy.CompareAndSwap(true, false) {
			n.log.Warn("redis publish failed; local delivery carries on", "err", err, "messages", len(batch))
		}
		return
	}
	n.published.Add(uint64(len(batch)))
	if n.pubHealthy.CompareAndSwap(false, true) {
		n.log.Info("redis publish works again")
	}
}

// numSub returns the number of subscribers of a channel (shard channel in the sharded protocol), over every
// master of a Redis Cluster.
func (n *Node) numSub(channel string) (int, error) {
	ctx, cancel := context.WithTimeout(n.ctx, min(n.opts.RequestsTimeout, 2*time.Second))
	defer cancel()
	count := func(c redis.Cmdable) *redis.MapStringIntCmd {
		if n.opts.Sharded {
			return c.PubSubShardNumSub(ctx, channel)
		}
		return c.PubSubNumSub(ctx, channel)
	}
	if cc, ok := n.client.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			res, err := count(c).Result()
			total.Add(res[channel])
			return err
		})
		return int(total.Load()), err
	}
	res, err := count(n.client).Result()
	if err != nil {
		return 0, err
	}
	return int(res[channel]), nil
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns n random alphanumeric characters (the Node.js adapter uses uid2(6)).
func randomID(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(idChars)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = idChars[v.Int64()]
	}
	return string(b)
}

// RedisLogger routes go-redis's own logs (dial failures while Redis is away, for instance) to l at debug level:
// the Node already logs outages once, at warning level. Install it with redis.SetLogger(RedisLogger(l)).
func RedisLogger(l *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{l}
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// Dial connects to the Redis server at rawURL (redis://[user:password@]host:port[/db], or rediss:// for TLS)
// and starts a node on it. Close the returned function's resources with the returned closer: it closes the
// node, then the client.
func Dial(ctx context.Context, rawURL string, opts Options) (*Node, func() error, error) {
	ro, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redisadapter: parse %q: %w", rawURL, err)
	}
	client := redis.NewClient(ro)
	node := New(ctx, client, opts)
	return node, func() error {
		err := node.Close()
		if cerr := client.Close(); err == nil {
			err = cerr
		}
		return err
	}, nil
}
