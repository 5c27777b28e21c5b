package bench

import (
	"encoding/json"
	"errors"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets: exact below 32 ns, then 16 buckets per power of two (at most
// about 6% relative error). It is mergeable across workers and travels as JSON. Not safe for concurrent use.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits // buckets per power of two
	histBuckets = (64-histSubBits-1)*histSub + 2*histSub
)

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1
	return shift*histSub + int(v>>uint(shift))
}

// histLow returns the smallest value of bucket i; histHigh the largest.
func histLow(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	return uint64(i-shift*histSub) << uint(shift)
}

func histHigh(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	return histLow(i) + (1 << uint(shift)) - 1
}

// Record adds one duration (negative ones count as 0).
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += d
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Mean returns the mean, or 0 without samples.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Max returns the largest sample.
func (h *Histogram) Max() time.Duration { return h.max }

// Min returns the smallest sample.
func (h *Histogram) Min() time.Duration { return h.min }

// Quantile returns the q-quantile (0 <= q <= 1): the middle of the bucket holding it, clamped to [min, max].
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histLow(i), histHigh(i)
			v := time.Duration(lo + (hi-lo)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

type histJSON struct {
	N       uint64      `json:"n"`
	Sum     int64       `json:"sum"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Buckets [][2]uint64 `json:"b,omitempty"` // [index, count] for non-empty buckets
}

// MarshalJSON writes the non-empty buckets.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	j := histJSON{N: h.n, Sum: int64(h.sum), Min: int64(h.min), Max: int64(h.max)}
	for i, c := range h.counts {
		if c > 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Histogram{n: j.N, sum: time.Duration(j.Sum), min: time.Duration(j.Min), max: time.Duration(j.Max)}
	var total uint64
	for _, b := range j.Buckets {
		if b[0] >= histBuckets {
			return errors.New("histogram: bucket index out of range")
		}
		h.counts[b[0]] += b[1]
		total += b[1]
	}
	if total != h.n {
		return errors.New("histogram: bucket counts do not add up")
	}
	return nil
}

// LatencySummary is the usual digest of a histogram, in milliseconds.
type LatencySummary struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary digests h.
func (h *Histogram) Summary() LatencySummary {
	ms := func(d time.Duration) float64 { return roundTo(d.Seconds()*1000, 3) }
	return LatencySummary{
		Count: h.n, Min: ms(h.min), Mean: ms(h.Mean()),
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
		Max: ms(h.max),
	}
}

// AtomicHistogram is a Histogram that many goroutines may record into at once (atomic counters). Snapshot turns it
// into a Histogram for merging and JSON.
type AtomicHistogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	min1   atomic.Int64 // smallest sample + 1; 0 before the first
	max    atomic.Int64
}

// Record adds one duration (negative ones count as 0).
func (h *AtomicHistogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))].Add(1)
	h.sum.Add(int64(d))
	for v := h.min1.Load(); (v == 0 || int64(d)+1 < v) && !h.min1.CompareAndSwap(v, int64(d)+1); v = h.min1.Load() {
	}
	for v := h.max.Load(); int64(d) > v && !h.max.CompareAndSwap(v, int64(d)); v = h.max.Load() {
	}
	h.n.Add(1)
}

// Snapshot returns the samples so far as a Histogram. Samples recorded concurrently may be partly included.
func (h *AtomicHistogram) Snapshot() *Histogram {
	out := &Histogram{}
	for i := range h.counts {
		c := h.counts[i].Load()
		out.counts[i] = c
		out.n += c
	}
	if out.n == 0 {
		return out
	}
	out.sum = time.Duration(h.sum.Load())
	out.min, out.max = time.Duration(max(h.min1.Load()-1, 0)), time.Duration(h.max.Load())
	out.min = min(out.min, out.max) // a sample in flight
	return out
}
