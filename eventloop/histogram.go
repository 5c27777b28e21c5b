package eventloop

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the buckets of a LatencyHistogram.
var LatencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
}

// LatencyHistogram counts durations in the fixed buckets of LatencyBounds (plus one for larger ones). It is
// safe for concurrent use and allocates nothing.
type LatencyHistogram struct {
	counts [len(LatencyBounds) + 1]atomic.Int64
	sum    atomic.Int64 // nanoseconds
}

// Observe counts one duration.
func (h *LatencyHistogram) Observe(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns the cumulative count of each bucket (the last one is the total), and the sum.
func (h *LatencyHistogram) Snapshot() (cumulative [len(LatencyBounds) + 1]int64, sum time.Duration) {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
		cumulative[i] = total
	}
	return cumulative, time.Duration(h.sum.Load())
}
