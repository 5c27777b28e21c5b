package wheel

import (
	"sync/atomic"
	"testing"
	"time"
)

// armBackground arms n long timers so that benchmarks run against a wheel
// that is as full as a busy server's.
func armBackground(w *Wheel, n int) []Timer {
	timers := make([]Timer, n)
	for i := range timers {
		timers[i].Init(w, func() {})
		timers[i].Reset(time.Hour + time.Duration(i)*time.Millisecond)
	}
	return timers
}

func BenchmarkResetStop(b *testing.B) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	bg := armBackground(w, 50000)
	var tm Timer
	tm.Init(w, func() {})
	b.ReportAllocs()
	for b.Loop() {
		tm.Reset(25 * time.Second)
		tm.Stop()
	}
	_ = bg
}

// BenchmarkReset re-arms an armed timer, as a heartbeat does on every pong.
func BenchmarkReset(b *testing.B) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	bg := armBackground(w, 50000)
	var tm Timer
	tm.Init(w, func() {})
	b.ReportAllocs()
	for b.Loop() {
		tm.Reset(25 * time.Second)
	}
	_ = bg
}

func BenchmarkResetStopParallel(b *testing.B) {
	w := New(5*time.Millisecond, 1024)
	defer w.Stop()
	bg := armBackground(w, 50000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var tm Timer
		tm.Init(w, func() {})
		for pb.Next() {
			tm.Reset(25 * time.Second)
			tm.Stop()
		}
	})
	_ = bg
}

// BenchmarkStdTimerResetStop is the runtime timer doing the same work, for
// comparison.
func BenchmarkStdTimerResetStop(b *testing.B) {
	var n atomic.Int32
	tm := time.AfterFunc(time.Hour, func() { n.Add(1) })
	defer tm.Stop()
	b.ReportAllocs()
	for b.Loop() {
		tm.Reset(25 * time.Second)
		tm.Stop()
	}
}
