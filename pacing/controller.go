package pacing

import (
	"context"
	"math"
	"strconv"
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
	live     bool  // requests have come in: the bins from the next on count
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
		if !t.live {
			// Before its first request an instance may not be receiving
			// traffic yet (starting, or not yet behind the load balancer):
			// an empty bin then says nothing about the time of day, and the
			// bin of the first requests was watched only in part.
			t.live = c > 0
			continue
		}
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

// shares sets the traffic shares of the day [startMs, endMs) the controller
// needs at in.nowMs; lastMs is its previous tick, tickMs its interval. The
// previous tick's share is read on this snapshot of the curve, so that what
// the curve learned since does not count as traffic.
func (s *curveSnap) shares(in *ctlInput, startMs, endMs, lastMs, tickMs int64) {
	in.fPrev = s.share(startMs, max(lastMs, startMs), endMs)
	in.fNow = s.share(startMs, in.nowMs, endMs)
	in.fNext = s.share(startMs, in.nowMs+tickMs, endMs)
	in.fCorr = s.share(startMs, in.nowMs+ctlCorrection.Milliseconds(), endMs)
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

// The controller's time constants, in clock time.
const (
	// ctlMemory is how long spend and exposure are remembered when the
	// controller estimates what a campaign would spend at full participation:
	// long enough to hold tens of wins of a small campaign, short enough to
	// follow changes in competition and win rate.
	ctlMemory = 15 * time.Minute
	// ctlCorrection is the stretch of coming traffic over which a deviation
	// from the plan is made up: short enough that an hour keeps to its plan
	// despite the randomness of sparse wins, long against the tick and the
	// delay of notices.
	ctlCorrection = 10 * time.Minute
)

// ctlInput is what the controller sees of one campaign at one tick.
type ctlInput struct {
	mode, day string
	nowMs     int64
	// budget and spent are today's budget and settled spend (all instances),
	// micros.
	budget, spent float64
	// Traffic shares of the day (its cumulative traffic curve) passed at the
	// previous tick, now, at the next tick and ctlCorrection from now.
	fPrev, fNow, fNext, fCorr float64
}

// ctlState is the controller's memory for one campaign.
type ctlState struct {
	day, mode string
	budget    float64
	lastSpent float64
	lastMs    int64
	p         float64
	// The plan is to have spent planAt(g) once the mode's target share g of
	// the day is reached: what was left at the anchor (aSpent spent at target
	// share aG), spread over the rest of the day.
	aSpent, aG float64
	// sumS and sumE are spend and exposure (participation × traffic share),
	// both weighted down over ctlMemory; sumS/sumE estimates the spend per
	// unit of traffic share at full participation.
	sumS, sumE float64
}

// step computes the participation for the next interval.
//
// The controller follows a plan of cumulative spend: what is left of today's
// budget when it takes the campaign on (the first tick of the day, or a new
// budget or mode) is spread over the rest of the day along the mode's target
// curve of the traffic share. Each tick it asks for the plan's spend over the
// next interval plus a part of the deviation from the plan, made up over the
// next ctlCorrection of traffic, and divides that by the spend expected at
// full participation over the interval. That expectation is the ratio of the
// remembered spend to the remembered exposure, ticks without spend included,
// so neither sparse nor bursty settlements inflate it. While nothing has been
// spent yet, participation doubles every tick. When the campaign falls
// behind by more than a correction's worth at full participation (short of
// traffic), what is left is spread anew over the rest of the day.
// Participation moves at most ×2 up or ÷4 down per tick, within [minP, 1].
func (s *ctlState) step(in *ctlInput, minP, initP float64) float64 {
	if in.mode == "asap" {
		s.p, s.day, s.mode = 1, in.day, in.mode
		return 1
	}
	if s.p == 0 {
		s.p = initP
	}
	if in.day == s.day && s.lastMs > 0 {
		decay := math.Exp(-float64(in.nowMs-s.lastMs) / float64(ctlMemory.Milliseconds()))
		s.sumS = s.sumS*decay + max(in.spent-s.lastSpent, 0)
		s.sumE = s.sumE*decay + s.p*max(in.fNow-in.fPrev, 0)
	}
	s.lastSpent, s.lastMs = in.spent, in.nowMs
	gNow := target(in.mode, in.fNow)
	if in.day != s.day || in.mode != s.mode || in.budget != s.budget {
		s.day, s.mode, s.budget = in.day, in.mode, in.budget
		s.aSpent, s.aG = in.spent, gNow
	}
	remaining := in.budget - in.spent
	if remaining <= 0 {
		s.p = minP
		return s.p
	}
	gNext, gCorr := target(in.mode, in.fNext), target(in.mode, in.fCorr)
	plan := s.planAt(gNow)
	behind := plan - in.spent
	frac := 1.0 // of the deviation made up in the next interval
	if gCorr-gNow > 1e-12 {
		frac = min(1, (gNext-gNow)/(gCorr-gNow))
	}
	want := min(s.planAt(gNext)-plan+behind*frac, remaining)
	next := s.p * 2
	switch ahead := in.fNext - in.fNow; {
	case s.sumS <= 0 || s.sumE <= 0:
	case ahead <= 0:
		next = s.p
	default:
		next = want / (s.sumS / s.sumE * ahead)
		if next >= 1 && s.p >= 1 && behind > s.planAt(gCorr)-plan {
			// Short of traffic for longer than a correction takes: spread
			// the shortfall over the rest of the day rather than let it
			// pile up into a burst when traffic comes back.
			s.aSpent, s.aG = in.spent, gNow
		}
	}
	next = min(max(next, s.p/4), s.p*2)
	s.p = min(max(next, minP), 1)
	return s.p
}

// planAt is the planned spend once the mode's target share g is reached.
func (s *ctlState) planAt(g float64) float64 {
	if 1-s.aG <= 1e-12 {
		return s.budget
	}
	return s.aSpent + (s.budget-s.aSpent)*(g-s.aG)/(1-s.aG)
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
		p.noticeInit(it.c.ID, it.st, it.expect, f.Init)
		if !it.st.lost.Load() {
			// A lost ledger reads as zeros: keep the last view, which a
			// restore starts from (Pacer.Restore).
			it.st.fig.Store(&f)
		}
		budget := float64(dailyBudget(it.c, &f))
		in := ctlInput{mode: it.c.Pacing, day: f.Day, nowMs: nowMs, budget: budget, spent: float64(f.SpentToday)}
		snap.shares(&in, it.start, it.end, it.st.ctl.lastMs, tick)
		rate := it.st.ctl.step(&in, p.cfg.MinParticipation, p.cfg.InitialParticipation)
		it.st.threshold.Store(threshold(rate))
		it.st.plan.Store(int64(math.Round(budget * target(it.c.Pacing, in.fNow))))
	}
}

// noticeInit compares the ledger incarnation init, just read from Redis, with
// expect, the one this instance leased from (read before it). A ledger an
// operator restored after that incarnation began resumes bidding on it (the
// next lease adopts it); any other change means the ledger vanished and marks
// the campaign lost. A restore older than the expected incarnation (Redis
// loaded an old snapshot, say) is no restore of this loss: it stays lost.
func (p *Pacer) noticeInit(id string, st *campState, expect, init string) {
	if expect == "" || init == expect {
		return
	}
	st.slowMu.Lock()
	current := st.expectInit
	st.slowMu.Unlock()
	if current != expect {
		// Adopted or resumed since the caller read expect: its comparison is
		// stale (and resuming again would retire a lease just taken).
		return
	}
	if restoredAfter(init, expect) {
		if p.resume(st) {
			p.log.Info("pacing: campaign ledger restored; bidding resumes", zap.String("campaign", id))
		}
		return
	}
	if !st.lost.Swap(true) {
		p.log.Error("pacing: campaign ledger lost in Redis; bidding stopped for it until an operator restores it",
			zap.String("campaign", id), zap.String("expected", expect), zap.String("found", init))
	}
}

// restoredAfter reports whether init names a ledger written by Restore no
// earlier than the incarnation expect began (by the clocks of the instances
// that wrote them). Inits read "<day>|<unix ms>|<writer>".
func restoredAfter(init, expect string) bool {
	if !strings.HasSuffix(init, restoreMark) {
		return false
	}
	return initMillis(init) >= initMillis(expect)
}

// initMillis is the creation time in an init, 0 when it has none.
func initMillis(init string) int64 {
	_, rest, ok := strings.Cut(init, "|")
	if !ok {
		return 0
	}
	ms, _, _ := strings.Cut(rest, "|")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// checkRestored looks, every SweepInterval, whether the ledgers of campaigns
// this instance holds lost were restored, so that bidding resumes within about
// a second of an operator's restore on any instance rather than at the next
// controller tick (TickInterval, 5s). It costs a Redis round trip only while a
// campaign is lost.
func (p *Pacer) checkRestored(ctx context.Context, now time.Time) {
	idx := p.camps.Index()
	if idx == nil {
		return
	}
	var (
		ids     []string
		sts     []*campState
		expects []string
		qs      []FigureQuery
	)
	for id, st := range *p.states.Load() {
		if !st.lost.Load() {
			continue
		}
		c, ok := idx.Get(id)
		if !ok {
			continue
		}
		day, _, _ := dayOf(now, c.Loc)
		st.slowMu.Lock()
		expect := st.expectInit
		st.slowMu.Unlock()
		ids, sts, expects = append(ids, id), append(sts, st), append(expects, expect)
		qs = append(qs, FigureQuery{CampaignID: id, Day: day})
	}
	if len(qs) == 0 {
		return
	}
	p.tickMu.Lock()
	defer p.tickMu.Unlock()
	figs, err := p.ledger.Figures(ctx, qs)
	if err != nil {
		p.warn("read ledger figures", "", err)
		return
	}
	for i := range figs {
		p.noticeInit(ids[i], sts[i], expects[i], figs[i].Init)
	}
}

// dailyBudget is what may be spent today: the daily budget, or less when the
// total budget has less left.
func dailyBudget(c *campaigns.Compiled, f *Figures) int64 {
	left := int64(c.Budget.Total - (f.SpentTotal - f.SpentToday))
	return max(min(int64(c.Budget.Daily), left), 0)
}
