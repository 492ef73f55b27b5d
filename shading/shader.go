package shading

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
)

// Clock tells the time for the decay of old outcomes; pacing's clocks
// satisfy it.
type Clock interface {
	Now() time.Time
}

// Key is what a win-rate curve is learnt for. Strings may point into a
// request: they are copied when a key is new.
type Key struct {
	Campaign  string
	Phase     segments.Phase
	Publisher string // site domain or app bundle; "" is the campaign and phase over all publishers
}

// LossHigherBid is the OpenRTB loss reason "lost to a higher bid".
const LossHigherBid = 102

const numShards = 16

// Shader learns win-rate curves from outcomes and shades first-price bids.
// It is safe for concurrent use.
type Shader struct {
	cfg       Config
	clock     Clock
	keep      float32 // 1 − MaxWinLoss
	exploreAt uint64  // explore when the draw's top 24 bits are below this

	snap   atomic.Pointer[snapshot]
	shards [numShards]tallies
	keys   atomic.Int64 // publisher keys held

	refMu  sync.Mutex
	models map[Key]*[numCells]float64 // last estimate per key, to warm-start the next
	last   time.Time

	stop, done chan struct{}
}

type snapshot struct {
	curves map[Key]*curve
}

type tallies struct {
	mu sync.Mutex
	m  map[Key]*tally
}

// New returns a Shader without data: it answers the unshaded price (and
// explores) until outcomes arrive and Refresh has run. Start refreshes in the
// background; a nil clock means the system clock.
func New(cfg Config, clock Clock) (*Shader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if clock == nil {
		clock = pacing.SystemClock{}
	}
	s := &Shader{cfg: cfg, clock: clock, keep: float32(1 - cfg.MaxWinLoss),
		exploreAt: uint64(cfg.Explore * (1 << 24)), models: make(map[Key]*[numCells]float64)}
	for i := range s.shards {
		s.shards[i].m = make(map[Key]*tally)
	}
	s.snap.Store(&snapshot{curves: map[Key]*curve{}})
	return s, nil
}

// Price returns the price (CPM, micros) to bid for an impression worth value
// (the unshaded price) with floor (0 for none) under key k. firstPrice says
// the auction is first price (at=1, and not a fixed-price deal); otherwise,
// and while the curve is thin, the value is returned (save exploration).
// rnd is a uniformly random number the caller draws (the request's
// generator); it decides exploration. The result is at most value and, when
// value is at or above floor, at least floor. Price does not block or
// allocate.
func (s *Shader) Price(k Key, value, floor money.Micros, firstPrice bool, rnd uint64) money.Micros {
	if !firstPrice || value <= 0 || floor >= value {
		return value
	}
	curves := s.snap.Load().curves
	c := curves[k]
	if c == nil && k.Publisher != "" {
		k.Publisher = ""
		c = curves[k]
	}
	p := value
	if c != nil {
		p = c.best(value, floor, s.keep)
	}
	if rnd>>40 < s.exploreAt {
		u := float64(rnd&(1<<24-1)) / (1 << 24)
		if c == nil {
			p = value - money.Micros(float64(value)*s.cfg.Dither*u) // downwards only
		} else {
			p += money.Micros(float64(p) * s.cfg.Dither * (2*u - 1))
		}
		p = min(max(p, floor, 1), value)
	}
	return p
}

// outcome is one observation on the grid: the bid's grid point, and which of
// below (C is under grid point below), above (C is at or over grid point
// above) or exact (C is in cell exact) it adds to (-1 for none).
type outcome struct {
	bid, below, above, exact int
}

func (o *outcome) apply(t *tally) {
	t.bids[o.bid]++
	switch {
	case o.below >= 0:
		t.below[o.below]++
	case o.above >= 0:
		t.above[o.above]++
	default:
		t.exact[o.exact]++
	}
	t.total++
}

// Win records a won bid at bid (CPM, micros) that cleared at clearing (0 if
// unknown; below bid in a second-price auction).
func (s *Shader) Win(k Key, bid, clearing money.Micros) {
	if bid <= 0 {
		return
	}
	c := bid
	if clearing > 0 {
		c = min(bid, clearing)
	}
	s.observe(k, outcome{bid: nearest(bid), below: max(nearest(c), 1), above: -1, exact: -1})
}

// Loss records a lost bid at bid with its OpenRTB loss reason (negative when
// the exchange gave none) and the minimum bid to win when the exchange
// reported it (0 otherwise). Losses for other reasons than a higher bid say
// nothing about the competition and are ignored.
func (s *Shader) Loss(k Key, bid, minToWin money.Micros, reason int) {
	if bid <= 0 || (reason >= 0 && reason != LossHigherBid) {
		return
	}
	o := outcome{bid: nearest(bid), below: -1, above: -1, exact: -1}
	if minToWin >= bid {
		o.exact = cellOf(minToWin)
	} else {
		o.above = o.bid
	}
	s.observe(k, o)
}

// observe adds an outcome to the key's tally and to its campaign and
// phase's tally over all publishers.
func (s *Shader) observe(k Key, o outcome) {
	s.observeKey(k, &o)
	if k.Publisher != "" {
		k.Publisher = ""
		s.observeKey(k, &o)
	}
}

func (s *Shader) observeKey(k Key, o *outcome) {
	sh := &s.shards[shardOf(k)]
	sh.mu.Lock()
	t := sh.m[k]
	if t == nil {
		if k.Publisher != "" && s.keys.Load() >= int64(s.cfg.MaxKeys) {
			sh.mu.Unlock()
			return
		}
		if k.Publisher != "" {
			s.keys.Add(1)
		}
		k.Campaign, k.Publisher = strings.Clone(k.Campaign), strings.Clone(k.Publisher)
		t = new(tally)
		sh.m[k] = t
	}
	o.apply(t)
	sh.mu.Unlock()
}

func shardOf(k Key) uint32 {
	h := uint32(2166136261) ^ uint32(k.Phase)
	for _, s := range [2]string{k.Campaign, k.Publisher} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
	}
	return h % numShards
}

// Refresh decays the tallies, re-estimates every curve with enough outcomes
// and publishes them. The background loop calls it every Refresh; tests call
// it directly.
func (s *Shader) Refresh() {
	s.refMu.Lock()
	defer s.refMu.Unlock()
	now := s.clock.Now()
	decay := float32(1)
	if !s.last.IsZero() && now.After(s.last) {
		decay = float32(math.Exp2(-float64(now.Sub(s.last)) / float64(s.cfg.HalfLife)))
	}
	s.last = now
	type item struct {
		k Key
		t tally
	}
	var work []item
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, t := range sh.m {
			if decay < 1 {
				t.scale(decay)
			}
			switch {
			case t.total < 1: // idle long enough to have faded
				delete(sh.m, k)
				delete(s.models, k)
				if k.Publisher != "" {
					s.keys.Add(-1)
				}
			case float64(t.total) >= s.cfg.MinObservations:
				work = append(work, item{k: k, t: *t})
			}
		}
		sh.mu.Unlock()
	}
	next := &snapshot{curves: make(map[Key]*curve, len(work))}
	for i := range work {
		w := &work[i]
		p, iters := s.models[w.k], 30
		if p == nil {
			p, iters = new([numCells]float64), 300
			for j := range p {
				p[j] = 1.0 / numCells
			}
			s.models[w.k] = p
		} else {
			// A cell whose mass went to zero would stay there: keep a trace of
			// the uniform start in every cell.
			for j := range p {
				p[j] = 0.99*p[j] + 0.01/numCells
			}
		}
		w.t.estimate(p, iters)
		next.curves[w.k] = newCurve(p, &w.t, float32(s.cfg.MinSupport))
	}
	s.snap.Store(next)
}

// Start runs Refresh every Config.Refresh until Stop.
func (s *Shader) Start() {
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Refresh)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.Refresh()
			}
		}
	}()
}

// Stop ends the background refresh.
func (s *Shader) Stop() {
	close(s.stop)
	<-s.done
}
