package server

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastio/fastio/codec/sio"
)

// Middleware runs when a socket connects to a namespace, before the connection handlers. It runs on the client's
// goroutine and may block. A non-nil error refuses the connection: the client gets a CONNECT_ERROR whose message
// is the error's text, and whose data is the Data of a *ConnectError.
type Middleware func(s *Socket) error

// ConnectError is an error a middleware returns to send data along with the refusal.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns the message the client receives.
func (e *ConnectError) Error() string { return e.Message }

// Namespace is a communication channel multiplexed over the clients' connections, with its own sockets, rooms,
// middlewares and handlers.
type Namespace struct {
	name    string
	server  *Server
	parent  *ParentNamespace
	adapter Adapter

	ackIDs atomic.Int64 // acknowledgement ids, shared by the namespace's sockets as in the Node.js server

	mu           sync.RWMutex
	sockets      map[string]*Socket
	handlers     handlerTable // events handled for every socket of the namespace
	middlewares  []Middleware
	onConnection []func(*Socket)
	serverSide   map[string][]func(e *ServerSideEvent)
}

func newNamespace(s *Server, name string, parent *ParentNamespace) *Namespace {
	ns := &Namespace{name: name, server: s, parent: parent, sockets: make(map[string]*Socket)}
	ns.adapter = s.opts.Adapter(ns)
	return ns
}

func (ns *Namespace) nextAckID() int64 { return ns.ackIDs.Add(1) - 1 }

// Name returns the namespace's name, like "/" or "/chat".
func (ns *Namespace) Name() string { return ns.name }

// Server returns the server the namespace belongs to.
func (ns *Namespace) Server() *Server { return ns.server }

// Adapter returns the namespace's adapter.
func (ns *Namespace) Adapter() Adapter { return ns.adapter }

// Use adds a middleware, run for each connecting socket in the order added.
func (ns *Namespace) Use(mw Middleware) {
	ns.mu.Lock()
	ns.middlewares = append(ns.middlewares, mw)
	ns.mu.Unlock()
}

// On registers a handler for an event received by any socket of the namespace, called after the socket's own
// handlers (Socket.On). One registration serves every socket, so a server with many connections keeps no
// per-socket handler state: prefer it to Socket.On for handlers that are the same for all sockets.
func (ns *Namespace) On(event string, fn func(*Event)) {
	ns.mu.Lock()
	ns.handlers.add(event, handler{fn: fn})
	ns.mu.Unlock()
}

// eventHandlers returns the namespace-wide handlers of an event.
func (ns *Namespace) eventHandlers(name string) []handler {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.handlers.find(name)
}

// OnConnection adds a handler called for each socket that connected.
func (ns *Namespace) OnConnection(fn func(*Socket)) {
	ns.mu.Lock()
	ns.onConnection = append(ns.onConnection, fn)
	ns.mu.Unlock()
}

// Socket returns the connected socket with the given id on this server, or nil.
func (ns *Namespace) Socket(id string) *Socket {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return ns.sockets[id]
}

// Sockets returns the sockets connected to this namespace on this server.
func (ns *Namespace) Sockets() []*Socket {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := make([]*Socket, 0, len(ns.sockets))
	for _, s := range ns.sockets {
		out = append(out, s)
	}
	return out
}

// Len returns the number of sockets connected to this namespace on this server.
func (ns *Namespace) Len() int {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	return len(ns.sockets)
}

// add runs the connection of a client to this namespace: recovery, middlewares, CONNECT, handlers. It runs on
// the client's queue.
func (ns *Namespace) add(c *client, auth RawJSON) {
	s := ns.newSocket(c, auth)
	ns.mu.RLock()
	mws := ns.middlewares
	var parentMws []Middleware
	if ns.parent != nil {
		parentMws = ns.parent.middlewareList()
	}
	ns.mu.RUnlock()
	skip := s.recovered && !ns.server.opts.ConnectionStateRecovery.RunMiddlewares
	if !skip {
		for _, mw := range slices.Concat(parentMws, mws) {
			if err := mw(s); err != nil {
				c.connectDone(ns.name) // before the answer: the client may try again at once
				if c.sess.Closed() {
					return
				}
				var ce *ConnectError
				if errors.As(err, &ce) {
					c.writeConnectError(ns.name, ce.Message, ce.Data)
				} else {
					c.writeConnectError(ns.name, err.Error(), nil)
				}
				return
			}
		}
	}
	if !c.attach(s) {
		return
	}
	ns.mu.Lock()
	ns.sockets[s.id] = s
	handlers := ns.onConnection
	ns.mu.Unlock()
	s.onConnect()
	if ns.parent != nil {
		handlers = append(ns.parent.connectionHandlers(), handlers...)
	}
	for _, fn := range handlers {
		fn(s)
	}
}

func (ns *Namespace) remove(s *Socket) {
	ns.mu.Lock()
	if ns.sockets[s.id] == s {
		delete(ns.sockets, s.id)
	}
	empty := len(ns.sockets) == 0
	ns.mu.Unlock()
	if empty && ns.parent != nil && ns.server.opts.CleanupEmptyChildNamespaces {
		ns.server.removeNamespace(ns)
	}
}

func (ns *Namespace) operator() *BroadcastOperator { return &BroadcastOperator{nsp: ns} }

// Emit sends an event to every socket of the namespace.
func (ns *Namespace) Emit(event string, args ...any) error { return ns.operator().Emit(event, args...) }

// To targets the sockets in any of rooms.
func (ns *Namespace) To(rooms ...string) *BroadcastOperator { return ns.operator().To(rooms...) }

// In is an alias of To.
func (ns *Namespace) In(rooms ...string) *BroadcastOperator { return ns.operator().In(rooms...) }

// Except excludes the sockets in any of rooms.
func (ns *Namespace) Except(rooms ...string) *BroadcastOperator {
	return ns.operator().Except(rooms...)
}

// Local restricts a broadcast to this node.
func (ns *Namespace) Local() *BroadcastOperator { return ns.operator().Local() }

// Volatile lets a broadcast skip sockets that are not ready to receive.
func (ns *Namespace) Volatile() *BroadcastOperator { return ns.operator().Volatile() }

// Compress sets the compress flag (kept for API parity: WebSocket compression is not negotiated).
func (ns *Namespace) Compress(c bool) *BroadcastOperator { return ns.operator().Compress(c) }

// Timeout sets the acknowledgement timeout of a broadcast.
func (ns *Namespace) Timeout(d time.Duration) *BroadcastOperator { return ns.operator().Timeout(d) }

// FetchSockets returns the sockets of the namespace, on every node.
func (ns *Namespace) FetchSockets() ([]*RemoteSocket, error) { return ns.operator().FetchSockets() }

// SocketsJoin makes every socket of the namespace join rooms.
func (ns *Namespace) SocketsJoin(rooms ...string) { ns.operator().SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the namespace leave rooms.
func (ns *Namespace) SocketsLeave(rooms ...string) { ns.operator().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the namespace; close also closes their connections.
func (ns *Namespace) DisconnectSockets(close bool) { ns.operator().DisconnectSockets(close) }

// ServerSideEvent is an event another server of the cluster sent with ServerSideEmit.
type ServerSideEvent struct {
	Name string
	Args *Args
	ack  func(args ...any)
}

// NewServerSideEvent builds an event received from another server, for Namespace.DispatchServerSide; ack, when
// not nil, answers the sender (for adapters).
func NewServerSideEvent(name string, args *Args, ack func(args ...any)) *ServerSideEvent {
	return &ServerSideEvent{Name: name, Args: args, ack: ack}
}

// Ack answers the event, when the sender asked for an acknowledgement.
func (e *ServerSideEvent) Ack(args ...any) {
	if e.ack != nil {
		e.ack(args...)
	}
}

// OnServerSide registers a handler for an event sent by another server of the cluster.
func (ns *Namespace) OnServerSide(event string, fn func(e *ServerSideEvent)) {
	ns.mu.Lock()
	if ns.serverSide == nil {
		ns.serverSide = make(map[string][]func(*ServerSideEvent))
	}
	ns.serverSide[event] = append(ns.serverSide[event], fn)
	ns.mu.Unlock()
}

// DispatchServerSide delivers an event received from another server to the OnServerSide handlers. Adapters
// call it.
func (ns *Namespace) DispatchServerSide(e *ServerSideEvent) {
	ns.mu.RLock()
	handlers := ns.serverSide[e.Name]
	ns.mu.RUnlock()
	for _, fn := range handlers {
		fn(e)
	}
}

// ServerSideEmit sends an event to the other servers of the cluster. With the in-memory adapter there are none.
func (ns *Namespace) ServerSideEmit(event string, args ...any) error {
	if sio.IsReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	return ns.adapter.ServerSideEmit(event, args, nil)
}

// ServerSideEmitWithAck sends an event to the other servers and waits for one answer from each, until timeout.
func (ns *Namespace) ServerSideEmitWithAck(timeout time.Duration, event string, args ...any) ([]*Args, error) {
	if sio.IsReservedEvent(event) {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	type result struct {
		responses []*Args
		err       error
	}
	done := make(chan result, 1)
	err := ns.adapter.ServerSideEmit(event, args, &ServerSideAck{
		Timeout: timeout,
		Done:    func(responses []*Args, err error) { done <- result{responses, err} },
	})
	if err != nil {
		return nil, err
	}
	r := <-done
	return r.responses, r.err
}

// ParentNamespace groups the dynamic namespaces created by one OfFunc or OfRegexp: its middlewares and
// connection handlers apply to each of them.
type ParentNamespace struct {
	server *Server
	match  func(name string, auth RawJSON) bool

	mu           sync.RWMutex
	children     map[*Namespace]struct{}
	middlewares  []Middleware
	onConnection []func(*Socket)
}

func newParentNamespace(s *Server, match func(string, RawJSON) bool) *ParentNamespace {
	return &ParentNamespace{server: s, match: match, children: make(map[*Namespace]struct{})}
}

// Use adds a middleware to every namespace this parent creates.
func (p *ParentNamespace) Use(mw Middleware) {
	p.mu.Lock()
	p.middlewares = append(p.middlewares, mw)
	p.mu.Unlock()
}

// OnConnection adds a connection handler to every namespace this parent creates.
func (p *ParentNamespace) OnConnection(fn func(*Socket)) {
	p.mu.Lock()
	p.onConnection = append(p.onConnection, fn)
	p.mu.Unlock()
}

// Emit sends an event to every socket of every child namespace.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	var firstErr error
	for _, ns := range p.Children() {
		if err := ns.Emit(event, args...); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Children returns the namespaces this parent created and that still exist.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := make([]*Namespace, 0, len(p.children))
	for ns := range p.children {
		out = append(out, ns)
	}
	return out
}

func (p *ParentNamespace) middlewareList() []Middleware {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.middlewares
}

func (p *ParentNamespace) connectionHandlers() []func(*Socket) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.onConnection)
}

func (p *ParentNamespace) add(ns *Namespace) {
	p.mu.Lock()
	p.children[ns] = struct{}{}
	p.mu.Unlock()
}

func (p *ParentNamespace) remove(ns *Namespace) {
	p.mu.Lock()
	delete(p.children, ns)
	p.mu.Unlock()
}
