package bench

import (
	"math"
	"sync/atomic"
	"time"
)

// Pacer spreads events evenly at a fixed rate from a start time: event n (counting from 0) is due at
// start + n/rate. A sender that falls behind catches up at once (nothing is skipped); Due tells how many events
// should have been sent by a given time.
type Pacer struct {
	Start time.Time
	Rate  float64 // events per second, > 0
}

// Due returns how many events are due by now: the first one is due at Start.
func (p Pacer) Due(now time.Time) int64 {
	el := now.Sub(p.Start)
	if el < 0 {
		return 0
	}
	return int64(math.Floor(el.Seconds()*p.Rate)) + 1
}

// At returns when event n is due.
func (p Pacer) At(n int64) time.Time {
	return p.Start.Add(time.Duration(float64(n) / p.Rate * float64(time.Second)))
}

// windowOpen reports whether a publisher that has published `published` messages (seq 0..published-1) may publish
// the next one, when every subscriber has received the messages up to and including seq `completed` (-1: none):
// at most window messages may be outstanding.
func windowOpen(published, completed int64, window int) bool {
	return published-(completed+1) < int64(window)
}

// seqTracker follows the seq numbers one subscriber receives. Deliveries on one connection keep their order, so a
// subscriber expects 0, 1, 2, ...: a jump forward counts the skipped messages as lost, a number already passed
// counts as out of order (a duplicate or a late arrival). Not safe for concurrent use.
type seqTracker struct {
	next       int64 // the seq expected next
	received   int64 // deliveries, all of them
	skipped    int64 // seqs jumped over
	outOfOrder int64 // deliveries of a seq below next
}

// add records one delivery; it reports whether seq was the next one expected or later (a new message).
func (t *seqTracker) add(seq int64) bool {
	t.received++
	switch {
	case seq == t.next:
		t.next++
		return true
	case seq > t.next:
		t.skipped += seq - t.next
		t.next = seq + 1
		return true
	}
	t.outOfOrder++
	return false
}

// lost returns how many of the messages 0..published-1 this subscriber has not received in order: the skipped ones
// plus the tail it never got.
func (t *seqTracker) lost(published int64) int64 {
	return t.skipped + max(0, published-t.next)
}

// completion counts, per message, how many subscribers of one worker have received it, in a ring of counters: when
// the count reaches the number of subscribers the message is complete, and so is every earlier one (each subscriber
// receives in order). The ring must be longer than the number of messages outstanding at once.
type completion struct {
	ring  []atomic.Int32
	mask  int64
	subs  int32
	done  atomic.Int64 // highest complete seq, -1 at first
	bumps chan struct{}
}

func newCompletion(size int, subs int) *completion {
	n := 1
	for n < size {
		n <<= 1
	}
	c := &completion{ring: make([]atomic.Int32, n), mask: int64(n - 1), subs: int32(subs), bumps: make(chan struct{}, 1)}
	c.done.Store(-1)
	return c
}

// add counts one subscriber's first delivery of seq.
func (c *completion) add(seq int64) {
	slot := &c.ring[seq&c.mask]
	if slot.Add(1) != c.subs {
		return
	}
	slot.Store(0)
	for {
		d := c.done.Load()
		if seq <= d || c.done.CompareAndSwap(d, seq) {
			break
		}
	}
	select {
	case c.bumps <- struct{}{}:
	default:
	}
}
