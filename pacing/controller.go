package pacing

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kairos-rtb/kairos/campaigns"
	"go.uber.org/zap"
)

// The traffic curve has one bin per five minutes of the UTC day; campaign days
// in any zone with a whole-quarter-hour offset start on a bin boundary.
const (
	curveBins   = 288
	curveBinSec = 86400 / curveBins
)

// trafficCurve learns how bid requests spread over the day, so that even
// pacing spends in step with traffic rather than with the clock.
type trafficCurve struct {
	counts [curveBins]atomic.Int64

	mu       sync.Mutex
	w        [curveBins]float64 // learned requests per bin
	seen     [curveBins]bool    // bins observed whole at least once
	nSeen    int
	lastFold int64 // absolute bin index folded up to (exclusive); 0 = never
}

func newTrafficCurve() *trafficCurve { return &trafficCurve{} }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func binIndex(abs int64) int { return int(abs - floorDiv(abs, curveBins)*curveBins) }

func (t *trafficCurve) observe(now time.Time) {
	t.counts[binIndex(floorDiv(now.Unix(), curveBinSec))].Add(1)
}

// fold moves the counts of the bins completed before now into the learned
// weights and returns a snapshot for computing traffic shares.
func (t *trafficCurve) fold(now time.Time) *curveSnap {
	cur := floorDiv(now.Unix(), curveBinSec)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lastFold == 0 {
		// The bins before the first fold were not watched whole.
		for i := range t.counts {
			if i != binIndex(cur) {
				t.counts[i].Store(0)
			}
		}
		t.lastFold = cur
	}
	for abs := max(t.lastFold, cur-curveBins); abs < cur; abs++ {
		b := binIndex(abs)
		c := float64(t.counts[b].Swap(0))
		if t.seen[b] {
			t.w[b] = 0.7*t.w[b] + 0.3*c
		} else {
			t.w[b], t.seen[b] = c, true
			t.nSeen++
		}
	}
	t.lastFold = max(t.lastFold, cur)
	// Bins not yet observed count as the average of those that were (uniform
	// before anything was observed).
	fill := 1.0
	if t.nSeen > 0 {
		var sum float64
		for i, w := range t.w {
			if t.seen[i] {
				sum += w
			}
		}
		fill = sum / float64(t.nSeen)
	}
	s := &curveSnap{}
	for i, w := range t.w {
		if !t.seen[i] {
			w = fill
		}
		s.w[i] = w
		s.pre[i+1] = s.pre[i] + w
	}
	return s
}

// curveSnap is a frozen traffic curve with prefix sums.
type curveSnap struct {
	w   [curveBins]float64
	pre [curveBins + 1]float64
}

// cum is the traffic weight from the epoch to unix millisecond ms.
func (s *curveSnap) cum(ms int64) float64 {
	abs := floorDiv(ms, curveBinSec*1000)
	rem := float64(ms-abs*curveBinSec*1000) / (curveBinSec * 1000)
	b := binIndex(abs)
	return float64(floorDiv(abs, curveBins))*s.pre[curveBins] + s.pre[b] + s.w[b]*rem
}

// share is the fraction of the traffic of the day [startMs, endMs) expected
// before tMs: the cumulative traffic curve F(t) of that day.
func (s *curveSnap) share(startMs, tMs, endMs int64) float64 {
	if tMs <= startMs {
		return 0
	}
	if tMs >= endMs {
		return 1
	}
	c0 := s.cum(startMs)
	den := s.cum(endMs) - c0
	if den <= 0 {
		return float64(tMs-startMs) / float64(endMs-startMs)
	}
	return min(max((s.cum(tMs)-c0)/den, 0), 1)
}

// target is a pacing mode's planned share of the day's budget spent once a
// share f of the day's traffic has passed.
func target(mode string, f float64) float64 {
	switch mode {
	case "asap":
		return 1
	case "ahead":
		return min(1, 1.5*f)
	}
	return f
}

// ctlState is the controller's memory for one campaign.
type ctlState struct {
	day       string
	lastSpent float64
	lastF     float64
	p         float64
	pot       float64 // spend per unit of traffic share at participation 1
}

// step computes the participation for the next interval. budget is today's
// budget, spent today's settled spend, fNow and fNext the traffic shares of
// the day now and one tick later.
//
// What is left of today's budget is spread over the rest of the day following
// the target curve, so any past error is absorbed rather than accumulated:
// the next interval should spend remaining × (G(fNext) − G(fNow)) / (1 −
// G(fNow)). The spend the campaign would reach at full participation per unit
// of traffic (pot) is learned from the spend observed in the last interval
// divided by the participation then; the new participation is the ratio of
// the two, moved at most ×2 up or ÷4 down per tick and clamped to [minP, 1].
func (s *ctlState) step(mode string, budget, spent, fNow, fNext float64, day string, minP, initP float64) float64 {
	if mode == "asap" {
		s.p, s.day = 1, day
		return 1
	}
	if s.p == 0 {
		s.p = initP
	}
	if day != s.day {
		s.day, s.lastSpent, s.lastF = day, spent, fNow
	}
	if dF := fNow - s.lastF; dF > 1e-9 {
		if dS := spent - s.lastSpent; dS > 0 {
			sample := dS / (dF * s.p)
			if s.pot == 0 {
				s.pot = sample
			} else {
				s.pot = 0.5*s.pot + 0.5*sample
			}
		}
	}
	s.lastSpent, s.lastF = spent, fNow
	remaining := budget - spent
	if remaining <= 0 {
		s.p = minP
		return s.p
	}
	gNow, gNext := target(mode, fNow), target(mode, fNext)
	want := remaining
	if 1-gNow > 1e-9 {
		want = remaining * (gNext - gNow) / (1 - gNow)
	}
	next := s.p * 2
	if ahead := fNext - fNow; s.pot > 0 && ahead > 0 {
		next = want / (s.pot * ahead)
	}
	next = min(max(next, s.p/4), s.p*2)
	s.p = min(max(next, minP), 1)
	return s.p
}

// Tick runs the participation controller once at now: it reads every active
// campaign's ledger figures (one pipelined round trip), checks that no ledger
// was lost, and sets each campaign's participation from actual against
// planned spend. Start runs it every TickInterval; tests call it directly.
func (p *Pacer) Tick(ctx context.Context, now time.Time) {
	p.tickMu.Lock()
	defer p.tickMu.Unlock()
	snap := p.curve.fold(now)
	idx := p.camps.Index()
	if idx == nil {
		return
	}
	cs := idx.Campaigns()
	type item struct {
		c          *campaigns.Compiled
		st         *campState
		expect     string
		start, end int64
	}
	items := make([]item, len(cs))
	qs := make([]FigureQuery, len(cs))
	for i, c := range cs {
		st := p.stateFor(c)
		day, start, end := dayOf(now, c.Loc)
		// expectInit is read before the figures so that an init written by a
		// concurrent first lease cannot look like a lost ledger.
		st.slowMu.Lock()
		items[i] = item{c: c, st: st, expect: st.expectInit, start: start, end: end}
		st.slowMu.Unlock()
		qs[i] = FigureQuery{CampaignID: c.ID, Day: day}
	}
	figs, err := p.ledger.Figures(ctx, qs)
	if err != nil {
		p.warn("read ledger figures", "", err)
		return
	}
	nowMs := now.UnixMilli()
	tick := p.cfg.TickInterval.Milliseconds()
	for i, it := range items {
		f := figs[i]
		if it.expect != "" && f.Init != it.expect {
			it.st.slowMu.Lock()
			if !it.st.lost.Load() {
				it.st.lostInit = f.Init
			}
			lostInit := it.st.lostInit
			it.st.slowMu.Unlock()
			switch {
			case strings.HasSuffix(f.Init, restoreMark) && f.Init != lostInit:
				// An operator restored the ledger since: resume on it.
				p.ClearLost(it.c.ID)
				p.log.Info("pacing: campaign ledger restored; bidding resumes", zap.String("campaign", it.c.ID))
			case !it.st.lost.Swap(true):
				p.log.Error("pacing: campaign ledger lost in Redis; bidding stopped for it until an operator restores it",
					zap.String("campaign", it.c.ID))
			}
		}
		it.st.fig.Store(&f)
		budget := float64(dailyBudget(it.c, &f))
		fNow := snap.share(it.start, nowMs, it.end)
		fNext := snap.share(it.start, nowMs+tick, it.end)
		rate := it.st.ctl.step(it.c.Pacing, budget, float64(f.SpentToday), fNow, fNext, f.Day,
			p.cfg.MinParticipation, p.cfg.InitialParticipation)
		it.st.threshold.Store(threshold(rate))
		it.st.plan.Store(int64(math.Round(budget * target(it.c.Pacing, fNow))))
	}
}

// dailyBudget is what may be spent today: the daily budget, or less when the
// total budget has less left.
func dailyBudget(c *campaigns.Compiled, f *Figures) int64 {
	left := int64(c.Budget.Total - (f.SpentTotal - f.SpentToday))
	return max(min(int64(c.Budget.Daily), left), 0)
}
