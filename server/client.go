package server

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/sio"
	"github.com/fastio/fastio/eventloop"
	"github.com/fastio/fastio/internal/wheel"
)

// Disconnect reasons, as the Node.js server spells them.
const (
	ReasonTransportError            = eventloop.ReasonTransportError
	ReasonTransportClose            = eventloop.ReasonTransportClose
	ReasonForcedClose               = eventloop.ReasonForcedClose
	ReasonPingTimeout               = eventloop.ReasonPingTimeout
	ReasonParseError                = eventloop.ReasonParseError
	ReasonServerShuttingDown        = eventloop.ReasonServerClose
	ReasonForcedServerClose         = "forced server close"
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
)

// recoverable lists the reasons after which a session is kept for connection state recovery.
func recoverable(reason string) bool {
	switch reason {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout,
		ReasonServerShuttingDown, ReasonForcedServerClose:
		return true
	}
	return false
}

// client is the Socket.IO side of one Engine.IO session: the sockets it opened in each namespace, the decoder
// state, and the queue that runs its handlers in order off the event loop.
type client struct {
	srv  *Server
	sess *eventloop.Session

	mu          sync.Mutex       // guards the fields below
	sockets     []*Socket        // connected sockets, in the order they connected (one per namespace; usually one)
	connecting  []string         // namespaces whose CONNECT is being handled
	reasm       *sio.Reassembler // allocated at the first binary packet: most clients never send one
	closeReason string           // set when the server closes the session itself
	closed      bool

	connectTimer *wheel.Timer // guarded by mu: armed until the first namespace is joined, then dropped
	tasks        mailbox
}

func newClient(s *Server, sess *eventloop.Session) *client {
	c := &client{srv: s, sess: sess}
	c.tasks.client = c
	c.connectTimer = new(wheel.Timer)
	c.connectTimer.Init(s.engine.Timers(), c.onConnectTimeout)
	c.connectTimer.Reset(s.opts.ConnectTimeout)
	return c
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.closeWith(ReasonForcedServerClose)
	}
}

// closeWith closes the Engine.IO session; the sockets then disconnect with reason.
func (c *client) closeWith(reason string) {
	c.mu.Lock()
	if c.closeReason == "" {
		c.closeReason = reason
	}
	c.mu.Unlock()
	c.sess.Close()
}

// onMessage decodes a message of the session. It runs on the event loop: what the handlers need is copied, and
// the handling itself is queued.
func (c *client) onMessage(data []byte, binary bool) {
	if binary {
		c.mu.Lock()
		if c.reasm == nil {
			c.reasm = new(sio.Reassembler)
		}
		done, p, att, err := c.reasm.Add(data)
		c.mu.Unlock()
		if err != nil {
			c.protocolError()
			return
		}
		if done {
			c.route(p, att, false)
		}
		return
	}
	p, err := sio.Decode(data)
	if err != nil {
		c.protocolError()
		return
	}
	if p.Attachments > 0 && (p.Type == sio.BinaryEvent || p.Type == sio.BinaryAck) {
		c.mu.Lock()
		if c.reasm == nil {
			c.reasm = new(sio.Reassembler)
		}
		waiting := c.reasm.Waiting()
		if !waiting {
			c.reasm.Start(p)
		}
		c.mu.Unlock()
		if waiting {
			c.protocolError()
		}
		return
	}
	c.route(p, nil, true)
}

// protocolError closes the session after a packet that does not decode, as the Node.js server does.
func (c *client) protocolError() {
	c.sess.Close()
}

// route hands a complete packet to its socket, or connects a namespace. mustCopy tells whether the packet aliases
// the event loop's read buffer.
func (c *client) route(p sio.Packet, att [][]byte, mustCopy bool) {
	nsp := string(p.Namespace)
	c.mu.Lock()
	socket := c.socketLocked(nsp)
	connecting := slices.Contains(c.connecting, nsp)
	if socket == nil && p.Type == sio.Connect && !connecting {
		c.connecting = append(c.connecting, nsp)
	}
	c.mu.Unlock()
	switch {
	case socket == nil && p.Type == sio.Connect && !connecting:
		auth := RawJSON(`{}`)
		if len(p.Data) > 0 {
			auth = RawJSON(bytes.Clone(p.Data))
		}
		c.tasks.run(func() { c.connect(nsp, auth) })
	case socket != nil && p.Type != sio.Connect && p.Type != sio.ConnectError:
		if p.Type == sio.Disconnect {
			// The namespace is left at once, as the Node.js server does: a CONNECT right behind the DISCONNECT (the
			// client's disconnect() then connect()) opens a new socket instead of finding this one. The socket's
			// own disconnection runs in order with its other packets.
			c.detach(socket)
		}
		if mustCopy {
			p.Data = bytes.Clone(p.Data)
		}
		p.Namespace = nil
		if c.srv.opts.InlineHandlers {
			c.tasks.runHere(func() { socket.onPacket(p, att) })
		} else {
			c.tasks.run(func() { socket.onPacket(p, att) })
		}
	default:
		// A packet for a namespace the client has not joined, or a second CONNECT: the Node.js server closes.
		c.closeWith(ReasonForcedServerClose)
	}
}

// connect joins a namespace. It runs on the client's queue.
func (c *client) connect(name string, auth RawJSON) {
	defer c.connectDone(name) // in case add returned early
	ns := c.srv.lookup(name, auth)
	if ns == nil {
		c.connectDone(name)
		c.writeConnectError(name, "Invalid namespace", nil)
		return
	}
	ns.add(c, auth)
}

// connectDone ends the handling of a CONNECT to name. It runs before the answer is written: a client may send
// its next packet for the namespace (a new CONNECT after an error, say) as soon as it has the answer.
func (c *client) connectDone(name string) {
	c.mu.Lock()
	c.connecting = slices.DeleteFunc(c.connecting, func(n string) bool { return n == name })
	c.mu.Unlock()
}

func (c *client) writeConnectError(nsp, message string, data any) {
	b := bytebufferpool.Get()
	defer bytebufferpool.Put(b)
	out, err := sio.AppendConnectError(b.B, nsp, message, data)
	if err != nil {
		out, _ = sio.AppendConnectError(b.B[:0], nsp, message, nil)
	}
	b.B = out
	_ = c.sess.Send(b.B, false)
}

// attach records a connected socket, which ends the handling of its CONNECT; it reports false when the session
// closed meanwhile.
func (c *client) attach(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sockets = append(c.sockets, s)
	c.connecting = slices.DeleteFunc(c.connecting, func(n string) bool { return n == s.nsp.name })
	c.stopConnectTimerLocked()
	return true
}

// stopConnectTimerLocked disarms and drops the connect timer. c.mu must be held.
func (c *client) stopConnectTimerLocked() {
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
}

func (c *client) detach(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
}

// onEngineClose runs when the Engine.IO session ended: every socket disconnects.
func (c *client) onEngineClose(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.closeReason != "" {
		reason = c.closeReason
	}
	if c.reasm != nil {
		c.reasm.Reset()
	}
	c.stopConnectTimerLocked()
	c.mu.Unlock()
	c.tasks.run(func() {
		for _, s := range c.connected() {
			s.onClose(reason)
		}
	})
}

// socketLocked returns the client's socket in namespace nsp, or nil. c.mu must be held.
func (c *client) socketLocked(nsp string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == nsp {
			return s
		}
	}
	return nil
}

// connected returns the client's sockets in the order they connected.
func (c *client) connected() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sockets)
}

// write sends an encoded packet and its attachments as one batch.
func (c *client) write(text []byte, attachments [][]byte) error {
	if len(attachments) == 0 {
		return c.sess.Send(text, false)
	}
	packets := make([]eventloop.Packet, 0, 1+len(attachments))
	packets = append(packets, eventloop.Packet{Data: text})
	for _, a := range attachments {
		packets = append(packets, eventloop.Packet{Data: a, Binary: true})
	}
	return c.sess.SendBatch(packets...)
}

// mailbox runs tasks one at a time, in order, on a goroutine that exists only while there is work.
type mailbox struct {
	mu      sync.Mutex
	queue   []func()
	running bool
	client  *client // the owner, to log a task that panics (the next tasks still run)
}

func (m *mailbox) run(task func()) {
	m.mu.Lock()
	m.queue = append(m.queue, task)
	if m.running {
		m.mu.Unlock()
		return
	}
	m.running = true
	m.mu.Unlock()
	m.client.srv.workers.submit(m)
}

// runHere runs task on the calling goroutine when the mailbox is idle, then whatever was queued while it ran;
// otherwise it queues task behind the others, as run does, so that the order holds either way.
func (m *mailbox) runHere(task func()) {
	m.mu.Lock()
	if m.running {
		m.queue = append(m.queue, task)
		m.mu.Unlock()
		return
	}
	m.running = true
	m.mu.Unlock()
	m.call(task)
	m.drain()
}

func (m *mailbox) drain() {
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.running = false
			m.queue = nil
			m.mu.Unlock()
			return
		}
		task := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		m.mu.Unlock()
		m.call(task)
	}
}

func (m *mailbox) call(task func()) {
	defer func() {
		if v := recover(); v != nil && m.client != nil {
			m.client.srv.log.Error("socket.io handler panicked", "sid", m.client.sess.ID(), "panic", v)
		}
	}()
	task()
}

// workerPool runs mailboxes on long-lived goroutines: a goroutine that handled a task keeps its grown stack and
// waits for the next mailbox, where a fresh goroutine per burst would start with a small stack and copy it as
// soon as a handler encodes a packet. There is no bound: when every worker is busy (a handler may block), a new
// worker starts, so that one client's slow handler never holds up another's; idle workers exit after a while.
type workerPool struct {
	ready chan *mailbox
	idle  time.Duration
}

func newWorkerPool(idle time.Duration) *workerPool {
	return &workerPool{ready: make(chan *mailbox), idle: idle}
}

// submit hands m to an idle worker, or to a new one.
func (p *workerPool) submit(m *mailbox) {
	select {
	case p.ready <- m:
	default:
		go p.work(m)
	}
}

func (p *workerPool) work(m *mailbox) {
	timer := time.NewTimer(p.idle)
	defer timer.Stop()
	for {
		m.drain()
		timer.Reset(p.idle)
		select {
		case m = <-p.ready:
		case <-timer.C:
			return
		}
	}
}
