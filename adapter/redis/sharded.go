package redisadapter

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fastio/fastio/adapter/redis/wire"
	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/server"
)

// ShardedAdapter is the adapter of one namespace in the protocol of the Node.js createShardedAdapter
// (Options.Sharded): Redis 7 sharded Pub/Sub, ClusterAdapter messages. It implements server.Adapter.
type ShardedAdapter struct {
	core
	channel  string // <key>#<nsp>#
	response string // <key>#<nsp>#<uid>#, where the answers to this node's requests arrive
	mode     string
	subs     taskQueue       // subscriptions to the rooms' channels, in order
	roomSubs map[string]bool // the rooms' channels subscribed (under subMu)
}

func newShardedAdapter(n *Node, nsp *server.Namespace) *ShardedAdapter {
	ch := wire.ShardedChannel(n.opts.Key, nsp.Name())
	s := &ShardedAdapter{core: newCore(n, nsp), channel: ch, response: ch + n.uid + "#", mode: n.opts.SubscriptionMode,
		roomSubs: make(map[string]bool)}
	s.countChannel = ch
	s.init()
	s.subs.onPanic = s.tasks.onPanic
	if s.mode == SubscriptionDynamic || s.mode == SubscriptionDynamicPrivate {
		s.roomChanged = s.onRoomChanged
		s.privateRooms = s.mode == SubscriptionDynamicPrivate
	}
	s.subMu.Lock()
	go func() {
		defer s.subMu.Unlock()
		n.sSubscribe(s, s.channel, s.response)
	}()
	return s
}

// onRoomChanged subscribes to a room's channel while it has local members (dynamic modes). It runs under
// roomsMu: the subscription itself is queued.
func (s *ShardedAdapter) onRoomChanged(room string, present bool) {
	if s.mode == SubscriptionDynamic && s.nsp.Socket(room) != nil {
		return // a socket's own room: private, on the namespace's channel
	}
	ch := s.channel + room + "#"
	s.subs.run(func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		if s.closed || s.roomSubs[ch] == present {
			return
		}
		if present {
			s.roomSubs[ch] = true
			s.node.sSubscribe(s, ch)
		} else {
			delete(s.roomSubs, ch)
			s.node.sUnsubscribe(s, ch)
		}
	})
}

// computeChannel is the channel of a message: a room's own for a broadcast without acknowledgements to exactly
// one room in the dynamic modes (not to a socket's own room in dynamic mode), else the namespace's.
func (s *ShardedAdapter) computeChannel(rooms []string, withAck bool) string {
	if !withAck && len(rooms) == 1 &&
		((s.mode == SubscriptionDynamic && !wire.LooksLikeSocketID(rooms[0])) || s.mode == SubscriptionDynamicPrivate) {
		return s.channel + rooms[0] + "#"
	}
	return s.channel
}

// Broadcast publishes the event for the other nodes, then sends it to the local sockets.
func (s *ShardedAdapter) Broadcast(p *server.OutPacket, opts server.BroadcastOptions) error {
	if !s.localOnly(opts) {
		data, err := s.encodeEvent(p)
		if err != nil {
			return err
		}
		msg := wire.AppendClusterBroadcast(nil, s.node.uid, s.nsp.Name(), "", data, toWire(opts))
		s.node.publish(s.computeChannel(opts.Rooms, false), msg)
	}
	return s.inner.Broadcast(p, opts)
}

// BroadcastWithAck publishes the event with a request id: every node answers with its client count, then its
// clients' acknowledgements.
func (s *ShardedAdapter) BroadcastWithAck(p *server.OutPacket, opts server.BroadcastOptions, onCount func(int), onAck func(*server.Args)) error {
	// Published even to a local socket's own room: the server waits for a client count from every node.
	if !opts.Flags.Local {
		data, err := s.encodeEvent(p)
		if err != nil {
			return err
		}
		id := s.registerAck(opts.Flags.Timeout, onCount, onAck)
		s.node.publish(s.channel, wire.AppendClusterBroadcast(nil, s.node.uid, s.nsp.Name(), id, data, toWire(opts)))
	}
	return s.inner.BroadcastWithAck(p, opts, onCount, onAck)
}

// FetchSockets returns the selected sockets of every node (see Adapter.FetchSockets).
func (s *ShardedAdapter) FetchSockets(opts server.BroadcastOptions) ([]*server.RemoteSocket, error) {
	return s.fetchSockets(opts, func(id string) {
		s.node.publish(s.channel, wire.AppendClusterFetch(nil, s.node.uid, s.nsp.Name(), id, toWire(opts)))
	})
}

// AddSockets makes the selected sockets of every node join rooms.
func (s *ShardedAdapter) AddSockets(opts server.BroadcastOptions, rooms []string) {
	if !s.localOnly(opts) && len(rooms) > 0 {
		s.node.publish(s.channel, wire.AppendClusterSockets(nil, wire.MsgSocketsJoin, s.node.uid, s.nsp.Name(), toWire(opts), rooms))
	}
	s.inner.AddSockets(opts, rooms)
}

// DelSockets makes the selected sockets of every node leave rooms.
func (s *ShardedAdapter) DelSockets(opts server.BroadcastOptions, rooms []string) {
	if !s.localOnly(opts) && len(rooms) > 0 {
		s.node.publish(s.channel, wire.AppendClusterSockets(nil, wire.MsgSocketsLeave, s.node.uid, s.nsp.Name(), toWire(opts), rooms))
	}
	s.inner.DelSockets(opts, rooms)
}

// DisconnectSockets disconnects the selected sockets of every node.
func (s *ShardedAdapter) DisconnectSockets(opts server.BroadcastOptions, close bool) {
	if !s.localOnly(opts) {
		s.node.publish(s.channel, wire.AppendClusterDisconnect(nil, s.node.uid, s.nsp.Name(), toWire(opts), close))
	}
	s.inner.DisconnectSockets(opts, close)
}

// ServerSideEmit sends an event to the other nodes (see Adapter.ServerSideEmit); binary arguments stay binary
// in this protocol.
func (s *ShardedAdapter) ServerSideEmit(event string, args []any, ack *server.ServerSideAck) error {
	packet, err := s.encodeEvent(&server.OutPacket{Event: event, Args: args})
	if err != nil {
		return err
	}
	s.serverSideEmit(ack, func(id string) {
		s.node.publish(s.channel, wire.AppendClusterServerSideEmit(nil, s.node.uid, s.nsp.Name(), id, packet))
	})
	return nil
}

// Close unsubscribes the namespace's channels and fails its pending requests.
func (s *ShardedAdapter) Close() error {
	s.subMu.Lock()
	if s.closed {
		s.subMu.Unlock()
		return nil
	}
	s.closed = true
	channels := []string{s.channel, s.response}
	for ch := range s.roomSubs {
		channels = append(channels, ch)
	}
	s.node.sUnsubscribe(s, channels...)
	s.subMu.Unlock()
	s.failPending(ErrClosed)
	return s.inner.Close()
}

// onMessage handles a message of the namespace's, a room's or this node's channel.
func (s *ShardedAdapter) onMessage(payload []byte) {
	m, err := wire.DecodeClusterMessage(payload)
	if err != nil {
		s.node.decodeErrors.Add(1)
		s.log.Debug("ignoring malformed message", "err", err)
		return
	}
	if m.UID == s.node.uid || m.Nsp != s.nsp.Name() {
		return
	}
	opts := fromWire(m.Opts)
	reply := s.channel + m.UID + "#"
	nsp := s.nsp.Name()
	switch m.Type {
	case wire.MsgBroadcast:
		p := &server.OutPacket{Event: m.Event, Args: m.Args}
		if !m.HasRequestID {
			if err := s.inner.Broadcast(p, opts); err != nil {
				s.log.Debug("broadcast from another node not delivered", "event", m.Event, "err", err)
			}
			return
		}
		id := m.RequestID
		err := s.inner.BroadcastWithAck(p, opts,
			func(n int) { s.node.publish(reply, wire.AppendClusterClientCount(nil, s.node.uid, nsp, id, n)) },
			func(args *server.Args) {
				s.node.publish(reply, wire.AppendClusterAnswer(nil, wire.MsgBroadcastAck, s.node.uid, nsp, id, firstValue(args)))
			})
		if err != nil {
			s.log.Debug("broadcast request not delivered", "err", err)
		}
	case wire.MsgSocketsJoin:
		s.inner.AddSockets(opts, m.Rooms)
	case wire.MsgSocketsLeave:
		s.inner.DelSockets(opts, m.Rooms)
	case wire.MsgDisconnectSockets:
		s.tasks.run(func() { s.inner.DisconnectSockets(opts, m.Close) })
	case wire.MsgFetchSockets:
		sockets, _ := s.inner.FetchSockets(opts)
		s.node.publish(reply, wire.AppendClusterFetchResponse(nil, s.node.uid, nsp, m.RequestID, appendSockets(nil, sockets)))
	case wire.MsgServerSideEmit:
		var ack func(args ...any)
		if m.HasRequestID {
			var once sync.Once
			id := m.RequestID
			ack = func(args ...any) {
				once.Do(func() {
					var packet []byte
					if len(args) > 0 {
						enc := encoders.Get().(*sio.Encoder)
						var err error
						packet, err = wire.EncodeValue(nil, enc, args[0])
						encoders.Put(enc)
						if err != nil {
							s.log.Warn("server-side acknowledgement does not encode", "err", err)
							packet = wire.AppendNil(nil)
						}
					}
					s.node.publish(reply, wire.AppendClusterAnswer(nil, wire.MsgServerSideEmitResponse, s.node.uid, nsp, id, packet))
				})
			}
		}
		ev := newServerSideEvent(m.ServerSideEvent, m.ServerSideArgs, ack)
		s.tasks.run(func() { s.nsp.DispatchServerSide(ev) })
	case wire.MsgBroadcastClientCount, wire.MsgBroadcastAck:
		if ack := s.ackFor(m.RequestID); ack != nil {
			if m.Type == wire.MsgBroadcastClientCount {
				ack.onCount(m.ClientCount)
			} else {
				ack.onAck(m.Packet)
			}
		}
	case wire.MsgFetchSocketsResponse:
		r := s.requestFor(m.RequestID)
		if r == nil {
			return
		}
		sockets := make([]*server.RemoteSocket, 0, len(m.Sockets))
		for _, raw := range m.Sockets {
			d, err := wire.DecodeSocketDetails(raw)
			if err != nil {
				s.node.decodeErrors.Add(1)
				continue
			}
			sockets = append(sockets, remoteSocket(s.nsp, d))
		}
		s.answered(r, sockets, nil, nil)
	case wire.MsgServerSideEmitResponse:
		if r := s.requestFor(m.RequestID); r != nil {
			s.answered(r, nil, nil, m.Packet)
		}
	}
}

// firstValue is the msgpack of the first value of a client's acknowledgement, nil when it had none.
func firstValue(args *server.Args) []byte {
	if args.Len() == 0 {
		return nil
	}
	packet, _, err := wire.JSONToMsgpack(nil, args.Raw(0), args.Attachments())
	if err != nil {
		return wire.AppendNil(nil)
	}
	return packet
}

// Shared by both protocols.

// registerAck records a broadcast with acknowledgements and returns its request id; it is forgotten after the
// timeout (RequestsTimeout when zero), as there is no telling whether every client answered.
func (c *core) registerAck(timeout time.Duration, onCount func(int), onAck func(*server.Args)) string {
	id := randomID(10)
	if timeout <= 0 {
		timeout = c.node.opts.RequestsTimeout
	}
	c.reqMu.Lock()
	c.acks[id] = &ackRequest{onCount: onCount, onAck: onAck}
	c.reqMu.Unlock()
	time.AfterFunc(timeout, func() {
		c.reqMu.Lock()
		delete(c.acks, id)
		c.reqMu.Unlock()
	})
	return id
}

func (c *core) ackFor(id string) *ackRequest {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	return c.acks[id]
}

func (c *core) requestFor(id string) *request {
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	return c.requests[id]
}

// answered records one node's answer to a request, and completes the request when every node answered.
func (c *core) answered(r *request, sockets []*server.RemoteSocket, rooms []string, data *server.Args) {
	r.mu.Lock()
	if r.finished {
		r.mu.Unlock()
		return
	}
	complete := false
	switch r.typ {
	case wire.TypeRemoteFetch:
		r.msgCount++
		r.sockets = append(r.sockets, sockets...)
		complete = r.msgCount >= r.numSub
	case wire.TypeAllRooms:
		r.msgCount++
		r.names = append(r.names, rooms...)
		complete = r.msgCount >= r.numSub
	case wire.TypeServerSideEmit:
		r.responses = append(r.responses, data)
		complete = len(r.responses) >= r.numSub
	}
	r.mu.Unlock()
	if complete {
		c.finish(r, nil)
	}
}

// fetchSockets returns the selected local sockets, with those of the other nodes when there may be some:
// publish sends them the request with the given id.
func (c *core) fetchSockets(opts server.BroadcastOptions, publish func(id string)) ([]*server.RemoteSocket, error) {
	local, err := c.inner.FetchSockets(opts)
	if err != nil || c.localOnly(opts) {
		return local, err
	}
	numSub := c.requestCount()
	if numSub <= 1 {
		return local, nil
	}
	r := c.newRequest(wire.TypeRemoteFetch, numSub)
	r.mu.Lock()
	r.sockets = local
	r.mu.Unlock()
	publish(r.id)
	err = c.wait(r, c.node.opts.RequestsTimeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sockets), err
}

// serverSideEmit sends a server-side event with publish, given the request id ("" without ack), and with ack
// collects the other nodes' answers in the background.
func (c *core) serverSideEmit(ack *server.ServerSideAck, publish func(id string)) {
	if ack == nil {
		publish("")
		return
	}
	numSub := c.requestCount() - 1 // every node but this one
	if numSub <= 0 {
		go ack.Done(nil, nil)
		return
	}
	r := c.newRequest(wire.TypeServerSideEmit, numSub)
	publish(r.id)
	timeout := ack.Timeout
	if timeout <= 0 {
		timeout = c.node.opts.RequestsTimeout
	}
	go c.finishServerSide(r, numSub, timeout, ack)
}

// finishServerSide waits for the answers to a server-side emit and hands them to ack.
func (c *core) finishServerSide(r *request, numSub int, timeout time.Duration, ack *server.ServerSideAck) {
	err := c.wait(r, timeout)
	r.mu.Lock()
	responses := slices.Clone(r.responses)
	r.mu.Unlock()
	if errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w: %d of %d servers answered", server.ErrAckTimeout, len(responses), numSub)
	}
	ack.Done(responses, err)
}
