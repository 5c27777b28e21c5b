// Package wheel is a hashed timing wheel: many cheap, resettable one-shot
// timers served by a single goroutine.
//
// The server keeps heartbeat, upgrade, connect and request timers for tens of
// thousands of sessions. A Go runtime timer per session would do, but each
// Reset goes through the runtime's timer heap; a Timer here is a few words
// embedded in the session, and Reset/Stop are O(1) list operations under one
// mutex, with no allocation.
//
// Time is cut into ticks (5ms by default). A Wheel has a fixed, power-of-two
// number of slots, and a timer due at absolute tick T sits in slot T mod
// slots, in an intrusive doubly linked list. Every tick the wheel goroutine
// visits the due slot and fires the timers whose tick has come; timers more
// than one revolution away stay in their slot until a later visit. Which ticks
// are due is computed from the monotonic time elapsed since New, not by
// counting wake-ups, so a delayed goroutine catches up on every slot it
// missed and the wheel does not drift.
//
// A timer fires no earlier than the duration passed to Reset and at most two
// ticks later, plus however long the wheel goroutine waits to be scheduled.
//
// Callbacks run one after another on the wheel goroutine, after it has
// released its lock. They must be short and must never block: a slow callback
// delays every other timer of the wheel.
package wheel

import (
	"sync"
	"time"
)

// Defaults used by New for invalid arguments.
const (
	DefaultTick  = 5 * time.Millisecond
	DefaultSlots = 1024
)

// A Wheel runs the timers attached to it on one goroutine. Create it with
// New and release it with Stop.
type Wheel struct {
	tick  time.Duration
	mask  uint64               // len(slots)-1; slots is a power of two
	clock func() time.Duration // monotonic time since the wheel started

	mu      sync.Mutex
	slots   []*Timer // heads of the slot lists (nil when empty)
	next    uint64   // first tick not yet processed: every tick < next is done
	stopped bool

	fired []func() // callbacks collected in one advance; used only by run

	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// New creates a wheel with the given tick resolution and number of slots and
// starts its goroutine. A tick <= 0 means DefaultTick; slots <= 0 means
// DefaultSlots, and other values are rounded up to a power of two.
//
// One revolution (tick * slots) should cover the common timer durations:
// longer timers work, but are skipped over on every visit of their slot until
// their revolution comes.
func New(tick time.Duration, slots int) *Wheel {
	start := time.Now()
	w := newWheel(tick, slots, func() time.Duration { return time.Since(start) })
	go w.run()
	return w
}

// newWheel builds a wheel on the given clock without starting its
// goroutine, so that tests can drive advance by hand.
func newWheel(tick time.Duration, slots int, clock func() time.Duration) *Wheel {
	if tick <= 0 {
		tick = DefaultTick
	}
	if slots <= 0 {
		slots = DefaultSlots
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	return &Wheel{
		tick:  tick,
		mask:  uint64(n - 1),
		clock: clock,
		slots: make([]*Timer, n),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// Stop stops the wheel goroutine and waits for it to exit. Pending timers are
// disarmed and never fire, and later Reset calls do nothing. Stop may be
// called more than once, but must not be called from a timer callback (it
// would wait for itself).
func (w *Wheel) Stop() {
	w.stopOnce.Do(func() {
		close(w.quit)
		<-w.done

		w.mu.Lock()
		defer w.mu.Unlock()
		w.stopped = true
		for i, t := range w.slots {
			for t != nil {
				next := t.next
				t.prev, t.next, t.armed = nil, nil, false
				t = next
			}
			w.slots[i] = nil
		}
	})
}

// run is the wheel goroutine. The ticker only wakes it up: what is due is
// decided by the clock in advance, so dropped or late ticker sends cost
// nothing but latency.
func (w *Wheel) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-ticker.C:
		}
		w.advance()
	}
}

// advance processes every tick that is due by the clock, then runs the
// callbacks of the timers that expired, outside the lock.
func (w *Wheel) advance() {
	now := uint64(w.clock() / w.tick) // the latest tick that is due

	w.mu.Lock()
	if w.stopped || now < w.next {
		w.mu.Unlock()
		return
	}
	// Ticks next..now are due. Visiting a slot with limit now rather than
	// its own tick is equally correct (every timer with expire <= now is
	// due), and it lets a wheel that fell more than a revolution behind
	// catch up by visiting each slot once instead of once per missed tick.
	visits := now - w.next + 1
	if visits > uint64(len(w.slots)) {
		visits = uint64(len(w.slots))
	}
	for i := uint64(0); i < visits; i++ {
		slot := &w.slots[(w.next+i)&w.mask]
		for t := *slot; t != nil; {
			next := t.next
			if t.expire <= now {
				w.unlink(t)
				t.armed = false
				w.fired = append(w.fired, t.fn)
			}
			t = next
		}
	}
	w.next = now + 1
	w.mu.Unlock()

	// Callbacks run without the lock so that they may Reset or Stop any
	// timer, including their own.
	for _, fn := range w.fired {
		fn()
	}
	clear(w.fired) // drop references to the callbacks' closures
	w.fired = w.fired[:0]
}

// link adds t, with t.expire set, to the head of its slot list.
// w.mu must be held.
func (w *Wheel) link(t *Timer) {
	slot := &w.slots[t.expire&w.mask]
	t.prev, t.next = nil, *slot
	if *slot != nil {
		(*slot).prev = t
	}
	*slot = t
}

// unlink removes t from its slot list in O(1); the slot is found from
// t.expire, which is why expire must not change while t is linked.
// w.mu must be held.
func (w *Wheel) unlink(t *Timer) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		w.slots[t.expire&w.mask] = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

// A Timer calls a function once, on its wheel's goroutine, after the duration
// given to Reset. It is meant to be embedded by value in a larger struct (a
// session) so that arming it allocates nothing. The zero value is ready once
// Init has been called. A Timer must not be copied after Init.
//
// Guarantee: fn runs at most once per Reset, and never for an arming that was
// cancelled by Stop or replaced by Reset before the wheel collected the timer
// as expired. The wheel collects expired timers under its lock and then calls
// their callbacks, so there is a window in which the timer is already
// disarmed but fn has not yet returned (or started): in that window Stop
// returns false and a Reset arms a new expiry without cancelling the pending
// call. Callers that must not act on a stale expiry should check their own
// state inside fn.
type Timer struct {
	w  *Wheel
	fn func()

	// Guarded by w.mu.
	prev, next *Timer
	expire     uint64 // absolute tick at which the timer fires
	armed      bool
}

// Init attaches the timer to wheel w with callback fn. Call it once, before
// any other method and without concurrent use of the timer.
//
// fn runs on the wheel goroutine, which serves every timer of the wheel in
// turn: it must be short and must never block (no blocking channel sends, no
// locks held for long, no I/O). Hand longer work to another goroutine or
// event loop. fn may call Reset or Stop on any timer, including its own, but
// must not call Wheel.Stop, and must not panic.
func (t *Timer) Init(w *Wheel, fn func()) {
	t.w = w
	t.fn = fn
}

// Reset arms the timer to fire once after d, replacing any pending expiry.
// d is rounded up to whole ticks, and is at least one tick. It is safe to
// call from any goroutine, including from inside the timer's own callback
// (which makes a periodic timer). After the wheel has been stopped, Reset
// does nothing.
func (t *Timer) Reset(d time.Duration) {
	w := t.w
	if w == nil {
		panic("wheel: Timer.Reset called before Init")
	}
	ticks := uint64(1)
	if d > w.tick {
		// Division plus remainder check rather than (d+tick-1)/tick, which
		// could overflow for durations close to the maximum.
		ticks = uint64(d / w.tick)
		if d%w.tick != 0 {
			ticks++
		}
	}
	// Read the clock before locking to keep the critical section short.
	// The +1: tick n is processed once the clock reaches n*tick, and the
	// current time lies somewhere within the current tick, so firing at
	// current+ticks+1 is never earlier than d, and at most two ticks later.
	expire := uint64(w.clock()/w.tick) + ticks + 1

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	// The clock may have been read before the wheel processed more ticks;
	// a slot it already passed would not be visited for a whole
	// revolution. Firing at w.next is still later than expire, so clamping
	// keeps the "not before d" promise.
	if expire < w.next {
		expire = w.next
	}
	if t.armed {
		w.unlink(t)
	}
	t.expire = expire
	t.armed = true
	w.link(t)
}

// Stop disarms the timer. It reports whether the timer was armed; if so, the
// callback of that arming will not run. A false result means the timer was
// not armed: it was never armed, was stopped already, or has expired, in
// which case its callback may be running or about to run. Stop is safe to
// call from any goroutine, including from inside a callback.
func (t *Timer) Stop() bool {
	w := t.w
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !t.armed {
		return false
	}
	w.unlink(t)
	t.armed = false
	return true
}

// Armed reports whether the timer is armed: Reset was called and it has not
// expired or been stopped since.
func (t *Timer) Armed() bool {
	w := t.w
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return t.armed
}
