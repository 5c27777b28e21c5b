package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress prints the run's state to stderr: a line rewritten in place on a terminal, else one line per period.
type progress struct {
	r      *Runner
	w      io.Writer
	tty    bool
	period time.Duration

	mu         sync.Mutex
	phase      string
	target     int
	began      time.Time
	lastAt     time.Time
	lastOpen   int64
	lastRate   float64
	lastCPU    time.Duration
	lastSrvAt  time.Time
	lastSrvCPU float64
	live       bool // a live line is on screen
	stopCh     chan struct{}
	done       chan struct{}
}

func newProgress(r *Runner, w io.Writer, period time.Duration) *progress {
	p := &progress{r: r, w: w, period: period, began: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
			p.period = 200 * time.Millisecond
		}
	}
	return p
}

func (p *progress) setPhase(name string, target int) {
	p.mu.Lock()
	changed := p.phase != name
	p.phase, p.target = name, target
	p.mu.Unlock()
	if changed && !p.tty && p.stopCh != nil {
		p.print()
	}
}

func (p *progress) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopCh != nil {
		return
	}
	p.stopCh, p.done = make(chan struct{}), make(chan struct{})
	p.lastAt = time.Now()
	stopCh, done := p.stopCh, p.done
	go func() {
		defer close(done)
		t := time.NewTicker(p.period)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.print()
			case <-stopCh:
				return
			}
		}
	}()
}

func (p *progress) stop() {
	p.mu.Lock()
	ch := p.stopCh
	done := p.done
	p.stopCh = nil
	p.mu.Unlock()
	if ch == nil {
		return
	}
	close(ch)
	<-done
	p.print()
	p.mu.Lock()
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
	p.mu.Unlock()
}

func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *progress) print() {
	c := p.r.Counters()
	srv, haveSrv := p.r.SampleServer()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %6.1fs %-10s", p.r.Name, now.Sub(p.began).Seconds(), p.phase)
	if p.target > 0 {
		fmt.Fprintf(&b, " open %d/%d", c.Opened-c.Dropped-c.Closed, p.target)
	} else {
		fmt.Fprintf(&b, " open %d", c.Opened-c.Dropped-c.Closed)
	}
	dt := now.Sub(p.lastAt)
	rateKnown := !p.lastAt.IsZero() && dt >= p.period/2
	if rateKnown {
		p.lastRate = float64(c.Opened-p.lastOpen) / dt.Seconds()
	}
	fmt.Fprintf(&b, " %5.0f conn/s", p.lastRate)
	fmt.Fprintf(&b, " inflight %d failed %d dropped %d", c.Inflight, c.Failed, c.Dropped)
	if c.PingsAnswered > 0 {
		fmt.Fprintf(&b, " pings %d", c.PingsAnswered)
	}
	if haveSrv {
		fmt.Fprintf(&b, " | server rss %s", fmtBytes(srv.RSS))
		if sdt := srv.At.Sub(p.lastSrvAt); !p.lastSrvAt.IsZero() && sdt >= p.period/2 {
			p.lastSrvCPU = 100 * float64(srv.CPU-p.lastCPU) / float64(sdt)
			p.lastCPU, p.lastSrvAt = srv.CPU, srv.At
		} else if p.lastSrvAt.IsZero() {
			p.lastCPU, p.lastSrvAt = srv.CPU, srv.At
		}
		fmt.Fprintf(&b, " cpu %3.0f%%", p.lastSrvCPU)
	}
	if rateKnown {
		p.lastAt, p.lastOpen = now, c.Opened
	}
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+b.String())
		p.live = true
	} else {
		fmt.Fprintln(p.w, b.String())
	}
}
