package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/valyala/fasthttp"
)

// Request headers the attacker sends and reads.
const (
	// DebugHeader asks Kairos to explain a no-bid in NoBidReasonHeader.
	DebugHeader = "X-Kairos-Debug"
	// NoBidReasonHeader carries the reason of a 204 when DebugHeader was sent.
	NoBidReasonHeader = "X-Kairos-Nobid-Reason"
)

// AttackConfig configures an Attacker. Zero values mean defaults.
type AttackConfig struct {
	// Label names the run in reports.
	Label string
	// Targets are the bid endpoints, used round robin: host:port, or an http URL
	// whose path defaults to /openrtb2/bid.
	Targets []string
	// Rate is the open-loop request rate per second (the peak rate in day mode).
	// Zero runs closed loop: Workers requests in flight, each sent when the
	// previous one is answered, to find the maximum throughput.
	Rate float64
	// Pacer overrides the schedule derived from Rate and Day (open loop only).
	Pacer Pacer
	// Day compresses a simulated day into the attack; needs Rate.
	Day Day
	// Workers is the number of concurrent requests in closed loop, and the
	// initial worker pool in open loop. Default 64.
	Workers int
	// MaxWorkers caps the open-loop pool, which grows whenever no worker is free
	// when a request is due. Default 10000.
	MaxWorkers int
	// Duration bounds the attack. At least one of Duration and MaxRequests is needed.
	Duration time.Duration
	// MaxRequests bounds the number of requests; zero means no bound.
	MaxRequests uint64
	// Timeout bounds each request; default 1s.
	Timeout time.Duration
	// NoDebugHeader stops sending DebugHeader, so no-bid reasons are not counted.
	NoDebugHeader bool
	// MaxConnsPerTarget caps keep-alive connections per target; default
	// Workers (in open loop more requests than that wait for a connection).
	MaxConnsPerTarget int
	// ConnWait bounds how long a due request waits for a free connection
	// before the exchange drops it unsent (ErrKindNotSent): 0 means Timeout,
	// negative means not at all, as an exchange that does not queue callouts.
	// The wait counts in Latency but not in Service: it is the exchange's
	// queue, which the server cannot see.
	ConnWait time.Duration
	// Auction configures the exchange simulation; Mode AuctionNone skips it.
	Auction AuctionConfig
	// Notices configures notice delivery.
	Notices NoticeConfig
	// NoticeDrain bounds the wait for queued notices after the attack; default 5s.
	NoticeDrain time.Duration
	// Seed seeds the auction and the per-send request ids.
	Seed uint64
	// Clock is the time source; nil means SystemClock.
	Clock Clock
}

// Validate reports the first invalid setting.
func (c AttackConfig) Validate() error {
	switch {
	case len(c.Targets) == 0:
		return errors.New("attack: targets: at least one is needed")
	case c.Rate < 0:
		return fmt.Errorf("attack: rate %v is negative", c.Rate)
	case c.Duration <= 0 && c.MaxRequests == 0:
		return errors.New("attack: duration or max requests must be set")
	case c.Duration < 0:
		return fmt.Errorf("attack: duration %v is negative", c.Duration)
	case c.Workers < 0 || c.MaxWorkers < 0 || c.MaxConnsPerTarget < 0:
		return errors.New("attack: workers and connection counts must not be negative")
	case c.Day.Enabled() && c.Rate == 0 && c.Pacer == nil:
		return errors.New("attack: day compression needs a rate (open loop)")
	}
	for _, t := range c.Targets {
		if _, err := parseTarget(t); err != nil {
			return fmt.Errorf("attack: %w", err)
		}
	}
	if err := c.Day.Validate(); err != nil {
		return fmt.Errorf("attack: %w", err)
	}
	return c.Auction.Validate()
}

// openLoop reports whether requests are paced.
func (c AttackConfig) openLoop() bool { return c.Rate > 0 || c.Pacer != nil }

// Attacker sends a corpus of bid requests to one or more targets and measures
// the answers. Build one with NewAttacker; an Attacker runs one attack at a time.
type Attacker struct {
	cfg     AttackConfig
	clock   Clock
	pacer   Pacer
	targets []attackTarget
}

type attackTarget struct {
	target
	hc *fasthttp.HostClient
	// slots holds one token per connection the exchange may use: a request
	// is sent (and its service time starts) once it holds one.
	slots chan struct{}
}

// NewAttacker returns an Attacker for cfg.
func NewAttacker(cfg AttackConfig) (*Attacker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Workers == 0 {
		cfg.Workers = 64
	}
	if cfg.MaxWorkers == 0 {
		cfg.MaxWorkers = 10000
	}
	cfg.MaxWorkers = max(cfg.MaxWorkers, cfg.Workers)
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	if cfg.NoticeDrain == 0 {
		cfg.NoticeDrain = 5 * time.Second
	}
	if cfg.ConnWait == 0 {
		cfg.ConnWait = cfg.Timeout
	}
	if cfg.MaxConnsPerTarget == 0 {
		// An exchange keeps a bounded pool of keep-alive connections to a
		// bidder. Letting the open loop dial a connection whenever every one
		// is busy (up to MaxWorkers) made a slow moment snowball: new
		// connections cost the server accepts and handshakes, it slowed
		// further, more were dialled. Requests beyond the pool wait for a
		// connection, and that wait counts in their latency (it runs from
		// the due time).
		cfg.MaxConnsPerTarget = cfg.Workers
	}
	a := &Attacker{cfg: cfg, clock: cfg.Clock}
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	switch {
	case cfg.Pacer != nil:
		a.pacer = cfg.Pacer
	case cfg.Rate > 0 && cfg.Day.Enabled():
		p, err := NewDayPacer(cfg.Rate, cfg.Day)
		if err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		a.pacer = p
	case cfg.Rate > 0:
		a.pacer = ConstantPacer{PerSecond: cfg.Rate}
	}
	for _, s := range cfg.Targets {
		t, _ := parseTarget(s) // checked by Validate
		a.targets = append(a.targets, attackTarget{
			target: t,
			hc: &fasthttp.HostClient{
				Addr:                      t.addr,
				Name:                      "kairos-bench",
				MaxConns:                  cfg.MaxConnsPerTarget,
				MaxIdemponentCallAttempts: 1,
				ReadTimeout:               cfg.Timeout,
				WriteTimeout:              cfg.Timeout,
				MaxConnWaitTimeout:        cfg.Timeout,
				// The server owns the keep-alive lifetime; we keep idle
				// connections for the attack's length.
				MaxIdleConnDuration: time.Minute,
			},
			slots: make(chan struct{}, cfg.MaxConnsPerTarget),
		})
	}
	return a, nil
}

// Attack sends c to the targets until the duration or request bound is reached
// or ctx ends, and returns the aggregated metrics. Requests cycle through c.
func (a *Attacker) Attack(ctx context.Context, c Corpus) (*Metrics, error) {
	if len(c) == 0 {
		return nil, ErrEmptyCorpus
	}
	cfg := a.cfg
	var ex *Exchange
	if cfg.Auction.Mode != AuctionNone {
		var err error
		if ex, err = NewExchange(cfg.Auction, cfg.Notices, cfg.Targets); err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		ex.Start()
	}
	r := &run{
		a:      a,
		corpus: c,
		ex:     ex,
		shards: make([]shard, max(4, 2*runtime.GOMAXPROCS(0))),
		idBase: rand.New(rand.NewPCG(cfg.Seed, uint64(a.clock.Now().UnixNano()))).Uint64(),
	}
	for i := range r.shards {
		r.shards[i].m = NewMetrics()
	}
	stopCtx := context.AfterFunc(ctx, func() { r.stopped.Store(true) })
	defer stopCtx()

	if _, system := a.clock.(SystemClock); system {
		r.stalls = NewStallMonitor(time.Millisecond, 2*time.Millisecond)
		r.stalls.Start()
		defer r.stalls.Stop()
	}
	r.start = a.clock.Now()
	if cfg.Duration > 0 {
		r.end = r.start.Add(cfg.Duration)
	}
	workers := cfg.Workers
	if a.pacer != nil {
		workers = r.openLoop(ctx)
	} else {
		r.closedLoop()
	}

	m := NewMetrics()
	for i := range r.shards {
		m.Merge(r.shards[i].m)
	}
	m.Label = cfg.Label
	m.Targets = append([]string(nil), cfg.Targets...)
	m.Mode = "closed"
	if a.pacer != nil {
		m.Mode = "open"
		m.TargetRate = cfg.Rate
	}
	m.Workers = workers
	m.Auction.Mode = cfg.Auction.Mode.String()
	if ex != nil {
		drain, cancel := context.WithTimeout(context.Background(), cfg.NoticeDrain)
		ex.Stop(drain)
		cancel()
		ex.Counts(&m.Auction)
	}
	for _, t := range a.targets {
		t.hc.CloseIdleConnections()
	}
	return m, nil
}

// run is the state of one attack.
type run struct {
	a       *Attacker
	corpus  Corpus
	ex      *Exchange
	shards  []shard
	idBase  uint64
	start   time.Time
	end     time.Time // zero: no time bound
	stopped atomic.Bool
	seq     atomic.Uint64 // closed loop: next request number
	stalls  *StallMonitor // the generator's own stalls; nil with a simulated clock
}

// closedLoop runs Workers workers that each send the next request as soon as
// their previous one is answered.
func (r *run) closedLoop() {
	cfg := r.a.cfg
	var wg sync.WaitGroup
	for i := range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.newWorker(i)
			defer w.close()
			for !r.stopped.Load() {
				n := r.seq.Add(1) - 1
				if cfg.MaxRequests > 0 && n >= cfg.MaxRequests {
					return
				}
				now := r.a.clock.Now()
				if !r.end.IsZero() && !now.Before(r.end) {
					return
				}
				w.do(n, now)
			}
		}()
	}
	wg.Wait()
}

type job struct {
	n   uint64
	due time.Time
}

// openLoop hands each request to a free worker at its scheduled time, growing
// the pool when none is free, and returns the number of workers used.
func (r *run) openLoop(ctx context.Context) int {
	cfg := r.a.cfg
	jobs := make(chan job)
	var wg sync.WaitGroup
	spawn := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := r.newWorker(i)
			defer w.close()
			for j := range jobs {
				w.do(j.n, j.due)
			}
		}()
	}
	workers := cfg.Workers
	for i := range workers {
		spawn(i)
	}
	var dur time.Duration
	if !r.end.IsZero() {
		dur = r.end.Sub(r.start)
	}
	schedule(r.a.clock, r.a.pacer, r.start, dur, cfg.MaxRequests, r.stopped.Load, func(n uint64, due time.Time) bool {
		select {
		case jobs <- job{n, due}:
			return true
		default:
		}
		if workers < cfg.MaxWorkers {
			spawn(workers)
			workers++
		}
		select {
		case jobs <- job{n, due}:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(jobs)
	wg.Wait()
	return workers
}

// maxSleep bounds one scheduler sleep so a stop is noticed at low rates.
const maxSleep = 100 * time.Millisecond

// schedule calls emit for request n = 0, 1, … at start+p.Due(n), sleeping on
// clock until each is due, for as long as the due offset is below dur (when dur
// is positive) and n below maxN (when positive). Requests that are already due
// are emitted without sleeping, so a scheduler that fell behind catches up in a
// burst instead of silently lowering the rate. It returns early when stopped
// reports true or emit returns false.
func schedule(clock Clock, p Pacer, start time.Time, dur time.Duration, maxN uint64, stopped func() bool, emit func(n uint64, due time.Time) bool) {
	for n := uint64(0); maxN == 0 || n < maxN; n++ {
		off := p.Due(n)
		if dur > 0 && off >= dur {
			return
		}
		due := start.Add(off)
		for {
			if stopped() {
				return
			}
			wait := due.Sub(clock.Now())
			if wait <= 0 {
				break
			}
			clock.Sleep(min(wait, maxSleep))
		}
		if !emit(n, due) {
			return
		}
	}
}

// worker owns everything one in-flight request needs, so the hot loop reuses it
// instead of allocating.
type worker struct {
	r       *run
	sh      *shard
	reqs    []*fasthttp.Request // one per target, headers set once
	resp    *fasthttp.Response
	body    []byte
	simBuf  []byte
	rng     *rand.Rand
	bidResp openrtb2.BidResponse
	res     Result
	auction AuctionStats
	timer   *time.Timer // for connection waits, reused
}

func (r *run) newWorker(i int) *worker {
	cfg := r.a.cfg
	w := &worker{
		r:    r,
		sh:   &r.shards[i%len(r.shards)],
		resp: fasthttp.AcquireResponse(),
		rng:  rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)),
	}
	for _, t := range r.a.targets {
		req := fasthttp.AcquireRequest()
		req.SetRequestURI(t.uri)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.Header.Set("X-Openrtb-Version", "2.6")
		if !cfg.NoDebugHeader {
			req.Header.Set(DebugHeader, "1")
		}
		w.reqs = append(w.reqs, req)
	}
	return w
}

// close returns the worker's buffers and folds its auction counts into its shard.
func (w *worker) close() {
	for _, req := range w.reqs {
		fasthttp.ReleaseRequest(req)
	}
	fasthttp.ReleaseResponse(w.resp)
	w.sh.mu.Lock()
	w.sh.m.Auction.merge(&w.auction)
	w.sh.mu.Unlock()
}

// do sends request n, due at due, and records the result. Latency runs from due,
// not from the actual send, so time spent waiting for a worker counts.
func (w *worker) do(n uint64, due time.Time) {
	r := w.r
	a := r.a
	ti := int(n % uint64(len(a.targets)))
	t := &a.targets[ti]
	q := &r.corpus[n%uint64(len(r.corpus))]
	req, resp := w.reqs[ti], w.resp

	body := q.Body
	if q.IDOffset >= 0 {
		w.body = append(w.body[:0], q.Body...)
		putHex(w.body[q.IDOffset:], r.idBase+n)
		body = w.body
	}
	req.SetBodyRaw(body)
	if a.cfg.Day.Enabled() {
		w.simBuf = a.cfg.Day.SimTime(r.start, due.Sub(r.start)).AppendFormat(w.simBuf[:0], time.RFC3339)
		req.Header.SetBytesV(SimTimeHeader, w.simBuf)
	}
	resp.Reset()

	res := &w.res
	if !w.acquire(t) {
		*res = Result{Scheduled: due, Done: a.clock.Now(), TMax: q.TMax, ErrKind: ErrKindNotSent}
		w.record(res)
		return
	}
	sent := a.clock.Now()
	err := t.hc.DoTimeout(req, resp, a.cfg.Timeout)
	done := a.clock.Now()
	<-t.slots

	*res = Result{Scheduled: due, Sent: sent, Done: done, TMax: q.TMax}
	if r.stalls != nil && q.TMax > 0 && done.Sub(sent) > q.TMax {
		res.Stall = r.stalls.Within(sent, done)
	}
	if err != nil {
		res.ErrKind = errKind(err)
	} else {
		res.Status = resp.StatusCode()
		switch res.Status {
		case fasthttp.StatusOK:
			if r.ex != nil {
				w.bidResp = openrtb2.BidResponse{}
				if err := sonic.Unmarshal(resp.Body(), &w.bidResp); err != nil {
					res.ErrKind = ErrKindBadBid
					break
				}
				var simTime string
				if a.cfg.Day.Enabled() {
					simTime = string(w.simBuf)
				}
				late := q.TMax > 0 && done.Sub(due) > q.TMax
				r.ex.Settle(w.rng, q, &w.bidResp, late, simTime, &w.auction)
			}
		case fasthttp.StatusNoContent:
			res.NoBidReason = resp.Header.Peek(NoBidReasonHeader)
		}
	}
	w.record(res)
}

func (w *worker) record(res *Result) {
	w.sh.mu.Lock()
	w.sh.m.Add(res)
	w.sh.mu.Unlock()
}

// acquire takes one of t's connection slots, waiting up to ConnWait for one
// to free up; false means the request is dropped unsent.
func (w *worker) acquire(t *attackTarget) bool {
	select {
	case t.slots <- struct{}{}:
		return true
	default:
	}
	wait := w.r.a.cfg.ConnWait
	if wait < 0 {
		return false
	}
	if w.timer == nil {
		w.timer = time.NewTimer(wait)
	} else {
		w.timer.Reset(wait)
	}
	select {
	case t.slots <- struct{}{}:
		w.timer.Stop()
		return true
	case <-w.timer.C:
		return false
	}
}

// errKind classifies a transport error.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrNoFreeConns), errors.Is(err, fasthttp.ErrConnectionClosed):
		return ErrKindConn
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrKindTimeout
	case errors.As(err, new(*net.OpError)):
		return ErrKindConn
	}
	return ErrKindOther
}
