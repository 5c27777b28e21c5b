package bench

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Polling is the echo loop over pure HTTP long-polling (the client's `transports: ["polling"]`): each client keeps
// a GET pending on one connection and POSTs its packets on another; it emits "message-with-ack", waits for the ack
// to come back in a GET, and emits the next.
type Polling struct {
	Clients    int           `json:"clients"`
	Payload    int           `json:"payload"`
	Warmup     time.Duration `json:"warmup"`
	Duration   time.Duration `json:"duration"`
	AckTimeout time.Duration `json:"ack_timeout"`
}

func init() {
	Register("polling", func() Scenario {
		return &Polling{Payload: 16, Warmup: time.Second, Duration: 5 * time.Second, AckTimeout: 10 * time.Second}
	})
}

// DefaultOptions implements OptionDefaulter: 50 clients.
func (s *Polling) DefaultOptions(o *Options) { o.Conns, o.Rate = 50, 0 }

// Summary implements Scenario.
func (s *Polling) Summary() string {
	return "closed loop over HTTP long-polling: --clients each POST message-with-ack and GET the ack; msgs/s, RTT, server CPU per message"
}

// Flags implements Scenario.
func (s *Polling) Flags(fs *flag.FlagSet) {
	fs.IntVar(&s.Clients, "clients", s.Clients, "polling clients (default: --conns)")
	fs.IntVar(&s.Payload, "payload", s.Payload, "length of the string sent in each event")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "time in the loop before the measured window")
	fs.DurationVar(&s.Duration, "duration", s.Duration, "measured window")
	fs.DurationVar(&s.AckTimeout, "ack-timeout", s.AckTimeout, "longest wait for one ack")
}

// Validate implements Scenario.
func (s *Polling) Validate(o *Options) error {
	return validateLoop(o, &s.Clients, s.Payload, s.Warmup, s.Duration, s.AckTimeout)
}

// Run implements Scenario.
func (s *Polling) Run(ctx context.Context, r *Runner) (any, error) {
	return runAckLoop(ctx, r, "polling", "polling", s.Payload, closedLoop{Warmup: s.Warmup, Duration: s.Duration,
		FinishLimit: 2*s.AckTimeout + 30*time.Second})
}

type pollState struct {
	pc   *PollClient
	acks chan int64
	dead chan struct{}
}

// openPollClients opens the worker's share of polling clients, Spec.Concurrency at a time, over the source
// addresses in turn.
func openPollClients(ctx context.Context, w *Worker, cfg *ClientConfig) ([]*pollState, [][][]byte, *OpenReport) {
	rep := newOpenReport()
	n := w.Spec.Conns
	out := make([]*pollState, n)
	early := make([][][]byte, n)
	sem := make(chan struct{}, max(1, w.Spec.Concurrency))
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		var src netip.Addr
		if len(w.srcs) > 0 {
			src = w.srcs[(i+w.Spec.Index)%len(w.srcs)]
		}
		sem <- struct{}{}
		wg.Add(1)
		w.Counters.Inflight.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pc, tm, e, err := DialPollClient(ctx, cfg, src)
			w.Counters.Inflight.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.failed(w, err)
				return
			}
			out[i] = &pollState{pc: pc, acks: make(chan int64, 4), dead: make(chan struct{})}
			early[i] = e
			rep.opened(w, tm, src)
		}()
	}
	wg.Wait()
	var opened []*pollState
	var openedEarly [][][]byte
	for i, st := range out {
		if st != nil {
			opened = append(opened, st)
			openedEarly = append(openedEarly, early[i])
		}
	}
	rep.finish(w, start, len(opened))
	return opened, openedEarly, rep
}

// Work implements Scenario.
func (s *Polling) Work(ctx context.Context, w *Worker) error {
	var (
		running, measuring, closing atomic.Bool
		acks, bad, unanswered       atomic.Int64
		requests, dropped           atomic.Int64
		rtt                         AtomicHistogram
		errMu                       sync.Mutex
		errs                        []string
		payload                     = echoPayload(s.Payload)
		getters, senders            sync.WaitGroup
	)
	note := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(errs) < 5 {
			errs = append(errs, err.Error())
		}
	}
	cfg := w.ClientConfig()
	clients, _, rep := openPollClients(ctx, w, cfg)
	closeAll := func() {
		closing.Store(true)
		for _, st := range clients {
			st.pc.Close()
		}
		getters.Wait()
	}
	defer closeAll()

	// Each client's GET loop: answer pings, hand acks to the sender.
	for _, st := range clients {
		getters.Add(1)
		go func() {
			defer getters.Done()
			defer close(st.dead)
			pc := st.pc
			for {
				pkts, err := pc.Poll(time.Now().Add(pc.PingInterval + pc.PingTimeout + 10*time.Second))
				if err != nil {
					if !closing.Load() {
						dropped.Add(1)
						w.Counters.Dropped.Add(1)
						note(fmt.Errorf("poll: %w", err))
					}
					return
				}
				requests.Add(1)
				for _, p := range pkts {
					if len(p) == 0 {
						continue
					}
					switch p[0] {
					case '2':
						if err := pc.Post([]byte{'3'}, time.Now().Add(10*time.Second)); err != nil && !closing.Load() {
							note(fmt.Errorf("pong: %w", err))
						}
						requests.Add(1)
						w.Counters.Stats.PingsAnswered.Add(1)
					case '4':
						w.Counters.Stats.MessagesIn.Add(1)
						if id, ok := parseAckID(p[1:]); ok {
							select {
							case st.acks <- id:
							default:
								bad.Add(1)
							}
						}
					case '1':
						if !closing.Load() {
							dropped.Add(1)
							note(errServerClosed)
						}
						return
					}
				}
			}
		}()
	}
	if err := w.Send("ready", rep); err != nil {
		return err
	}

	sender := func(st *pollState) {
		defer senders.Done()
		var id int64
		var buf []byte
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for running.Load() {
			id++
			buf = appendEventPacket(append(buf[:0], '4'), id, "message-with-ack", payload)
			t0 := time.Now()
			err := st.pc.Post(buf, t0.Add(s.AckTimeout))
			requests.Add(1)
			if err != nil {
				if !closing.Load() {
					note(fmt.Errorf("post: %w", err))
				}
				return
			}
			timer.Reset(s.AckTimeout)
		wait:
			for {
				select {
				case got := <-st.acks:
					if got != id {
						bad.Add(1)
						continue
					}
					acks.Add(1)
					if measuring.Load() {
						rtt.Record(time.Since(t0))
					}
					break wait
				case <-st.dead:
					unanswered.Add(1)
					return
				case <-timer.C:
					unanswered.Add(1)
					note(fmt.Errorf("no ack for %v", s.AckTimeout))
					return
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
	return workerLoop(ctx, w, &measuring, acks.Load, func() {
		running.Store(true)
		for _, st := range clients {
			senders.Add(1)
			go sender(st)
		}
	}, func() any {
		running.Store(false)
		senders.Wait()
		closeAll()
		errMu.Lock()
		defer errMu.Unlock()
		return ackLoopWorkerResult{Acks: acks.Load(), BadAcks: bad.Load(), Unanswered: unanswered.Load(),
			Dropped: dropped.Load(), Requests: requests.Load(), RTT: rtt.Snapshot(), Errors: errs}
	})
}
