package server

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/rooms"
)

// Adapter stores room membership and carries broadcasts and cluster requests for one namespace. The default,
// NewMemoryAdapter, serves a single node; a cluster adapter (Redis) implements the same interface.
type Adapter interface {
	// AddAll adds a local socket to rooms.
	AddAll(id string, rooms []string)
	// Del removes a local socket from a room.
	Del(id, room string)
	// DelAll removes a local socket from all its rooms.
	DelAll(id string)
	// SocketRooms returns the rooms of a local socket.
	SocketRooms(id string) []string
	// Rooms returns the local rooms.
	Rooms() []string
	// Broadcast sends an event to the selected sockets.
	Broadcast(p *OutPacket, opts BroadcastOptions) error
	// BroadcastWithAck sends an event asking for acknowledgements: onCount is called once per server with the
	// number of sockets the event went to there, onAck once per answer.
	BroadcastWithAck(p *OutPacket, opts BroadcastOptions, onCount func(int), onAck func(*Args)) error
	// FetchSockets returns the selected sockets.
	FetchSockets(opts BroadcastOptions) ([]*RemoteSocket, error)
	// AddSockets makes the selected sockets join rooms.
	AddSockets(opts BroadcastOptions, rooms []string)
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(opts BroadcastOptions, rooms []string)
	// DisconnectSockets disconnects the selected sockets.
	DisconnectSockets(opts BroadcastOptions, close bool)
	// ServerSideEmit sends an event to the other servers; ack, when not nil, collects their answers.
	ServerSideEmit(event string, args []any, ack *ServerSideAck) error
	// ServerCount returns the number of servers in the cluster, this one included.
	ServerCount() int
	// PersistSession keeps the state of a disconnected socket for connection state recovery.
	PersistSession(st *SessionState)
	// RestoreSession returns the state of a session and the packets it missed since offset, or nil.
	RestoreSession(pid, offset string) (*SessionState, error)
	// Close releases the adapter.
	Close() error
}

// AdapterFactory creates the adapter of a namespace.
type AdapterFactory func(nsp *Namespace) Adapter

// ServerSideAck collects the answers of the other servers to a ServerSideEmit.
type ServerSideAck struct {
	Timeout time.Duration
	Done    func(responses []*Args, err error)
}

// SessionState is what connection state recovery keeps of a disconnected socket.
type SessionState struct {
	SID   string
	PID   string
	Rooms []string
	Data  any
	// MissedPackets are the events the socket missed: the event name followed by its arguments.
	MissedPackets [][]any

	disconnectedAt time.Time
}

// MemoryAdapter is the single-node adapter: rooms in a sharded in-memory index.
type MemoryAdapter struct {
	nsp   *Namespace
	rooms *rooms.Index[string, *Socket]

	// connection state recovery
	mu       sync.Mutex
	sessions map[string]*SessionState // by pid
	packets  []storedPacket
	stop     chan struct{}
}

type storedPacket struct {
	offset    string
	opts      BroadcastOptions
	data      []any // event name, then arguments (the offset last)
	emittedAt time.Time
}

// NewMemoryAdapter returns the in-memory adapter of nsp.
func NewMemoryAdapter(nsp *Namespace) Adapter {
	a := &MemoryAdapter{nsp: nsp, rooms: rooms.New[string, *Socket]()}
	if rec := nsp.server.opts.ConnectionStateRecovery; rec != nil {
		a.sessions = make(map[string]*SessionState)
		a.stop = make(chan struct{})
		go a.expire(rec.MaxDisconnectionDuration)
	}
	return a
}

// AddAll adds a local socket to rooms. A socket's own room (its id) is not stored: the namespace's socket table
// already answers for it, which saves an idle socket a room of its own.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	if slices.Contains(rooms, id) { // copy only to take the own room out
		rooms = slices.DeleteFunc(slices.Clone(rooms), func(r string) bool { return r == id })
	}
	if len(rooms) > 0 {
		a.rooms.Join(id, a.nsp.Socket(id), rooms...)
	}
}

// Del removes a local socket from a room.
func (a *MemoryAdapter) Del(id, room string) { a.rooms.Leave(id, room) }

// DelAll removes a local socket from all its rooms.
func (a *MemoryAdapter) DelAll(id string) { a.rooms.LeaveAll(id) }

// SocketRooms returns the rooms of a local socket, its own room first.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	if a.nsp.Socket(id) == nil {
		return nil
	}
	return append([]string{id}, a.rooms.RoomsOf(id)...)
}

// Rooms returns the local rooms, the sockets' own rooms included.
func (a *MemoryAdapter) Rooms() []string {
	rooms := a.rooms.AllRooms()
	for _, s := range a.nsp.Sockets() {
		rooms = append(rooms, s.id)
	}
	return rooms
}

// HasRoom reports whether a local socket is in room (its own room included).
func (a *MemoryAdapter) HasRoom(room string) bool {
	return a.nsp.Socket(room) != nil || a.rooms.Len(room) > 0
}

// eachInRoom calls fn for the local members of room: the socket whose own room it is, then the index's members.
func (a *MemoryAdapter) eachInRoom(room string, fn func(id string, s *Socket)) {
	if s := a.nsp.Socket(room); s != nil {
		fn(room, s)
	}
	a.rooms.Each(room, func(id string, s *Socket) bool {
		if s != nil {
			fn(id, s)
		}
		return true
	})
}

// Targets returns the local sockets a broadcast with opts reaches.
func (a *MemoryAdapter) Targets(opts BroadcastOptions) []*Socket {
	var out []*Socket
	a.forEachTarget(opts, func(s *Socket) { out = append(out, s) })
	return out
}

// Broadcast encodes the event once and queues it on every selected local socket.
func (a *MemoryAdapter) Broadcast(p *OutPacket, opts BroadcastOptions) error {
	args := p.Args
	if a.sessions != nil && !opts.Flags.Volatile {
		offset := a.nsp.server.nextOffset()
		args = append(args[:len(args):len(args)], offset)
		a.mu.Lock()
		a.packets = append(a.packets, storedPacket{
			offset: offset, opts: opts, data: append([]any{p.Event}, args...), emittedAt: time.Now(),
		})
		a.mu.Unlock()
	}
	return a.send(p.Event, sio.NoID, args, opts, nil)
}

func (a *MemoryAdapter) send(event string, id int64, args []any, opts BroadcastOptions, each func(*Socket)) error {
	frame, err := encodeFrame(a.nsp.name, id, event, args)
	if err != nil {
		return err
	}
	defer frame.Release()
	fan := a.nsp.server.engine.NewFanout(frame, opts.Flags.Volatile)
	var notify []*Socket
	a.forEachTarget(opts, func(s *Socket) {
		if each != nil {
			each(s)
		}
		if s.hasOutgoing.Load() {
			notify = append(notify, s)
		}
		fan.Add(s.client.sess)
	})
	fan.Flush()
	for _, s := range notify {
		s.notifyOutgoing(event, args)
	}
	return nil
}

// encodeFrame encodes an event once, as the ready-to-write frames of its packet and attachments.
func encodeFrame(nsp string, id int64, event string, args []any) (*eventloop.Frame, error) {
	enc := getEncoder()
	defer putEncoder(enc)
	b := bytebufferpool.Get()
	defer bytebufferpool.Put(b)
	out, err := enc.AppendEvent(b.B, nsp, id, event, args)
	if err != nil {
		return nil, err
	}
	b.B = out
	var stack [4]eventloop.Packet
	packets := append(stack[:0], eventloop.Packet{Data: b.B})
	for _, att := range enc.Attachments {
		packets = append(packets, eventloop.Packet{Data: att, Binary: true})
	}
	return eventloop.NewFrame(packets...), nil
}

// forEachTarget calls fn for each local socket a broadcast with opts reaches, without building the list: a
// broadcast to a large room costs a walk of the room. fn runs under the room's read lock: it must not join or
// leave rooms, nor call application code.
func (a *MemoryAdapter) forEachTarget(opts BroadcastOptions, fn func(*Socket)) {
	excluded := a.exceptSet(opts.Except)
	switch len(opts.Rooms) {
	case 0:
		a.nsp.mu.RLock()
		defer a.nsp.mu.RUnlock()
		for id, s := range a.nsp.sockets {
			if !excluded(id) {
				fn(s)
			}
		}
	case 1:
		a.eachInRoom(opts.Rooms[0], func(id string, s *Socket) {
			if !excluded(id) {
				fn(s)
			}
		})
	default:
		seen := make(map[string]struct{})
		for _, room := range opts.Rooms {
			a.eachInRoom(room, func(id string, s *Socket) {
				if _, dup := seen[id]; !dup && !excluded(id) {
					seen[id] = struct{}{}
					fn(s)
				}
			})
		}
	}
}

// exceptSet returns a membership test for the sockets in any of rooms.
func (a *MemoryAdapter) exceptSet(rooms []string) func(id string) bool {
	if len(rooms) == 0 {
		return func(string) bool { return false }
	}
	var ids []string
	for _, r := range rooms {
		a.eachInRoom(r, func(id string, _ *Socket) { ids = append(ids, id) })
	}
	if len(ids) <= 8 {
		return func(id string) bool { return slices.Contains(ids, id) }
	}
	set := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	return func(id string) bool { _, ok := set[id]; return ok }
}

// BroadcastWithAck sends the event once, with one acknowledgement id registered on every selected socket.
func (a *MemoryAdapter) BroadcastWithAck(p *OutPacket, opts BroadcastOptions, onCount func(int), onAck func(*Args)) error {
	id := a.nsp.nextAckID()
	count := 0
	err := a.send(p.Event, id, p.Args, opts, func(s *Socket) {
		s.registerAckID(id, func(err error, args *Args) {
			if err == nil {
				onAck(args)
			}
		}, 0)
		count++
	})
	if err != nil {
		return err
	}
	onCount(count)
	return nil
}

// FetchSockets returns the selected local sockets.
func (a *MemoryAdapter) FetchSockets(opts BroadcastOptions) ([]*RemoteSocket, error) {
	targets := a.Targets(opts)
	out := make([]*RemoteSocket, 0, len(targets))
	for _, s := range targets {
		out = append(out, &RemoteSocket{ID: s.id, Handshake: s.handshake, Rooms: s.Rooms(), Data: s.Data(), local: s, nsp: a.nsp})
	}
	return out, nil
}

// AddSockets makes the selected local sockets join rooms.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) {
	for _, s := range a.Targets(opts) {
		s.Join(rooms...)
	}
}

// DelSockets makes the selected local sockets leave rooms.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) {
	for _, s := range a.Targets(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
}

// DisconnectSockets disconnects the selected local sockets.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, close bool) {
	for _, s := range a.Targets(opts) {
		s.Disconnect(close)
	}
}

// ServerSideEmit has no other server to reach: an ack is answered at once with no responses.
func (a *MemoryAdapter) ServerSideEmit(_ string, _ []any, ack *ServerSideAck) error {
	if ack != nil {
		go ack.Done(nil, nil)
	}
	return nil
}

// ServerCount is 1.
func (a *MemoryAdapter) ServerCount() int { return 1 }

// PersistSession keeps a disconnected socket's state.
func (a *MemoryAdapter) PersistSession(st *SessionState) {
	if a.sessions == nil {
		return
	}
	st.disconnectedAt = time.Now()
	a.mu.Lock()
	a.sessions[st.PID] = st
	a.mu.Unlock()
}

// ErrSessionNotFound is returned by RestoreSession for an unknown or expired session or offset.
var ErrSessionNotFound = errors.New("server: session not found")

// RestoreSession returns a kept session with the packets broadcast to it after offset.
func (a *MemoryAdapter) RestoreSession(pid, offset string) (*SessionState, error) {
	if a.sessions == nil {
		return nil, ErrSessionNotFound
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.sessions[pid]
	if st == nil {
		return nil, ErrSessionNotFound
	}
	delete(a.sessions, pid)
	if time.Since(st.disconnectedAt) > a.nsp.server.opts.ConnectionStateRecovery.MaxDisconnectionDuration {
		return nil, ErrSessionNotFound
	}
	idx := slices.IndexFunc(a.packets, func(p storedPacket) bool { return p.offset == offset })
	if idx < 0 {
		return nil, ErrSessionNotFound
	}
	restored := *st
	for _, p := range a.packets[idx+1:] {
		if includes(st.Rooms, p.opts) {
			restored.MissedPackets = append(restored.MissedPackets, p.data)
		}
	}
	return &restored, nil
}

// includes reports whether a socket in rooms was a target of a broadcast with opts.
func includes(rooms []string, opts BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		if slices.Contains(opts.Except, r) {
			return false
		}
		if !in && slices.Contains(opts.Rooms, r) {
			in = true
		}
	}
	return in
}

// expire drops sessions and packets older than the recovery window, once a minute (as the Node.js adapter).
func (a *MemoryAdapter) expire(window time.Duration) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-t.C:
			a.mu.Lock()
			for pid, st := range a.sessions {
				if now.Sub(st.disconnectedAt) > window {
					delete(a.sessions, pid)
				}
			}
			keep := 0
			for keep < len(a.packets) && now.Sub(a.packets[keep].emittedAt) > window {
				keep++
			}
			if keep > 0 {
				a.packets = slices.Clone(a.packets[keep:])
			}
			a.mu.Unlock()
		}
	}
}

// Close stops the expiry goroutine.
func (a *MemoryAdapter) Close() error {
	if a.stop != nil {
		close(a.stop)
		a.stop = nil
	}
	return nil
}
