package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/valyala/fasthttp"
)

// NoticeRouting changes where and how often the simulated exchange sends its
// notices. Kairos settles any instance's bid at any instance (everything a
// notice needs travels, signed, in its URL) and counts a replayed notice once,
// so an exchange in front of several instances may send a notice to another
// instance than the one that bid, and may retry a failed notice elsewhere.
// The zero value sends every notice once, as the bid's URL says.
type NoticeRouting struct {
	// Route returns the URL to send u to, for example u with its host replaced
	// by a random live instance; nil sends u as is. It is called for every
	// attempt, from the sender goroutines concurrently.
	Route func(u string) string
	// Attempts is how often a notice is tried before it counts as failed;
	// default 1.
	Attempts int
	// Backoff is the wait between attempts; default 50ms.
	Backoff time.Duration
	// Observe, if set, is called once per notice URL with the URL of its last
	// attempt and whether that attempt was answered 2xx, from the sender
	// goroutines concurrently. Tests use it to add up exactly what the
	// exchange told the bidder.
	Observe func(u string, ok bool)
}

func (r NoticeRouting) withDefaults() NoticeRouting {
	if r.Attempts <= 0 {
		r.Attempts = 1
	}
	if r.Backoff <= 0 {
		r.Backoff = 50 * time.Millisecond
	}
	return r
}

// StartRouted starts the notice senders like Start, sending each notice as r
// says. Call one of Start and StartRouted, once.
func (e *Exchange) StartRouted(r NoticeRouting) {
	r = r.withDefaults()
	for range e.cfg.Concurrency {
		e.wg.Add(1)
		go e.routedSendLoop(r)
	}
}

func (e *Exchange) routedSendLoop(r NoticeRouting) {
	defer e.wg.Done()
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for n := range e.queue {
		for _, orig := range n.urls {
			if orig == "" {
				continue
			}
			ok, u := false, orig
			for attempt := 0; attempt < r.Attempts && !ok; attempt++ {
				if e.abandon.Load() {
					break
				}
				if attempt > 0 {
					time.Sleep(r.Backoff)
				}
				if r.Route != nil {
					u = r.Route(orig)
				}
				req.Reset()
				resp.Reset()
				req.SetRequestURI(u)
				req.Header.SetMethod(fasthttp.MethodGet)
				if n.simTime != "" {
					req.Header.Set(SimTimeHeader, n.simTime)
				}
				err := e.client.DoTimeout(req, resp, e.cfg.Timeout)
				ok = err == nil && resp.StatusCode() >= 200 && resp.StatusCode() < 300
			}
			switch {
			case ok:
				e.sent.Add(1)
			case e.abandon.Load():
				e.dropped.Add(1)
			default:
				e.failed.Add(1)
			}
			if r.Observe != nil {
				r.Observe(u, ok)
			}
		}
	}
}

// AttackRouted is Attack with the exchange's notices sent as routing says
// (see NoticeRouting); without an auction (Mode AuctionNone) it is Attack.
func (a *Attacker) AttackRouted(ctx context.Context, c Corpus, routing NoticeRouting) (*Metrics, error) {
	// This repeats Attack but for the one line that starts the exchange: the
	// notice routing is not part of AttackConfig.
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
		ex.StartRouted(routing)
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
