package bench

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	in := "cpu  1000 50 300 8000 20 5 15 10 0 0\ncpu0 500 25 150 4000 10 2 7 5 0 0\nintr 1\n"
	got, err := ParseProcStatCPU([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	hz := time.Duration(ClockTicks())
	if want := 1380 * time.Second / hz; got.Busy != want { // user+nice+system+irq+softirq+steal
		t.Errorf("busy %v, want %v", got.Busy, want)
	}
	if want := 9400 * time.Second / hz; got.Total != want {
		t.Errorf("total %v, want %v", got.Total, want)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu 1 2 3\n", "cpu a b c d e f g h\n"} {
		if _, err := ParseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, ok := sampleMachineCPU(); !ok {
		t.Error("cannot read /proc/stat")
	}
}

func TestFiguresAndBottleneck(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := windowMark{At: t0, Count: 0, WorkerCPU: time.Second, ParentCPU: 100 * time.Millisecond, HaveServer: true,
		Server: ProcSample{CPU: 10 * time.Second}, Threads: map[int]time.Duration{1: 5 * time.Second, 2: time.Second},
		HaveMachine: true, Machine: CPUTimes{Busy: 100 * time.Second}}
	b := windowMark{At: t0.Add(4 * time.Second), Count: 1000, WorkerCPU: 3 * time.Second, ParentCPU: 300 * time.Millisecond,
		HaveServer: true, Server: ProcSample{CPU: 14 * time.Second, RSS: 1 << 20, HWM: 2 << 20, Threads: 3},
		Threads: map[int]time.Duration{1: 8.8e9, 2: 1.2e9, 3: 0.1e9}, HaveMachine: true,
		Machine: CPUTimes{Busy: 107 * time.Second}}
	f := figures(a, b, false)
	if f.Seconds != 4 || f.ServerCPUSeconds != 4 || f.ServerCores != 1 || f.GeneratorCPUSeconds != 2.2 ||
		f.GeneratorCores != 0.55 || f.MachineCores != 1.75 || f.OtherCores != 0.2 || f.ServerBusiestThread != 0.95 ||
		f.ServerRSS != 1<<20 || f.ServerRSSPeak != 2<<20 || f.ServerThreads != 3 {
		t.Errorf("figures %+v", f)
	}
	f.CPUs = 2
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "server: one server thread") {
		t.Errorf("single thread: %q", got)
	}
	f.ServerBusiestThread = 0.5
	f.MachineCores = 1.75
	if got := verdictShort(f); !strings.Contains(got, "used the most") {
		t.Errorf("short: %q", got)
	}
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "machine CPU: 1.75 of 2") || !strings.Contains(got, "the server used more") {
		t.Errorf("machine: %q", got)
	}
	f.MachineCores = 1.4
	if got := bottleneck(f, true, true); !strings.HasPrefix(got, "none") {
		t.Errorf("paced: %q", got)
	}
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "round trips") {
		t.Errorf("closed loop: %q", got)
	}
	f.ServerCores, f.MachineCores = 1.95, 0
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "server CPU") {
		t.Errorf("server: %q", got)
	}
	f.ServerCores, f.GeneratorCores = 0.2, 1.7
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "generator CPU") || !strings.Contains(verdictShort(f), "lower bound") {
		t.Errorf("generator: %q / %q", got, verdictShort(f))
	}
	// A thread near a core that does most of its process's work: held by one thread, whatever the machine.
	f = WindowFigures{CPUs: 2, ServerCores: 0.83, ServerBusiestThread: 0.8, MachineCores: 1.6}
	if got := bottleneck(f, true, false); !strings.HasPrefix(got, "server: one server thread") {
		t.Errorf("thread: %q", got)
	}
	if perOp(2, 1000) != 2000 || perOp(1, 0) != 0 {
		t.Error("perOp")
	}
	if z := figures(a, a, false); z.Seconds != 0 {
		t.Errorf("empty window %+v", z)
	}
}

func TestAtomicHistogram(t *testing.T) {
	var ah AtomicHistogram
	if s := ah.Snapshot(); s.Count() != 0 || s.Min() != 0 || s.Max() != 0 {
		t.Errorf("empty snapshot %+v", s.Summary())
	}
	var plain Histogram
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				d := time.Duration(g*1000+i+1) * time.Microsecond
				ah.Record(d)
				mu.Lock()
				plain.Record(d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s := ah.Snapshot()
	if s.Summary() != plain.Summary() {
		t.Errorf("atomic %v\nplain  %v", s.Summary(), plain.Summary())
	}
	if s.Min() != time.Microsecond || s.Max() != 8000*time.Microsecond {
		t.Errorf("min %v max %v", s.Min(), s.Max())
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Histogram
	if err := json.Unmarshal(b, &back); err != nil || back.Summary() != s.Summary() {
		t.Errorf("round trip: %v %v", err, back.Summary())
	}
	var zero AtomicHistogram
	zero.Record(0)
	if s := zero.Snapshot(); s.Count() != 1 || s.Min() != 0 || s.Max() != 0 {
		t.Errorf("zero sample: %v", s.Summary())
	}
}

func TestOpenTally(t *testing.T) {
	tl := newOpenTally()
	h := &Histogram{}
	h.Record(time.Millisecond)
	tl.add(&OpenReport{Opened: 10, Failures: map[string]int{"dial_refused": 2}, Errors: []string{"e1"}, Connect: h,
		TCP: h, Elapsed: time.Second, CPU: time.Second, RSS: 100, PID: 7})
	tl.add(&OpenReport{Opened: 5, Failures: map[string]int{"dial_refused": 1}, Elapsed: 2 * time.Second, PID: 8})
	if tl.Opened != 15 || tl.Failed != 3 || tl.Failures["dial_refused"] != 3 || tl.Connect.Count() != 1 ||
		tl.Elapsed != 2*time.Second || tl.WorkerCPU != time.Second || tl.WorkerRSS != 100 || len(tl.PIDs) != 2 ||
		tl.perSec() != 7.5 {
		t.Errorf("tally %+v", tl)
	}
}
