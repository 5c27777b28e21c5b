package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/wheel"
)

// Errors returned by the socket API.
var (
	// ErrAckTimeout is given to an acknowledgement callback when the client did not answer in time.
	ErrAckTimeout = errors.New("server: operation has timed out")
	// ErrNoAck is returned by Event.Ack when the client did not ask for an acknowledgement, or it was sent.
	ErrNoAck = errors.New("server: no acknowledgement expected")
	// ErrDisconnected is returned when emitting on a socket that is not connected.
	ErrDisconnected = errors.New("server: socket disconnected")
	// ErrReservedEvent is returned when emitting a reserved event name.
	ErrReservedEvent = errors.New("server: reserved event name")
)

// AckFunc receives a client's acknowledgement: err is ErrAckTimeout when a timeout was set and ran out.
// Passed as the last argument of Emit, it asks the client for an acknowledgement.
type AckFunc func(err error, args *Args)

// Handshake describes how a socket connected. Headers and query are parsed from the request on first use, so
// that an idle socket keeps only the raw request head.
type Handshake struct {
	// Time the session was opened.
	Time time.Time
	// Address is the client's IP address.
	Address string
	// Secure reports whether the connection used TLS.
	Secure bool
	// Auth is the JSON payload of the CONNECT packet ({} when the client sent none).
	Auth RawJSON

	req *eventloop.Request // the local request, read on demand; nil for a socket of another node
	// The same, as another node reported them.
	url     string
	headers http.Header
	query   url.Values
}

// URL returns the request target of the first request.
func (h *Handshake) URL() string {
	if h.req == nil {
		return h.url
	}
	return h.req.URL()
}

// Headers returns the headers of the request that opened the Engine.IO session. Do not modify the map.
func (h *Handshake) Headers() http.Header {
	if h.req == nil {
		return h.headers
	}
	return h.req.Header()
}

// Query returns the query string of that request. Do not modify the map.
func (h *Handshake) Query() url.Values {
	if h.req == nil {
		return h.query
	}
	return h.req.Query()
}

// XDomain reports whether the request carried an Origin header.
func (h *Handshake) XDomain() bool { return h.Headers().Get("Origin") != "" }

// Issued returns Time in milliseconds since the Unix epoch (Node's handshake.issued).
func (h *Handshake) Issued() int64 { return h.Time.UnixMilli() }

// NewRemoteHandshake describes the handshake of a socket connected to another node of a cluster, from what
// that node reported (for adapters).
func NewRemoteHandshake(t time.Time, address string, secure bool, rawURL string, auth RawJSON, headers http.Header, query url.Values) *Handshake {
	if headers == nil {
		headers = http.Header{}
	}
	if query == nil {
		query = url.Values{}
	}
	return &Handshake{Time: t, Address: address, Secure: secure, Auth: auth, url: rawURL, headers: headers, query: query}
}

// DecodeAuth decodes the auth payload into v.
func (h *Handshake) DecodeAuth(v any) error { return sonic.Unmarshal(h.Auth, v) }

func newHandshake(req *eventloop.Request, auth RawJSON) *Handshake {
	addr := req.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return &Handshake{Time: req.Time, Address: addr, Secure: req.Secure, Auth: auth, req: req}
}

// Event is one event received from a client.
type Event struct {
	// Name is the event name (a numeric name is given in its decimal form).
	Name string
	// Args are the event's arguments, decoded on demand.
	Args *Args

	socket *Socket
	ackID  int64
	acked  atomic.Bool
}

// Socket returns the socket that received the event.
func (e *Event) Socket() *Socket { return e.socket }

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.ackID != sio.NoID }

// Ack answers the event with args. It may be called once, from any goroutine.
func (e *Event) Ack(args ...any) error {
	if e.ackID == sio.NoID || !e.acked.CompareAndSwap(false, true) {
		return ErrNoAck
	}
	return e.socket.sendAck(e.ackID, args)
}

type handler struct {
	fn   func(*Event)
	once bool
}

// handlerTable maps event names to handlers. A socket has a handful of events, so a slice searched in order
// costs less memory than a map (an idle socket should be small) and no more time.
type handlerTable []eventHandlers

type eventHandlers struct {
	name string
	list []handler
}

func (t *handlerTable) add(name string, h handler) {
	for i := range *t {
		if (*t)[i].name == name {
			(*t)[i].list = append((*t)[i].list, h)
			return
		}
	}
	*t = append(*t, eventHandlers{name: name, list: []handler{h}})
}

func (t *handlerTable) remove(name string) {
	*t = slices.DeleteFunc(*t, func(e eventHandlers) bool { return e.name == name })
}

// find returns the handlers of name.
func (t handlerTable) find(name string) []handler {
	for i := range t {
		if t[i].name == name {
			return t[i].list
		}
	}
	return nil
}

// take returns the handlers of name, dropping the once handlers from the table.
func (t *handlerTable) take(name string) []handler {
	for i := range *t {
		e := &(*t)[i]
		if e.name != name {
			continue
		}
		list := e.list
		if slices.ContainsFunc(list, func(h handler) bool { return h.once }) {
			e.list = slices.DeleteFunc(slices.Clone(list), func(h handler) bool { return h.once })
		}
		return list
	}
	return nil
}

type pendingAck struct {
	fn    AckFunc
	timer *wheel.Timer
}

// Socket is one client's connection to one namespace.
type Socket struct {
	id        string
	pid       string
	nsp       *Namespace
	client    *client
	handshake *Handshake
	recovered bool

	mu            sync.Mutex // guards the fields below
	connected     bool
	leaving       bool // onClose began: rooms joined from now on would outlive the socket
	data          any
	handlers      handlerTable
	disconnecting []func(reason string)
	disconnected  []func(reason string)
	extra         *socketExtras // what few sockets use, allocated on first use
	acks          map[int64]*pendingAck
	hasOutgoing   atomic.Bool // an OnAnyOutgoing handler exists: broadcasts check it without the lock
}

// socketExtras holds the state most sockets never need, so that an idle socket stays small.
type socketExtras struct {
	anyHandlers   []func(*Event)
	anyOutgoing   []func(event string, args []any)
	middlewares   []func(*Event) error
	errorHandlers []func(error)
	missed        [][]any  // packets to replay after a recovery
	restoredRooms []string // rooms to rejoin after a recovery
}

// extras returns the socket's extras, allocating them. s.mu must be held.
func (s *Socket) extras() *socketExtras {
	if s.extra == nil {
		s.extra = new(socketExtras)
	}
	return s.extra
}

func (ns *Namespace) newSocket(c *client, auth RawJSON) *Socket {
	s := &Socket{nsp: ns, client: c, handshake: newHandshake(c.sess.Request(), auth)}
	if ns.server.opts.ConnectionStateRecovery != nil {
		var a struct {
			PID    string `json:"pid"`
			Offset string `json:"offset"`
		}
		if sonic.Unmarshal(auth, &a) == nil && a.PID != "" && a.Offset != "" {
			if st, err := ns.adapter.RestoreSession(a.PID, a.Offset); err == nil && st != nil {
				s.id, s.pid, s.data, s.recovered = st.SID, st.PID, st.Data, true
				s.extras().missed = st.MissedPackets
				s.extras().restoredRooms = st.Rooms
				return s
			}
		}
		s.pid = eventloop.NewSessionID()
	}
	s.id = eventloop.NewSessionID()
	return s
}

// ID returns the socket id, unique per namespace connection.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns how the socket connected.
func (s *Socket) Handshake() *Handshake { return s.handshake }

// Recovered reports whether the socket was restored by connection state recovery.
func (s *Socket) Recovered() bool { return s.recovered }

// Session returns the Engine.IO session underneath.
func (s *Socket) Session() *eventloop.Session { return s.client.sess }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Data returns the value stored with SetData (restored by connection state recovery).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData stores an application value with the socket.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// On registers a handler for an event.
func (s *Socket) On(event string, fn func(*Event)) {
	s.mu.Lock()
	s.handlers.add(event, handler{fn: fn})
	s.mu.Unlock()
}

// Once registers a handler called for the next occurrence of an event only.
func (s *Socket) Once(event string, fn func(*Event)) {
	s.mu.Lock()
	s.handlers.add(event, handler{fn: fn, once: true})
	s.mu.Unlock()
}

// Off removes every handler of an event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.handlers.remove(event)
	s.mu.Unlock()
}

// OnAny registers a handler called for every event, before the event's own handlers.
func (s *Socket) OnAny(fn func(*Event)) {
	s.mu.Lock()
	s.extras().anyHandlers = append(s.extras().anyHandlers, fn)
	s.mu.Unlock()
}

// OnAnyOutgoing registers a handler called for every event emitted to this socket.
func (s *Socket) OnAnyOutgoing(fn func(event string, args []any)) {
	s.mu.Lock()
	s.extras().anyOutgoing = append(s.extras().anyOutgoing, fn)
	s.hasOutgoing.Store(true)
	s.mu.Unlock()
}

// Use adds a middleware run for each incoming event before its handlers; an error drops the event and is given
// to the OnError handlers.
func (s *Socket) Use(fn func(*Event) error) {
	s.mu.Lock()
	s.extras().middlewares = append(s.extras().middlewares, fn)
	s.mu.Unlock()
}

// OnError registers a handler for errors of this socket (a middleware refusal).
func (s *Socket) OnError(fn func(error)) {
	s.mu.Lock()
	s.extras().errorHandlers = append(s.extras().errorHandlers, fn)
	s.mu.Unlock()
}

// OnDisconnecting registers a handler called when the socket is about to disconnect, still in its rooms.
func (s *Socket) OnDisconnecting(fn func(reason string)) {
	s.mu.Lock()
	s.disconnecting = append(s.disconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnect registers a handler called once the socket disconnected.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.disconnected = append(s.disconnected, fn)
	s.mu.Unlock()
}

// Rooms returns the rooms the socket is in (its own id included).
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) {
	if !s.joinable() {
		return
	}
	s.nsp.adapter.AddAll(s.id, rooms)
	// A disconnection that began meanwhile may have emptied the socket's rooms before these were added: take
	// them out again rather than leave a departed socket in them. (The adapter is not called under s.mu: a
	// broadcast may hold the adapter's locks while it reads the socket.)
	if !s.joinable() {
		for _, r := range rooms {
			s.nsp.adapter.Del(s.id, r)
		}
	}
}

// joinable reports whether the socket is connected and not disconnecting.
func (s *Socket) joinable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected && !s.leaving
}

// Leave removes the socket from a room.
func (s *Socket) Leave(room string) { s.nsp.adapter.Del(s.id, room) }

// Emit sends an event to this socket. When the last argument is an AckFunc, the client is asked to acknowledge.
func (s *Socket) Emit(event string, args ...any) error {
	return s.emit(event, args, emitFlags{})
}

// EmitWithAck sends an event and waits for the client's acknowledgement, or for ctx to end.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (*Args, error) {
	return s.emitWithAck(ctx, event, args, emitFlags{})
}

// Timeout returns an emitter whose acknowledgements time out after d.
func (s *Socket) Timeout(d time.Duration) *Emitter {
	return &Emitter{s: s, flags: emitFlags{timeout: d}}
}

// Volatile returns an emitter whose events may be dropped when the client is not ready to receive them.
func (s *Socket) Volatile() *Emitter { return &Emitter{s: s, flags: emitFlags{volatile: true}} }

// Compress returns an emitter with the compress flag set (kept for API parity).
func (s *Socket) Compress(bool) *Emitter { return &Emitter{s: s} }

// Broadcast targets every socket of the namespace but this one.
func (s *Socket) Broadcast() *BroadcastOperator {
	return &BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// To targets rooms, this socket excluded.
func (s *Socket) To(rooms ...string) *BroadcastOperator { return s.Broadcast().To(rooms...) }

// In is an alias of To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.Broadcast().In(rooms...) }

// Except excludes rooms, and this socket.
func (s *Socket) Except(rooms ...string) *BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Local targets every other socket of the namespace on this node only.
func (s *Socket) Local() *BroadcastOperator { return s.Broadcast().Local() }

// Disconnect disconnects the socket from its namespace (the client gets reason "io server disconnect" and does
// not reconnect). With close, the whole connection is closed too.
func (s *Socket) Disconnect(close bool) {
	if !s.Connected() {
		return
	}
	if close {
		for _, other := range s.client.connected() {
			other.Disconnect(false)
		}
		s.client.closeWith(ReasonForcedServerClose)
		return
	}
	b := bytebufferpool.Get()
	b.B = sio.AppendDisconnect(b.B, s.nsp.name)
	_ = s.client.write(b.B, nil)
	bytebufferpool.Put(b)
	s.onClose(ReasonServerNamespaceDisconnect)
}

// Emitter emits on one socket with flags (timeout, volatile).
type Emitter struct {
	s     *Socket
	flags emitFlags
}

// Emit sends an event; see Socket.Emit.
func (e *Emitter) Emit(event string, args ...any) error { return e.s.emit(event, args, e.flags) }

// EmitWithAck sends an event and waits for the acknowledgement, the timeout or the end of ctx.
func (e *Emitter) EmitWithAck(ctx context.Context, event string, args ...any) (*Args, error) {
	return e.s.emitWithAck(ctx, event, args, e.flags)
}

type emitFlags struct {
	timeout  time.Duration
	volatile bool
}

func (s *Socket) emit(event string, args []any, flags emitFlags) error {
	if sio.IsReservedEvent(event) {
		return ErrReservedEvent
	}
	if !s.Connected() { // before an acknowledgement is registered: it would never be answered
		return ErrDisconnected
	}
	id := sio.NoID
	if n := len(args); n > 0 {
		if fn, ok := args[n-1].(AckFunc); ok {
			args = args[:n-1]
			id = s.registerAck(fn, flags.timeout)
		} else if fn, ok := args[n-1].(func(error, *Args)); ok {
			args = args[:n-1]
			id = s.registerAck(fn, flags.timeout)
		}
	}
	if s.nsp.server.opts.ConnectionStateRecovery != nil && id == sio.NoID && !flags.volatile {
		// Through the adapter, so that the packet gets an offset and is kept for a recovery; the adapter's
		// broadcast notifies the OnAnyOutgoing handlers (with the offset, as the Node.js server does).
		return s.nsp.adapter.Broadcast(&OutPacket{Event: event, Args: args}, BroadcastOptions{Rooms: []string{s.id}})
	}
	s.notifyOutgoing(event, args)
	return s.writeEvent(event, id, args, flags.volatile)
}

func (s *Socket) emitWithAck(ctx context.Context, event string, args []any, flags emitFlags) (*Args, error) {
	type result struct {
		args *Args
		err  error
	}
	done := make(chan result, 1)
	args = append(args[:len(args):len(args)], AckFunc(func(err error, a *Args) { done <- result{a, err} }))
	if err := s.emit(event, args, flags); err != nil {
		return nil, err
	}
	select {
	case r := <-done:
		return r.args, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// writeEvent encodes an event and queues it on the connection.
func (s *Socket) writeEvent(event string, id int64, args []any, volatile bool) error {
	if volatile && s.client.sess.Closed() {
		return nil
	}
	enc := getEncoder()
	defer putEncoder(enc)
	b := bytebufferpool.Get()
	defer bytebufferpool.Put(b)
	out, err := enc.AppendEvent(b.B, s.nsp.name, id, event, args)
	if err != nil {
		return err
	}
	b.B = out
	return s.client.write(b.B, enc.Attachments)
}

func (s *Socket) sendAck(id int64, args []any) error {
	enc := getEncoder()
	defer putEncoder(enc)
	b := bytebufferpool.Get()
	defer bytebufferpool.Put(b)
	out, err := enc.AppendAck(b.B, s.nsp.name, id, args)
	if err != nil {
		return err
	}
	b.B = out
	return s.client.write(b.B, enc.Attachments)
}

func (s *Socket) notifyOutgoing(event string, args []any) {
	s.mu.Lock()
	var listeners []func(string, []any)
	if s.extra != nil {
		listeners = s.extra.anyOutgoing
	}
	s.mu.Unlock()
	for _, fn := range listeners {
		fn(event, args)
	}
}

// registerAck stores an acknowledgement callback under a new id of the namespace, and returns the id.
func (s *Socket) registerAck(fn AckFunc, timeout time.Duration) int64 {
	id := s.nsp.nextAckID()
	s.registerAckID(id, fn, timeout)
	return id
}

// registerAckID stores an acknowledgement callback under id.
func (s *Socket) registerAckID(id int64, fn AckFunc, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	p := &pendingAck{fn: fn}
	if timeout > 0 {
		p.timer = new(wheel.Timer)
		p.timer.Init(s.nsp.server.engine.Timers(), func() {
			if s.takeAck(id) != nil {
				s.nsp.server.ackTimeouts.Add(1)
				s.client.tasks.run(func() { fn(ErrAckTimeout, nil) })
			}
		})
		p.timer.Reset(timeout)
	}
	s.acks[id] = p
}

func (s *Socket) takeAck(id int64) *pendingAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.acks[id]
	delete(s.acks, id)
	return p
}

// onConnect completes the connection: own room, CONNECT packet, missed packets.
func (s *Socket) onConnect() {
	s.mu.Lock()
	s.connected = true
	var missed [][]any
	var rooms []string
	if x := s.extra; x != nil {
		missed, rooms = x.missed, x.restoredRooms
		x.missed, x.restoredRooms = nil, nil
	}
	s.mu.Unlock()
	s.nsp.adapter.AddAll(s.id, append([]string{s.id}, rooms...))
	b := bytebufferpool.Get()
	b.B = sio.AppendConnectPID(b.B, s.nsp.name, s.id, s.pid) // without recovery, pid is empty: a plain CONNECT
	_ = s.client.write(b.B, nil)
	bytebufferpool.Put(b)
	for _, p := range missed {
		if len(p) == 0 {
			continue
		}
		name, _ := p[0].(string)
		_ = s.writeEvent(name, sio.NoID, p[1:], false)
	}
}

// onPacket handles a packet for this socket. It runs on the client's queue.
func (s *Socket) onPacket(p sio.Packet, attachments [][]byte) {
	switch p.Type {
	case sio.Event, sio.BinaryEvent:
		args := new(Args)
		name, err := sio.SplitEvent(p.Data, args)
		if err != nil {
			return
		}
		args.SetAttachments(attachments)
		s.dispatch(&Event{Name: string(name), Args: args, socket: s, ackID: p.ID})
	case sio.Ack, sio.BinaryAck:
		pa := s.takeAck(p.ID)
		if pa == nil {
			return
		}
		if pa.timer != nil {
			pa.timer.Stop()
		}
		args := new(Args)
		if err := sio.ParseArgs(p.Data, args); err != nil {
			return
		}
		args.SetAttachments(attachments)
		pa.fn(nil, args)
	case sio.Disconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

func (s *Socket) dispatch(e *Event) {
	s.mu.Lock()
	var mws []func(*Event) error
	var anys []func(*Event)
	if x := s.extra; x != nil {
		mws, anys = x.middlewares, x.anyHandlers
	}
	s.mu.Unlock()
	for _, mw := range mws {
		if err := mw(e); err != nil {
			s.onError(err)
			return
		}
	}
	for _, fn := range anys {
		fn(e)
	}
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	list := s.handlers.take(e.Name)
	s.mu.Unlock()
	for _, h := range list {
		h.fn(e)
	}
	for _, h := range s.nsp.eventHandlers(e.Name) {
		h.fn(e)
	}
}

func (s *Socket) onError(err error) {
	s.mu.Lock()
	var handlers []func(error)
	if s.extra != nil {
		handlers = s.extra.errorHandlers
	}
	s.mu.Unlock()
	for _, fn := range handlers {
		fn(err)
	}
}

// onClose disconnects the socket with reason. It runs on the client's queue or in Disconnect.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if !s.connected || s.leaving {
		s.mu.Unlock()
		return
	}
	s.leaving = true // before the rooms are emptied: see Join
	before := s.disconnecting
	s.mu.Unlock()
	for _, fn := range before {
		fn(reason)
	}
	if s.nsp.server.opts.ConnectionStateRecovery != nil && recoverable(reason) {
		s.nsp.adapter.PersistSession(&SessionState{
			SID:   s.id,
			PID:   s.pid,
			Rooms: s.Rooms(),
			Data:  s.Data(),
		})
	}
	s.nsp.adapter.DelAll(s.id)
	s.nsp.remove(s)
	s.client.detach(s)
	s.mu.Lock()
	s.connected = false
	after := s.disconnected
	s.mu.Unlock()
	for _, fn := range after {
		fn(reason)
	}
}

var encoders = sync.Pool{New: func() any { return new(sio.Encoder) }}

func getEncoder() *sio.Encoder { return encoders.Get().(*sio.Encoder) }

func putEncoder(e *sio.Encoder) {
	clear(e.Attachments)
	e.Attachments = e.Attachments[:0]
	encoders.Put(e)
}
