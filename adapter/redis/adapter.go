package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastio/fastio/adapter/redis/wire"
	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/server"
)

// ErrTimeout is returned (wrapped, with the number of answers) when some nodes did not answer a request in time.
var ErrTimeout = errors.New("redisadapter: timeout reached while waiting for responses")

// Adapter is the adapter of one namespace: the in-memory adapter for this node's sockets, and Redis for the
// others (the protocol of the Node.js createAdapter). It implements server.Adapter; ns.Adapter().(*Adapter)
// gives access to AllRooms.
type Adapter struct {
	core
	ch       wire.Channels
	pattern  string
	specific string
}

// core is what both protocols share: local state, pending requests, tasks.
type core struct {
	node  *Node
	nsp   *server.Namespace
	inner server.Adapter
	log   *slog.Logger

	// roomCount counts the local members of each room but the sockets' own rooms, to skip the messages of
	// rooms without local members before decoding them (as the Node.js adapter does), and to subscribe to the
	// rooms' channels in the sharded adapter's dynamic modes. roomChanged, when set, is called (under roomsMu)
	// when a room gets its first local member or loses its last; with privateRooms, for the sockets' own rooms
	// too.
	roomsMu      sync.RWMutex
	roomCount    map[string]int
	roomChanged  func(room string, present bool)
	privateRooms bool

	reqMu    sync.Mutex
	requests map[string]*request
	acks     map[string]*ackRequest

	subMu  sync.Mutex // orders subscription and Close
	closed bool

	tasks        taskQueue
	lastCount    atomic.Int64
	countChannel string // the channel whose subscribers are the nodes
}

type request struct {
	id     string
	typ    wire.RequestType
	numSub int
	done   chan struct{}

	mu        sync.Mutex
	msgCount  int
	finished  bool
	err       error
	sockets   []*server.RemoteSocket
	names     []string // rooms (ALL_ROOMS)
	responses []*server.Args
}

type ackRequest struct {
	onCount func(int)
	onAck   func(*server.Args)
}

var encoders = sync.Pool{New: func() any { return new(sio.Encoder) }}

func newCore(n *Node, nsp *server.Namespace) core {
	return core{
		node:      n,
		nsp:       nsp,
		inner:     server.NewMemoryAdapter(nsp),
		log:       n.log.With("nsp", nsp.Name()),
		roomCount: make(map[string]int),
		requests:  make(map[string]*request),
		acks:      make(map[string]*ackRequest),
	}
}

func (c *core) init() {
	c.tasks.onPanic = func(v any) { c.log.Error("cluster task panicked", "panic", v) }
	c.lastCount.Store(1)
}

func newAdapter(n *Node, nsp *server.Namespace) *Adapter {
	ch := wire.ChannelsFor(n.opts.Key, nsp.Name())
	a := &Adapter{core: newCore(n, nsp), ch: ch, pattern: ch.Pattern(), specific: ch.SpecificResponse(n.uid)}
	a.countChannel = ch.Request
	a.init()
	// Subscribing waits for Redis, and the server creates namespaces under its lock: subscribe in the
	// background (a node that just started misses what was published before its subscription, as in Node.js).
	a.subMu.Lock()
	go func() {
		defer a.subMu.Unlock()
		n.register(a)
	}()
	return a
}

// Local state: the in-memory adapter, with the count of room members kept alongside.

// AddAll adds a local socket to rooms.
func (c *core) AddAll(id string, rooms []string) {
	if len(rooms) == 1 && rooms[0] == id { // a socket's own room, on connection: nothing to count
		c.inner.AddAll(id, rooms)
		if c.privateRooms && c.roomChanged != nil {
			c.roomsMu.Lock()
			c.roomChanged(id, true)
			c.roomsMu.Unlock()
		}
		return
	}
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	before := c.inner.SocketRooms(id)
	c.inner.AddAll(id, rooms)
	for i, r := range rooms {
		if r != id && !slices.Contains(before, r) && !slices.Contains(rooms[:i], r) {
			c.roomCount[r]++
			if c.roomCount[r] == 1 && c.roomChanged != nil {
				c.roomChanged(r, true)
			}
		}
	}
	if c.privateRooms && c.roomChanged != nil && slices.Contains(rooms, id) { // a recovered socket connecting
		c.roomChanged(id, true)
	}
}

// Del removes a local socket from a room.
func (c *core) Del(id, room string) {
	if room == id {
		c.inner.Del(id, room)
		return
	}
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	before := c.inner.SocketRooms(id)
	c.inner.Del(id, room)
	if slices.Contains(before, room) {
		c.uncountLocked(room)
	}
}

// DelAll removes a local socket from all its rooms.
func (c *core) DelAll(id string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	before := c.inner.SocketRooms(id)
	c.inner.DelAll(id)
	for _, r := range before {
		if r != id {
			c.uncountLocked(r)
		}
	}
	if c.privateRooms && c.roomChanged != nil && len(before) > 0 {
		c.roomChanged(id, false)
	}
}

func (c *core) uncountLocked(room string) {
	if n := c.roomCount[room]; n <= 1 {
		delete(c.roomCount, room)
		if c.roomChanged != nil {
			c.roomChanged(room, false)
		}
	} else {
		c.roomCount[room] = n - 1
	}
}

// hasRoom reports whether a room may have local members.
func (c *core) hasRoom(room string) bool {
	if c.nsp.Socket(room) != nil {
		return true
	}
	c.roomsMu.RLock()
	defer c.roomsMu.RUnlock()
	return c.roomCount[room] > 0
}

// SocketRooms returns the rooms of a local socket.
func (c *core) SocketRooms(id string) []string { return c.inner.SocketRooms(id) }

// Rooms returns the local rooms (AllRooms asks every node).
func (c *core) Rooms() []string { return c.inner.Rooms() }

// PersistSession keeps a disconnected socket's state, on this node (as the Node.js Redis adapter, which does
// not share sessions either).
func (c *core) PersistSession(st *server.SessionState) { c.inner.PersistSession(st) }

// RestoreSession restores a session kept on this node.
func (c *core) RestoreSession(pid, offset string) (*server.SessionState, error) {
	return c.inner.RestoreSession(pid, offset)
}

// Cluster operations.

func toWire(opts server.BroadcastOptions) wire.Opts {
	return wire.Opts{
		Rooms:  opts.Rooms,
		Except: opts.Except,
		Flags:  wire.Flags{Volatile: opts.Flags.Volatile, Timeout: opts.Flags.Timeout},
	}
}

func fromWire(o wire.Opts) server.BroadcastOptions {
	return server.BroadcastOptions{Rooms: o.Rooms, Except: o.Except, Flags: server.BroadcastFlags{Volatile: o.Flags.Volatile}}
}

// localOnly reports whether a selection can only hold sockets of this node: every room targeted is the own room
// of one of its sockets (as with a socket's Emit under connection state recovery, or RemoteSocket.Join).
func (c *core) localOnly(opts server.BroadcastOptions) bool {
	if opts.Flags.Local {
		return true
	}
	if len(opts.Rooms) == 0 {
		return false
	}
	for _, r := range opts.Rooms {
		if c.nsp.Socket(r) == nil {
			return false
		}
	}
	return true
}

func (c *core) encodeEvent(p *server.OutPacket) ([]byte, error) {
	enc := encoders.Get().(*sio.Encoder)
	defer encoders.Put(enc)
	return wire.EncodeEvent(nil, enc, p.Event, p.Args)
}

// Broadcast publishes the event for the other nodes, then sends it to the local sockets.
func (a *Adapter) Broadcast(p *server.OutPacket, opts server.BroadcastOptions) error {
	if !a.localOnly(opts) {
		data, err := a.encodeEvent(p)
		if err != nil {
			return err
		}
		msg := wire.AppendBroadcast(make([]byte, 0, len(data)+64), a.node.uid, a.nsp.Name(), data, toWire(opts))
		a.node.publish(a.ch.BroadcastChannel(opts.Rooms), msg)
	}
	return a.inner.Broadcast(p, opts)
}

// BroadcastWithAck publishes a BROADCAST request, whose answers (one client count per node, then the clients'
// acknowledgements) come back on the response channel, then sends the event to the local sockets.
func (a *Adapter) BroadcastWithAck(p *server.OutPacket, opts server.BroadcastOptions, onCount func(int), onAck func(*server.Args)) error {
	// Published even to a local socket's own room: the server waits for a client count from every node.
	if !opts.Flags.Local {
		data, err := a.encodeEvent(p)
		if err != nil {
			return err
		}
		id := a.registerAck(opts.Flags.Timeout, onCount, onAck)
		a.node.publish(a.ch.Request, wire.AppendBroadcastRequest(nil, a.node.uid, id, a.nsp.Name(), data, toWire(opts)))
	}
	return a.inner.BroadcastWithAck(p, opts, onCount, onAck)
}

// FetchSockets returns the selected sockets of every node: those of the other nodes are server.RemoteSockets
// whose Data is a sio.RawJSON (the JSON the owning node sent) and whose Handshake carries the headers, query,
// auth, address, URL and time of their connection. On a timeout, the sockets that arrived are returned with an
// error wrapping ErrTimeout.
func (a *Adapter) FetchSockets(opts server.BroadcastOptions) ([]*server.RemoteSocket, error) {
	return a.fetchSockets(opts, func(id string) {
		a.node.publish(a.ch.Request, wire.AppendFetchRequest(nil, a.node.uid, id, toWire(opts)))
	})
}

// AllRooms returns the rooms of every node (each socket's own room included, as in Node.js).
func (a *Adapter) AllRooms(ctx context.Context) ([]string, error) {
	local := a.inner.Rooms()
	numSub := a.requestCount()
	if numSub <= 1 {
		return local, nil
	}
	r := a.newRequest(wire.TypeAllRooms, numSub)
	r.mu.Lock()
	r.names = local
	r.mu.Unlock()
	a.node.publish(a.ch.Request, wire.AppendAllRoomsRequest(nil, a.node.uid, r.id))
	err := a.waitCtx(ctx, r, a.node.opts.RequestsTimeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]struct{}, len(r.names))
	out := make([]string, 0, len(r.names))
	for _, name := range r.names {
		if _, dup := seen[name]; !dup {
			seen[name] = struct{}{}
			out = append(out, name)
		}
	}
	return out, err
}

// AddSockets makes the selected sockets of every node join rooms.
func (a *Adapter) AddSockets(opts server.BroadcastOptions, rooms []string) {
	a.inner.AddSockets(opts, rooms)
	if !a.localOnly(opts) && len(rooms) > 0 {
		a.node.publish(a.ch.Request, wire.AppendJoinRequest(nil, a.node.uid, wire.TypeRemoteJoin, toWire(opts), rooms))
	}
}

// DelSockets makes the selected sockets of every node leave rooms.
func (a *Adapter) DelSockets(opts server.BroadcastOptions, rooms []string) {
	a.inner.DelSockets(opts, rooms)
	if !a.localOnly(opts) && len(rooms) > 0 {
		a.node.publish(a.ch.Request, wire.AppendJoinRequest(nil, a.node.uid, wire.TypeRemoteLeave, toWire(opts), rooms))
	}
}

// DisconnectSockets disconnects the selected sockets of every node.
func (a *Adapter) DisconnectSockets(opts server.BroadcastOptions, close bool) {
	if !a.localOnly(opts) {
		a.node.publish(a.ch.Request, wire.AppendDisconnectRequest(nil, a.node.uid, toWire(opts), close))
	}
	a.inner.DisconnectSockets(opts, close)
}

// ServerSideEmit sends an event to the other nodes. With ack, each node answers once (the first value its
// handler acknowledges with); ack.Done gets the answers, and an error wrapping server.ErrAckTimeout when some
// nodes did not answer within ack.Timeout (RequestsTimeout when zero). Binary arguments travel as JSON.stringify
// writes a Buffer, as with the Node.js adapter.
func (a *Adapter) ServerSideEmit(event string, args []any, ack *server.ServerSideAck) error {
	data, err := sio.AppendJSON(nil, append([]any{event}, args...))
	if err != nil {
		return err
	}
	a.serverSideEmit(ack, func(id string) {
		a.node.publish(a.ch.Request, wire.AppendServerSideEmitRequest(nil, a.node.uid, id, data))
	})
	return nil
}

// ServerCount returns the number of nodes of the namespace: the subscribers of its request channel. When Redis
// cannot tell, it returns the last count it got.
func (c *core) ServerCount() int {
	n, _ := c.serverCount()
	return max(n, 1)
}

// serverCount returns the number of nodes, and whether Redis could tell (else the last count known).
func (c *core) serverCount() (int, bool) {
	n, err := c.node.numSub(c.countChannel)
	if err != nil {
		last := int(c.lastCount.Load())
		c.log.Debug("redis PUBSUB NUMSUB failed, using the last server count", "err", err, "count", last)
		return last, false
	}
	c.lastCount.Store(int64(n))
	return n, true
}

// requestCount is the number of nodes a request waits for. When Redis cannot tell, there may be other nodes
// out of reach: the request then fails after its timeout rather than answering for this node alone.
func (c *core) requestCount() int {
	n, ok := c.serverCount()
	if !ok {
		return max(n, 2)
	}
	return n
}

// Close unsubscribes the namespace's channels and fails its pending requests.
func (a *Adapter) Close() error {
	a.subMu.Lock()
	if a.closed {
		a.subMu.Unlock()
		return nil
	}
	a.closed = true
	a.node.unregister(a)
	a.subMu.Unlock()
	a.failPending(ErrClosed)
	return a.inner.Close()
}

// Requests and their answers.

func (c *core) newRequest(typ wire.RequestType, numSub int) *request {
	r := &request{id: randomID(10), typ: typ, numSub: numSub, msgCount: 1, done: make(chan struct{})}
	c.reqMu.Lock()
	c.requests[r.id] = r
	c.reqMu.Unlock()
	return r
}

func (c *core) wait(r *request, timeout time.Duration) error {
	return c.waitCtx(context.Background(), r, timeout)
}

func (c *core) waitCtx(ctx context.Context, r *request, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-r.done:
		r.mu.Lock()
		err = r.err
		r.mu.Unlock()
		return err
	case <-t.C:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.finish(r, err)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil { // finished meanwhile
		return nil
	}
	if errors.Is(r.err, ErrTimeout) {
		c.node.requestTimeouts.Add(1)
		answered := r.msgCount
		if r.typ == wire.TypeServerSideEmit {
			answered = len(r.responses)
		} else {
			answered-- // this node
		}
		total := r.numSub
		if r.typ != wire.TypeServerSideEmit {
			total--
		}
		return fmt.Errorf("%w (%d of %d nodes answered)", ErrTimeout, answered, total)
	}
	return r.err
}

// finish ends a request (err nil: complete).
func (c *core) finish(r *request, err error) {
	c.reqMu.Lock()
	delete(c.requests, r.id)
	c.reqMu.Unlock()
	r.mu.Lock()
	if !r.finished {
		r.finished = true
		r.err = err
		close(r.done)
	}
	r.mu.Unlock()
}

func (c *core) failPending(err error) {
	c.reqMu.Lock()
	pending := make([]*request, 0, len(c.requests))
	for _, r := range c.requests {
		pending = append(pending, r)
	}
	c.reqMu.Unlock()
	for _, r := range pending {
		c.finish(r, err)
	}
}

// onResponse handles a message of the response channels.
func (a *Adapter) onResponse(payload []byte) {
	resp, err := wire.DecodeResponse(payload)
	if err != nil {
		a.node.decodeErrors.Add(1)
		a.log.Debug("ignoring malformed response", "err", err)
		return
	}
	a.reqMu.Lock()
	ack := a.acks[resp.RequestID]
	r := a.requests[resp.RequestID]
	a.reqMu.Unlock()
	if ack != nil {
		switch resp.Type {
		case wire.TypeBroadcastClientCount:
			ack.onCount(resp.ClientCount)
		case wire.TypeBroadcastAck:
			ack.onAck(resp.Packet)
		}
		return
	}
	if r == nil {
		return
	}
	// Decode outside the request's lock.
	var sockets []*server.RemoteSocket
	if r.typ == wire.TypeRemoteFetch && resp.HasSockets {
		sockets = make([]*server.RemoteSocket, 0, len(resp.Sockets))
		for _, raw := range resp.Sockets {
			d, err := wire.DecodeSocketDetails(raw)
			if err != nil {
				a.node.decodeErrors.Add(1)
				continue
			}
			sockets = append(sockets, remoteSocket(a.nsp, d))
		}
	}
	a.answered(r, sockets, resp.Rooms, resp.Data)
}

// remoteSocket makes a server.RemoteSocket of a socket of another node.
func remoteSocket(nsp *server.Namespace, d *wire.SocketDetails) *server.RemoteSocket {
	h := d.Handshake
	t := time.UnixMilli(h.Issued)
	if h.Issued == 0 {
		t = time.Time{}
	}
	auth := server.RawJSON(h.Auth)
	if len(auth) == 0 {
		auth = server.RawJSON(`{}`)
	}
	hs := newRemoteHandshake(t, h.Address, h.Secure, h.URL, auth, h.Headers)
	var data any
	if s := string(d.Data); s != "" && s != "null" {
		data = sio.RawJSON(d.Data)
	}
	return server.NewRemoteSocket(nsp, d.ID, hs, d.Rooms, data)
}

// publishResponse answers a request, on the requester's channel when so configured.
func (a *Adapter) publishResponse(req *wire.Request, payload []byte) {
	channel := a.ch.Response
	if a.node.opts.PublishOnSpecificResponseChannel && req.UID != "" {
		channel = a.ch.SpecificResponse(req.UID)
	}
	a.node.publish(channel, payload)
}

// onRequest handles a message of the request channel. Requests from this node are skipped: it applied them
// locally when it sent them.
func (a *Adapter) onRequest(payload []byte) {
	req, err := wire.DecodeRequest(payload)
	if err != nil {
		a.node.decodeErrors.Add(1)
		a.log.Debug("ignoring malformed request", "err", err)
		return
	}
	if req.UID == a.node.uid {
		return
	}
	opts := fromWire(req.Opts)
	switch req.Type {
	case wire.TypeSockets:
		sockets, _ := a.inner.FetchSockets(server.BroadcastOptions{Rooms: req.Rooms})
		ids := make([]string, len(sockets))
		for i, s := range sockets {
			ids[i] = s.ID
		}
		a.publishResponse(req, wire.AppendSocketsResponse(nil, req.RequestID, ids))

	case wire.TypeAllRooms:
		a.publishResponse(req, wire.AppendRoomsResponse(nil, req.RequestID, a.inner.Rooms()))

	case wire.TypeRemoteJoin, wire.TypeRemoteLeave:
		if req.HasOpts {
			if req.Type == wire.TypeRemoteJoin {
				a.inner.AddSockets(opts, req.Rooms)
			} else {
				a.inner.DelSockets(opts, req.Rooms)
			}
			return
		}
		s := a.nsp.Socket(req.SID) // the legacy form: one socket, one room, and an answer
		if s == nil {
			return
		}
		if req.Type == wire.TypeRemoteJoin {
			s.Join(req.Room)
		} else {
			s.Leave(req.Room)
		}
		a.publishResponse(req, wire.AppendEmptyResponse(nil, req.RequestID))

	case wire.TypeRemoteDisconnect:
		// Disconnecting runs the application's disconnect handlers: not on the subscriber's goroutine.
		if req.HasOpts {
			a.tasks.run(func() { a.inner.DisconnectSockets(opts, req.Close) })
			return
		}
		if s := a.nsp.Socket(req.SID); s != nil {
			a.tasks.run(func() { s.Disconnect(req.Close) })
			a.publishResponse(req, wire.AppendEmptyResponse(nil, req.RequestID))
		}

	case wire.TypeRemoteFetch:
		sockets, _ := a.inner.FetchSockets(opts)
		a.publishResponse(req, wire.AppendFetchResponse(nil, req.RequestID, appendSockets(nil, sockets)))

	case wire.TypeServerSideEmit:
		if req.Args == nil {
			return
		}
		var ack func(args ...any)
		if req.HasRequestID {
			var once sync.Once
			id := req.RequestID
			ack = func(args ...any) {
				once.Do(func() {
					var data []byte // undefined when there is no argument (JSON.stringify leaves it out)
					if len(args) > 0 {
						var err error
						if data, err = sio.AppendJSON(nil, args[0]); err != nil {
							a.log.Warn("server-side acknowledgement does not encode", "err", err)
							data = []byte("null")
						}
					}
					// The Node.js adapter answers on the namespace's response channel whatever its options.
					a.node.publish(a.ch.Response, wire.AppendServerSideEmitResponse(nil, id, data))
				})
			}
		}
		ev := newServerSideEvent(req.Event, req.Args, ack)
		a.tasks.run(func() { a.nsp.DispatchServerSide(ev) })

	case wire.TypeBroadcast:
		a.reqMu.Lock()
		_, own := a.acks[req.RequestID]
		a.reqMu.Unlock()
		if own || req.PacketEvent == "" {
			return
		}
		id := req.RequestID
		err := a.inner.BroadcastWithAck(&server.OutPacket{Event: req.PacketEvent, Args: req.PacketArgs}, opts,
			func(n int) {
				a.publishResponse(req, wire.AppendClientCountResponse(nil, id, n))
			},
			func(args *server.Args) {
				a.publishResponse(req, wire.AppendBroadcastAckResponse(nil, id, firstValue(args)))
			})
		if err != nil {
			a.log.Debug("broadcast request not delivered", "err", err)
		}
	}
}

// onBroadcast handles a message of the broadcast channels: the event is sent to the local sockets through the
// in-memory adapter, encoded once.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	prefix := a.ch.Broadcast
	if len(channel) < len(prefix) || channel[:len(prefix)] != prefix {
		return
	}
	if len(channel) > len(prefix)+1 {
		if room := channel[len(prefix) : len(channel)-1]; !a.hasRoom(room) {
			return
		}
	}
	m, err := wire.DecodeBroadcast(payload)
	if err != nil {
		a.node.decodeErrors.Add(1)
		a.log.Debug("ignoring malformed broadcast", "err", err)
		return
	}
	if m.UID == a.node.uid || m.Nsp != a.nsp.Name() {
		return
	}
	if err := a.inner.Broadcast(&server.OutPacket{Event: m.Event, Args: m.Args}, fromWire(m.Opts)); err != nil {
		a.log.Debug("broadcast from another node not delivered", "event", m.Event, "err", err)
	}
}

// appendSockets writes local sockets as a REMOTE_FETCH response lists them.
func appendSockets(dst []byte, sockets []*server.RemoteSocket) []byte {
	dst = append(dst, '[')
	for i, s := range sockets {
		if i > 0 {
			dst = append(dst, ',')
		}
		d := wire.SocketDetails{ID: s.ID, Rooms: s.Rooms}
		if s.Data != nil {
			if raw, err := sio.AppendJSON(nil, s.Data); err == nil {
				d.Data = json.RawMessage(raw)
			}
		}
		if hs := s.Handshake; hs != nil {
			d.Handshake = wire.HandshakeDetails{
				Time:    wire.DateString(hs.Time),
				Issued:  hs.Issued(),
				Address: hs.Address,
				XDomain: hs.XDomain(),
				Secure:  hs.Secure,
				URL:     hs.URL(),
				Auth:    json.RawMessage(hs.Auth),
			}
			if h := hs.Headers(); len(h) > 0 {
				d.Handshake.Headers = make(map[string][]string, len(h))
				for k, v := range h {
					d.Handshake.Headers[strings.ToLower(k)] = v
				}
			}
			if q := hs.Query(); len(q) > 0 {
				d.Handshake.Query = q
			}
		}
		dst = wire.AppendSocketDetails(dst, &d)
	}
	return append(dst, ']')
}

// taskQueue runs tasks one at a time, in order, on a goroutine that exists only while there is work.
type taskQueue struct {
	mu      sync.Mutex
	queue   []func()
	running bool
	onPanic func(v any)
}

func (q *taskQueue) run(task func()) {
	q.mu.Lock()
	q.queue = append(q.queue, task)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	q.mu.Unlock()
	go q.drain()
}

func (q *taskQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running, q.queue = false, nil
			q.mu.Unlock()
			return
		}
		task := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.call(task)
	}
}

func (q *taskQueue) call(task func()) {
	defer func() {
		if v := recover(); v != nil && q.onPanic != nil {
			q.onPanic(v)
		}
	}()
	task()
}
