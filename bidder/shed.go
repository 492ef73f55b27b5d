package bidder

import (
	"math"
	"sync/atomic"
	"time"
)

// Overload shedding. When requests arrive faster than Kairos can decide them,
// they wait in the Go scheduler's run queue (and the kernel's socket buffers)
// before the handler runs, and every answer drifts past its deadline. The
// shedder measures that wait directly: a ticker goroutine notes how late it is
// woken, which is how long a runnable goroutine waits for a processor. While
// the lag stays above the target, the share of requests answered at once with
// a no-bid (before decoding, the cheapest answer there is) grows; when the lag
// falls back it shrinks, so throughput settles just below capacity and the
// requests still decided are answered in time.

// ShedConfig tunes overload shedding. Zero values mean the defaults.
type ShedConfig struct {
	// TargetLag is the scheduling lag above which requests are shed
	// (default 10ms; negative disables shedding). Keep it well below the
	// deadline budget: a closed-loop load of 64 connections on one core queues
	// about 2-3ms and needs no shedding, while an open-loop overload drives the
	// lag past any target within milliseconds.
	TargetLag time.Duration
	// Interval is how often the lag is sampled and the shed share adjusted
	// (default 5ms).
	Interval time.Duration
}

func (c *ShedConfig) setDefaults() {
	if c.TargetLag == 0 {
		c.TargetLag = 10 * time.Millisecond
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Millisecond
	}
}

// The shed share moves by these steps per sample: up fast when lagging, down
// slowly, so a burst is shed at once and recovery does not oscillate.
const (
	shedStepUp   = 0.10
	shedStepDown = 0.02
	shedMax      = 0.98
)

// shedder keeps the share of requests to shed. Its methods are safe for
// concurrent use; share is read on every request and does not allocate.
type shedder struct {
	cfg   ShedConfig
	share atomic.Uint64 // math.Float64bits of the share in [0, shedMax]
	lag   atomic.Int64  // last sampled lag, nanoseconds, for metrics
	over  int           // consecutive samples above the target; run's goroutine only
}

func newShedder(cfg ShedConfig) *shedder {
	cfg.setDefaults()
	return &shedder{cfg: cfg}
}

// enabled reports whether shedding is on.
func (s *shedder) enabled() bool { return s != nil && s.cfg.TargetLag > 0 }

// Share returns the current share of requests shed.
func (s *shedder) Share() float64 { return math.Float64frombits(s.share.Load()) }

// observe adjusts the share after a sample that saw lag. One late sample may
// be the process losing its core for a moment; two in a row are a queue.
func (s *shedder) observe(lag time.Duration) {
	s.lag.Store(int64(lag))
	p := s.Share()
	if lag > s.cfg.TargetLag {
		if s.over++; s.over >= 2 {
			p = min(p+shedStepUp, shedMax)
		}
	} else {
		s.over = 0
		p = max(p-shedStepDown, 0)
	}
	s.share.Store(math.Float64bits(p))
}

// shed reports whether to shed a request, given a uniform random draw.
func (s *shedder) shed(rnd uint64) bool {
	p := s.Share()
	return p > 0 && float64(rnd>>11)/(1<<53) < p
}

// run samples the scheduling lag until stop closes.
func (s *shedder) run(stop <-chan struct{}, now func() time.Time) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	last := now()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		at := now()
		// A ticker that fell behind drops ticks, so lateness is measured
		// against the previous wake-up, not the tick's own timestamp.
		s.observe(max(at.Sub(last)-s.cfg.Interval, 0))
		last = at
	}
}
