package eventloop

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/fastio/fastio/codec/eio"
	"github.com/fastio/fastio/codec/wsframe"
)

// Frame is a message encoded once, ready to be written to many WebSocket connections: the frames of its
// packets back to back. It is shared by reference by every recipient and returns to its pool after the last
// event loop wrote it.
type Frame struct {
	buf     *bytebufferpool.ByteBuffer
	packets []Packet // the packets, kept for polling recipients (they alias buf.B)
	refs    atomic.Int32
}

var framePool = sync.Pool{New: func() any { return new(Frame) }}

// NewFrame encodes packets (a Socket.IO packet and its attachments) as WebSocket frames. The data is copied.
// The caller owns one reference: pass the frame to a Fanout, then call Release.
func NewFrame(packets ...Packet) *Frame {
	f := framePool.Get().(*Frame)
	f.buf = bytebufferpool.Get()
	f.refs.Store(1)
	for _, p := range packets {
		f.buf.B = appendWSPacket(f.buf.B, eio.Packet{Type: eio.Message, Data: p.Data, Binary: p.Binary})
	}
	// The packets for polling recipients alias the frames' payloads; the buffer does not move any more.
	f.packets = f.packets[:0]
	b := f.buf.B
	for _, p := range packets {
		n := wsframe.HeaderLen(len(p.Data))
		if !p.Binary {
			n = wsframe.HeaderLen(len(p.Data)+1) + 1
		}
		f.packets = append(f.packets, Packet{Data: b[n : n+len(p.Data)], Binary: p.Binary})
		b = b[n+len(p.Data):]
	}
	return f
}

// Bytes returns the encoded frames.
func (f *Frame) Bytes() []byte { return f.buf.B }

func (f *Frame) retain() { f.refs.Add(1) }

// Release drops a reference; the last one returns the frame to its pool.
func (f *Frame) Release() {
	if f.refs.Add(-1) == 0 {
		bytebufferpool.Put(f.buf)
		f.buf = nil
		clear(f.packets)
		f.packets = f.packets[:0]
		framePool.Put(f)
	}
}

// fanBatch is one frame for the recipients of one event loop.
type fanBatch struct {
	frame    *Frame
	volatile bool
	conns    []*conn
	queued   int64 // monotonic ns when the batch was handed to its loop
}

var batchPool = sync.Pool{New: func() any { return new(fanBatch) }}

// loopState is fastio's side of one gnet event loop: the broadcasts waiting to be written by it.
type loopState struct {
	srv *Server
	el  gnet.EventLoop

	mu        sync.Mutex
	queue     []*fanBatch
	scheduled bool

	// Used only by the loop while it writes a queue.
	running []*fanBatch
	dirty   []*conn
}

func (s *Server) loopFor(el gnet.EventLoop) *loopState {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	ls := s.loops[el]
	if ls == nil {
		ls = &loopState{srv: s, el: el}
		s.loops[el] = ls
	}
	return ls
}

// enqueue hands a batch to the loop and makes sure the loop will run.
func (ls *loopState) enqueue(b *fanBatch) {
	b.queued = monotime()
	ls.mu.Lock()
	ls.queue = append(ls.queue, b)
	schedule := !ls.scheduled
	ls.scheduled = true
	ls.mu.Unlock()
	if schedule {
		if err := ls.el.Execute(context.Background(), ls); err != nil {
			ls.srv.cfg.Logger.Debug("cannot schedule a broadcast", "err", err)
		}
	}
}

// pending reports whether broadcasts wait for the loop.
func (ls *loopState) pending() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.queue) > 0
}

// Run writes every queued broadcast. It runs on the event loop: all broadcasts waiting for one connection
// leave in one writev, after what the connection's session had queued before them.
func (ls *loopState) Run(context.Context) error {
	ls.mu.Lock()
	ls.running, ls.queue = ls.queue, ls.running[:0]
	ls.scheduled = false
	ls.mu.Unlock()

	for _, b := range ls.running {
		for _, c := range b.conns {
			c.stage(b, ls)
		}
	}
	written := 0
	for _, c := range ls.dirty {
		for _, b := range c.staged {
			written += len(b)
		}
	}
	ls.srv.metrics.BytesOut.Add(int64(written)) // once per run: the loops do not contend on the counter per write
	for _, c := range ls.dirty {
		c.writeStaged()
	}
	clear(ls.dirty)
	ls.dirty = ls.dirty[:0]
	now := monotime()
	for i, b := range ls.running {
		ls.srv.fanoutLatency.Observe(time.Duration(now - b.queued))
		b.frame.Release()
		clear(b.conns)
		b.conns = b.conns[:0]
		b.frame = nil
		batchPool.Put(b)
		ls.running[i] = nil
	}
	ls.running = ls.running[:0]
	return nil
}

// maxIovecs bounds one writev (the kernel's IOV_MAX is 1024).
const maxIovecs = 1024

// stage adds a broadcast frame to what the connection writes at the end of the loop's run. What its session
// queued earlier goes first, so that a socket sees its packets in the order they were sent.
func (c *conn) stage(b *fanBatch, ls *loopState) {
	if c.closed || c.mode != modeWebSocket || c.sess == nil {
		return
	}
	s := c.sess
	s.mu.Lock()
	if s.ws != c || s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if b.volatile && (len(c.staged) > 0 || (s.wsOut != nil && len(s.wsOut.B) > 0) || c.gc.OutboundBuffered() > 0) {
		s.mu.Unlock()
		return // the client is not keeping up: a volatile packet is dropped
	}
	if len(c.staged) == 0 {
		ls.dirty = append(ls.dirty, c)
	}
	if s.wsOut != nil && len(s.wsOut.B) > 0 {
		c.stagedOwn = append(c.stagedOwn, s.wsOut)
		c.staged = append(c.staged, s.wsOut.B)
		s.wsOut = nil
	}
	s.mu.Unlock()
	c.staged = append(c.staged, b.frame.buf.B)
}

// writeStaged writes the staged frames in as few writev calls as the kernel allows.
func (c *conn) writeStaged() {
	if len(c.staged) == 1 {
		_, _ = c.gc.Write(c.staged[0]) // write(2) costs a little less than writev(2) with one buffer
	} else {
		for off := 0; off < len(c.staged) && !c.closed; off += maxIovecs {
			_, _ = c.gc.Writev(c.staged[off:min(off+maxIovecs, len(c.staged))])
		}
	}
	clear(c.staged)
	c.staged = c.staged[:0]
	if cap(c.staged) > 64 {
		c.staged = nil // a burst is over: an idle connection keeps no large slice
	}
	for i, b := range c.stagedOwn {
		bytebufferpool.Put(b)
		c.stagedOwn[i] = nil
	}
	c.stagedOwn = c.stagedOwn[:0]
	c.dropIfSlow()
}

// Fanout delivers one Frame to many sessions: WebSocket recipients are grouped by event loop and each loop
// gets one task for all of them; polling recipients get the packets queued. Use it from one goroutine:
// NewFanout, Add for each recipient, then Flush.
type Fanout struct {
	srv      *Server
	frame    *Frame
	volatile bool
	batches  map[*loopState]*fanBatch
	count    int
	onLoops  int // recipients written by the event loops (their packets are counted at Flush)
}

var fanoutPool = sync.Pool{New: func() any { return &Fanout{batches: make(map[*loopState]*fanBatch)} }}

// NewFanout starts a delivery of frame. volatile drops the frame for recipients that are not ready to
// receive it at once.
func (s *Server) NewFanout(frame *Frame, volatile bool) *Fanout {
	f := fanoutPool.Get().(*Fanout)
	f.srv, f.frame, f.volatile, f.count, f.onLoops = s, frame, volatile, 0, 0
	return f
}

// Add adds a recipient. It reports false when the session is closed.
func (f *Fanout) Add(s *Session) bool {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	if !s.websocket || s.ws == nil {
		// Polling (or upgrading): the packets join the session's queue, like any Send.
		if f.volatile && s.poll == nil {
			s.mu.Unlock()
			return true
		}
		for _, p := range f.frame.packets {
			s.queueLocked(eio.Message, p.Data, p.Binary)
		}
		_ = s.checkBacklogAndUnlock()
		f.count++
		return true
	}
	c, onLoop := s.ws.(*conn)
	if !onLoop {
		// A WebSocket served by net/http has its own writer goroutine: the frames join its queue.
		if f.volatile && s.wsOut != nil && len(s.wsOut.B) > 0 {
			s.mu.Unlock()
			return true
		}
		if s.wsOut == nil {
			s.wsOut = bytebufferpool.Get()
		}
		s.wsOut.B = append(s.wsOut.B, f.frame.buf.B...)
		s.ep.metrics.PacketsOut.Add(int64(len(f.frame.packets)))
		s.scheduleLocked(s.ws)
		_ = s.checkBacklogAndUnlock()
		f.count++
		return true
	}
	s.mu.Unlock()
	ls := c.loop
	b := f.batches[ls]
	if b == nil {
		b = batchPool.Get().(*fanBatch)
		b.frame, b.volatile = f.frame, f.volatile
		f.frame.retain()
		f.batches[ls] = b
	}
	b.conns = append(b.conns, c)
	f.count++
	f.onLoops++
	return true
}

// Flush hands the batches to their event loops and ends the delivery; the Fanout must not be used after. It
// returns the number of recipients added.
func (f *Fanout) Flush() int {
	for ls, b := range f.batches {
		ls.enqueue(b)
		delete(f.batches, ls)
	}
	n := f.count
	m := &f.srv.metrics
	m.Broadcasts.Add(1)
	m.BroadcastRecipients.Add(int64(n))
	m.PacketsOut.Add(int64(f.onLoops * len(f.frame.packets)))
	f.srv, f.frame = nil, nil
	fanoutPool.Put(f)
	return n
}
