package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fastio/fastio/codec/sio"
)

// BroadcastOptions selects the sockets of a broadcast: those in any of Rooms (every socket when Rooms is
// empty), minus those in any of Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags modify a broadcast.
type BroadcastFlags struct {
	// Volatile lets the packet skip sockets that are not ready to receive it.
	Volatile bool
	// Local keeps the broadcast on this node.
	Local bool
	// Timeout bounds the wait for acknowledgements.
	Timeout time.Duration
}

// OutPacket is an event to broadcast.
type OutPacket struct {
	Event string
	Args  []any
}

// BroadcastOperator is a broadcast being set up: rooms, exclusions and flags, then an action. Each method that
// narrows it returns a new operator, so an operator can be kept and reused.
type BroadcastOperator struct {
	nsp    *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.rooms = slices.Clone(b.rooms)
	c.except = slices.Clone(b.except)
	return &c
}

// To targets the sockets in any of rooms (added to the rooms already targeted).
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

// Local keeps the broadcast on this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.flags.Local = true
	return c
}

// Volatile lets the broadcast skip sockets that are not ready to receive.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.flags.Volatile = true
	return c
}

// Compress is kept for API parity: WebSocket compression is not negotiated.
func (b *BroadcastOperator) Compress(bool) *BroadcastOperator { return b.clone() }

// Timeout sets how long EmitWithAck waits for the acknowledgements.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.flags.Timeout = d
	return c
}

func (b *BroadcastOperator) options() BroadcastOptions {
	return BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

// Emit sends an event to the selected sockets. When the last argument is an AckFunc-like
// func(err error, responses []*Args), one acknowledgement per socket is collected (see EmitWithAck). Set a
// Timeout with it: without one the wait (and the goroutine behind it) lasts until every selected socket has
// answered, and a socket that leaves without answering never does.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	if n := len(args); n > 0 {
		if fn, ok := args[n-1].(func(error, []*Args)); ok {
			go func() {
				responses, err := b.emitWithAck(context.Background(), event, args[:n-1])
				fn(err, responses)
			}()
			return nil
		}
	}
	return b.nsp.adapter.Broadcast(&OutPacket{Event: event, Args: args}, b.options())
}

// EmitWithAck sends an event to the selected sockets and waits for one acknowledgement from each, until the
// timeout (ErrAckTimeout, with the answers that did arrive) or the end of ctx.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([]*Args, error) {
	if sio.IsReservedEvent(event) {
		return nil, ErrReservedEvent
	}
	return b.emitWithAck(ctx, event, args)
}

func (b *BroadcastOperator) emitWithAck(ctx context.Context, event string, args []any) ([]*Args, error) {
	servers := b.nsp.adapter.ServerCount()
	if b.flags.Local {
		servers = 1 // only this node answers
	}
	col := &ackCollector{serversLeft: servers, done: make(chan struct{})}
	err := b.nsp.adapter.BroadcastWithAck(&OutPacket{Event: event, Args: args}, b.options(), col.onCount, col.onAck)
	if err != nil {
		return nil, err
	}
	var timeout <-chan time.Time
	if b.flags.Timeout > 0 {
		t := time.NewTimer(b.flags.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-col.done:
		return col.finish(), nil
	case <-timeout:
		answers := col.finish()
		b.nsp.server.ackTimeouts.Add(int64(max(col.missing(), 1)))
		return answers, ErrAckTimeout
	case <-ctx.Done():
		return col.finish(), ctx.Err()
	}
}

// ackCollector gathers the answers of a broadcast with acknowledgements: each server reports how many sockets
// it sent to, then their answers arrive. Late answers after the wait ended are dropped, never blocked on.
type ackCollector struct {
	mu          sync.Mutex
	serversLeft int
	expected    int
	responses   []*Args
	done        chan struct{}
	finished    bool
}

func (c *ackCollector) onCount(n int) {
	c.mu.Lock()
	c.serversLeft--
	c.expected += n
	c.checkLocked()
	c.mu.Unlock()
}

func (c *ackCollector) onAck(a *Args) {
	c.mu.Lock()
	if !c.finished {
		c.responses = append(c.responses, a)
		c.checkLocked()
	}
	c.mu.Unlock()
}

func (c *ackCollector) checkLocked() {
	if !c.finished && c.serversLeft <= 0 && len(c.responses) >= c.expected {
		c.finished = true
		close(c.done)
	}
}

// missing returns how many answers were expected and have not arrived (as far as the servers that reported
// their count tell).
func (c *ackCollector) missing() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.expected-len(c.responses), 0)
}

func (c *ackCollector) finish() []*Args {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.finished {
		c.finished = true
		close(c.done)
	}
	return c.responses
}

// FetchSockets returns the selected sockets, on every node.
func (b *BroadcastOperator) FetchSockets() ([]*RemoteSocket, error) {
	return b.nsp.adapter.FetchSockets(b.options())
}

// SocketsJoin makes the selected sockets join rooms.
func (b *BroadcastOperator) SocketsJoin(rooms ...string) {
	b.nsp.adapter.AddSockets(b.options(), rooms)
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(rooms ...string) {
	b.nsp.adapter.DelSockets(b.options(), rooms)
}

// DisconnectSockets disconnects the selected sockets; close also closes their connections.
func (b *BroadcastOperator) DisconnectSockets(close bool) {
	b.nsp.adapter.DisconnectSockets(b.options(), close)
}

// RemoteSocket is a socket returned by FetchSockets: a snapshot of its state, with the actions that can be run
// on it wherever it is connected.
type RemoteSocket struct {
	ID        string
	Handshake *Handshake
	Rooms     []string
	Data      any

	local *Socket
	nsp   *Namespace
}

// NewRemoteSocket describes a socket connected to another node (for adapters).
func NewRemoteSocket(nsp *Namespace, id string, hs *Handshake, rooms []string, data any) *RemoteSocket {
	return &RemoteSocket{ID: id, Handshake: hs, Rooms: rooms, Data: data, nsp: nsp}
}

func (r *RemoteSocket) target() *BroadcastOperator {
	return &BroadcastOperator{nsp: r.nsp, rooms: []string{r.ID}}
}

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	if r.local != nil {
		return r.local.Emit(event, args...)
	}
	return r.target().Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) {
	if r.local != nil {
		r.local.Join(rooms...)
		return
	}
	r.target().SocketsJoin(rooms...)
}

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(rooms ...string) {
	if r.local != nil {
		for _, room := range rooms {
			r.local.Leave(room)
		}
		return
	}
	r.target().SocketsLeave(rooms...)
}

// Disconnect disconnects the socket; close also closes its connection.
func (r *RemoteSocket) Disconnect(close bool) {
	if r.local != nil {
		r.local.Disconnect(close)
		return
	}
	r.target().DisconnectSockets(close)
}
