package wheel

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slack bounds how late a timer may fire in the real-clock tests. It is
// deliberately generous because CI machines are loaded; exactness is checked
// by the fake-clock tests instead.
const slack = 500 * time.Millisecond

// fakeClock is a manual clock for deterministic tests of a wheel built with
// newWheel (no goroutine: the test calls advance itself).
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) read() time.Duration { return time.Duration(c.now.Load()) }
func (c *fakeClock) set(d time.Duration) { c.now.Store(int64(d)) }
func newFake(tick time.Duration, slots int) (*Wheel, *fakeClock) {
	c := &fakeClock{}
	return newWheel(tick, slots, c.read), c
}

// waitFired waits for a value on ch, failing the test after timeout.
func waitFired(t *testing.T, ch <-chan time.Time, timeout time.Duration) time.Time {
	t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(timeout):
		t.Fatalf("timer did not fire within %v", timeout)
		return time.Time{}
	}
}

func TestNewDefaults(t *testing.T) {
	w, _ := newFake(0, 0)
	if w.tick != DefaultTick || len(w.slots) != DefaultSlots {
		t.Fatalf("defaults: tick %v slots %d", w.tick, len(w.slots))
	}
	w, _ = newFake(time.Millisecond, 1000)
	if len(w.slots) != 1024 || w.mask != 1023 {
		t.Fatalf("slots rounded to %d (mask %d), want 1024", len(w.slots), w.mask)
	}
	w, _ = newFake(time.Millisecond, 1)
	if len(w.slots) != 1 || w.mask != 0 {
		t.Fatalf("one slot: %d (mask %d)", len(w.slots), w.mask)
	}
}

func TestFiresAfterDuration(t *testing.T) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	for _, d := range []time.Duration{0, time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond} {
		ch := make(chan time.Time, 1)
		var tm Timer
		tm.Init(w, func() { ch <- time.Now() })
		start := time.Now()
		tm.Reset(d)
		if !tm.Armed() {
			t.Fatal("timer not armed after Reset")
		}
		at := waitFired(t, ch, d+slack)
		if el := at.Sub(start); el < d || el > d+slack {
			t.Errorf("Reset(%v) fired after %v", d, el)
		}
		if tm.Armed() {
			t.Error("timer still armed after firing")
		}
	}
}

func TestResetPushesDeadlineBack(t *testing.T) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	ch := make(chan time.Time, 2)
	var tm Timer
	tm.Init(w, func() { ch <- time.Now() })
	tm.Reset(50 * time.Millisecond)
	time.Sleep(25 * time.Millisecond)
	reset := time.Now()
	tm.Reset(150 * time.Millisecond)
	at := waitFired(t, ch, 150*time.Millisecond+slack)
	if el := at.Sub(reset); el < 150*time.Millisecond {
		t.Fatalf("fired %v after the second Reset(150ms): the first deadline was not replaced", el)
	}
	time.Sleep(50 * time.Millisecond)
	if len(ch) != 0 {
		t.Fatal("timer fired twice after being reset while armed")
	}
}

func TestStopPreventsFiring(t *testing.T) {
	w := New(time.Millisecond, 64)
	defer w.Stop()
	var fired atomic.Int32
	var tm Timer
	tm.Init(w, func() { fired.Add(1) })
	tm.Reset(20 * time.Millisecond)
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer returned false")
	}
	if tm.Armed() {
		t.Fatal("timer armed after Stop")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
	time.Sleep(100 * time.Millisecond)
	if n := fired.Load(); n != 0 {
		t.Fatalf("stopped timer fired %d times", n)
	}
}

func TestStopAfterFireReturnsFalse(t *testing.T) {
	w := New(time.Millisecond, 64)
	defer w.Stop()
	ch := make(chan time.Time, 1)
	var tm Timer
	tm.Init(w, func() { ch <- time.Now() })
	tm.Reset(time.Millisecond)
	waitFired(t, ch, slack)
	if tm.Stop() {
		t.Fatal("Stop after the timer fired returned true")
	}
}

func TestPeriodicResetFromCallback(t *testing.T) {
	w := New(time.Millisecond, 64)
	defer w.Stop()
	const period, runs = 10 * time.Millisecond, 5
	done := make(chan time.Time, 1)
	var count int // only touched by the wheel goroutine
	var tm Timer
	tm.Init(w, func() {
		count++
		if count < runs {
			tm.Reset(period)
			return
		}
		done <- time.Now()
	})
	start := time.Now()
	tm.Reset(period)
	at := waitFired(t, done, runs*period+slack)
	if el := at.Sub(start); el < runs*period {
		t.Fatalf("%d periods of %v took only %v", runs, period, el)
	}
	if tm.Armed() {
		t.Fatal("periodic timer still armed after its last run")
	}
}

func TestZeroTimer(t *testing.T) {
	var tm Timer
	if tm.Armed() || tm.Stop() {
		t.Fatal("a timer without Init reports armed")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Reset before Init did not panic")
		}
	}()
	tm.Reset(time.Second)
}

func TestManyTimersFireExactlyOnce(t *testing.T) {
	w := New(time.Millisecond, 256)
	defer w.Stop()
	const n = 10000
	timers := make([]Timer, n)
	counts := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	wg.Add(n)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range timers {
		timers[i].Init(w, func() {
			counts[i].Add(1)
			wg.Done()
		})
	}
	for i := range timers {
		// Up to 600ms: more than two revolutions of 256ms.
		timers[i].Reset(time.Duration(r.IntN(600)) * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(600*time.Millisecond + 5*slack):
		t.Fatal("not all timers fired")
	}
	time.Sleep(30 * time.Millisecond) // leave room for a (wrong) second firing
	for i := range counts {
		if c := counts[i].Load(); c != 1 {
			t.Fatalf("timer %d fired %d times", i, c)
		}
		if timers[i].Armed() {
			t.Fatalf("timer %d still armed", i)
		}
	}
}

func TestLongerThanOneRevolution(t *testing.T) {
	// Real clock: a revolution is 8ms, the timer 60ms.
	w := New(time.Millisecond, 8)
	defer w.Stop()
	ch := make(chan time.Time, 2)
	var tm Timer
	tm.Init(w, func() { ch <- time.Now() })
	start := time.Now()
	tm.Reset(60 * time.Millisecond)
	at := waitFired(t, ch, 60*time.Millisecond+slack)
	if el := at.Sub(start); el < 60*time.Millisecond {
		t.Fatalf("fired after %v, before its 60ms (revolution is 8ms)", el)
	}
	time.Sleep(30 * time.Millisecond)
	if len(ch) != 0 {
		t.Fatal("fired more than once")
	}
}

// The fake-clock tests below check exact tick arithmetic.

func TestExactTicksFakeClock(t *testing.T) {
	const tick = 5 * time.Millisecond
	for _, tc := range []struct {
		at, d time.Duration
	}{
		{0, 0},
		{3 * time.Millisecond, time.Nanosecond},
		{3 * time.Millisecond, 5 * time.Millisecond},
		{12 * time.Millisecond, 6 * time.Millisecond},
		{7 * time.Millisecond, 100 * time.Millisecond}, // 2.5 revolutions
		{1 * time.Millisecond, 333 * time.Millisecond},
	} {
		w, clk := newFake(tick, 8) // revolution: 40ms
		fired := 0
		var tm Timer
		tm.Init(w, func() { fired++ })
		clk.set(tc.at)
		w.advance()
		tm.Reset(tc.d)
		// Step the clock by 1ms: the timer must not fire before at+d, and
		// must fire at most two ticks after it.
		var firedAt time.Duration = -1
		for now := tc.at; now <= tc.at+tc.d+3*tick; now += time.Millisecond {
			clk.set(now)
			w.advance()
			if fired > 0 && firedAt < 0 {
				firedAt = now
			}
		}
		if fired != 1 {
			t.Errorf("Reset(%v) at %v: fired %d times", tc.d, tc.at, fired)
			continue
		}
		if firedAt < tc.at+tc.d || firedAt > tc.at+tc.d+2*tick {
			t.Errorf("Reset(%v) at %v: fired at %v, want in [%v, %v]", tc.d, tc.at, firedAt, tc.at+tc.d, tc.at+tc.d+2*tick)
		}
	}
}

func TestCatchUpAfterStallFakeClock(t *testing.T) {
	const tick = time.Millisecond
	w, clk := newFake(tick, 16) // revolution: 16ms
	var order []int
	timers := make([]Timer, 6)
	durations := []time.Duration{3, 15, 16, 40, 99, 500} // in ms
	for i := range timers {
		timers[i].Init(w, func() { order = append(order, i) })
		timers[i].Reset(durations[i] * time.Millisecond)
	}
	// The goroutine "stalls" for 100ms (6+ revolutions), then wakes once.
	clk.set(100 * time.Millisecond)
	w.advance()
	if len(order) != 5 {
		t.Fatalf("after a 100ms stall %d timers fired (%v), want the 5 due ones", len(order), order)
	}
	for _, i := range order {
		if i == 5 {
			t.Fatal("the 500ms timer fired after 100ms")
		}
	}
	if !timers[5].Armed() {
		t.Fatal("the 500ms timer was disarmed")
	}
	clk.set(499 * time.Millisecond)
	w.advance()
	if len(order) != 5 {
		t.Fatal("the 500ms timer fired at 499ms")
	}
	clk.set(502 * time.Millisecond)
	w.advance()
	if len(order) != 6 {
		t.Fatal("the 500ms timer did not fire by 502ms")
	}
}

func TestResetClampsToProcessedTicks(t *testing.T) {
	// Simulate a Reset whose clock read is older than the wheel's progress:
	// the wheel has processed up to tick 99 while the clock still says 0.
	w, clk := newFake(time.Millisecond, 16)
	w.next = 100
	var fired int
	var tm Timer
	tm.Init(w, func() { fired++ })
	tm.Reset(time.Millisecond) // would be tick 2, a slot already passed
	if tm.expire != 100 {
		t.Fatalf("expire = %d, want it clamped to 100", tm.expire)
	}
	clk.set(100 * time.Millisecond)
	w.advance()
	if fired != 1 {
		t.Fatalf("fired %d times, want 1", fired)
	}
}

func TestWheelStop(t *testing.T) {
	w := New(time.Millisecond, 64)
	var fired atomic.Int32
	timers := make([]Timer, 100)
	for i := range timers {
		timers[i].Init(w, func() { fired.Add(1) })
		timers[i].Reset(30 * time.Millisecond)
	}
	w.Stop()
	w.Stop() // idempotent
	for i := range timers {
		if timers[i].Armed() {
			t.Fatal("timer still armed after Wheel.Stop")
		}
	}
	timers[0].Reset(time.Millisecond)
	if timers[0].Armed() || timers[0].Stop() {
		t.Fatal("Reset after Wheel.Stop armed the timer")
	}
	time.Sleep(80 * time.Millisecond)
	if n := fired.Load(); n != 0 {
		t.Fatalf("%d timers fired after Wheel.Stop", n)
	}
}

// TestConcurrentResetStop hammers shared timers from many goroutines (for
// the race detector), then checks that nothing fires once every timer has
// been stopped and the callbacks already collected have drained.
func TestConcurrentResetStop(t *testing.T) {
	w := New(time.Millisecond, 64)
	defer w.Stop()
	const nTimers, nWorkers = 64, 32
	timers := make([]Timer, nTimers)
	var fired atomic.Int64
	for i := range timers {
		timers[i].Init(w, func() {
			fired.Add(1)
			if i%8 == 0 {
				timers[(i+1)%nTimers].Stop() // cross-timer calls from a callback
			}
		})
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < nWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for time.Now().Before(deadline) {
				tm := &timers[r.IntN(nTimers)]
				switch r.IntN(3) {
				case 0:
					tm.Reset(time.Duration(r.IntN(5)) * time.Millisecond)
				case 1:
					tm.Stop()
				default:
					tm.Armed()
				}
			}
		}()
	}
	wg.Wait()
	for i := range timers {
		timers[i].Stop()
	}
	// The wheel fires in collection order, so once a sentinel armed now has
	// fired, every callback collected before it has returned.
	drained := make(chan time.Time, 1)
	var sentinel Timer
	sentinel.Init(w, func() { drained <- time.Now() })
	sentinel.Reset(time.Millisecond)
	waitFired(t, drained, slack)
	before := fired.Load()
	time.Sleep(50 * time.Millisecond)
	if after := fired.Load(); after != before {
		t.Fatalf("%d callbacks ran after all timers were stopped", after-before)
	}
	if before == 0 {
		t.Log("note: no timer expired during the hammering")
	}
}

// TestStopRaceAccounting checks the exact guarantee: for each arming, either
// Stop returns true and the callback never runs, or Stop returns false and
// the callback runs exactly once. Expiry and Stop race on purpose.
func TestStopRaceAccounting(t *testing.T) {
	w := New(time.Millisecond, 64)
	defer w.Stop()
	const workers, rounds = 16, 150
	var totalStopped, totalFired atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 11))
			ch := make(chan struct{}, 1)
			var extra atomic.Int32
			var tm Timer
			tm.Init(w, func() {
				select {
				case ch <- struct{}{}:
				default:
					extra.Add(1) // a second call for one arming
				}
			})
			var stopped, firedN int
			for i := 0; i < rounds; i++ {
				tm.Reset(time.Duration(r.IntN(2)+1) * time.Millisecond)
				// Sleep around the expiry to make Stop race with it.
				time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
				if tm.Stop() {
					stopped++
					continue
				}
				select {
				case <-ch:
					firedN++
				case <-time.After(slack):
					t.Errorf("worker %d: Stop returned false but the callback never ran", g)
					return
				}
			}
			// Drain: anything arriving now is a callback for a stopped arming.
			time.Sleep(20 * time.Millisecond)
			select {
			case <-ch:
				t.Errorf("worker %d: callback ran for an arming whose Stop returned true", g)
			default:
			}
			if n := extra.Load(); n != 0 {
				t.Errorf("worker %d: %d extra callbacks", g, n)
			}
			totalStopped.Add(int32(stopped))
			totalFired.Add(int32(firedN))
			if stopped+firedN != rounds {
				t.Errorf("worker %d: %d stopped + %d fired != %d rounds", g, stopped, firedN, rounds)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d armings cancelled by Stop, %d fired", totalStopped.Load(), totalFired.Load())
}

func TestResetStopAllocs(t *testing.T) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	var tm Timer
	tm.Init(w, func() {})
	allocs := testing.AllocsPerRun(1000, func() {
		tm.Reset(time.Minute)
		tm.Reset(30 * time.Second) // re-arm while armed
		tm.Stop()
	})
	if allocs != 0 {
		t.Fatalf("Reset+Stop: %v allocs per run, want 0", allocs)
	}
}
