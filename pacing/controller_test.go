package pacing

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

// market models what a campaign meets in a simulated day of controller ticks.
type market struct {
	mode   string
	budget float64 // today's budget, micros
	price  float64 // the cost of one win, micros
	// potential is the spend at full participation over the day, in budgets.
	potential float64
	// traffic is the relative request rate by hour of the day.
	traffic func(hour int) float64
	// learned: the traffic curve was learned the day before; otherwise the
	// controller learns it during the day, starting with no knowledge.
	learned bool
	// lag is how many ticks a bid's settlement takes; settlements are
	// delivered together every burst ticks (0 or 1: every tick).
	lag, burst int
}

func uniform(int) float64 { return 1 }

// dayTime is 3 times the traffic from 08:00 to 20:00 as at night.
func dayTime(h int) float64 {
	if h >= 8 && h < 20 {
		return 3
	}
	return 1
}

// simDay is a simulated day's outcome, by the hour the bids were made.
type simDay struct {
	hourly, plan [24]float64
	spent        float64
	minP         float64 // the lowest participation from 01:00 to 23:00
}

// simulate drives the controller through one day of 5-second ticks (the
// default interval) against m. Wins are random (Poisson) at the rate the
// participation and the hour's traffic give; a win is refused when it would
// take spend and pending settlements above the budget, as the leases do.
func simulate(m market, seed uint64) simDay {
	const (
		tick  = 5 * time.Second
		ticks = 24 * 720
	)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	start, end := day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli()
	var total float64
	for h := range 24 {
		total += m.traffic(h)
	}
	curve := newTrafficCurve()
	const requests = 1e7 // a day's bid requests
	if m.learned {
		prev := day.AddDate(0, 0, -1)
		curve.fold(prev)
		for b := range curveBins {
			at := prev.Add(time.Duration(b) * curveBinSec * time.Second)
			curve.counts[b].Add(int64(requests * m.traffic(at.Hour()) / total / curveBins * 24))
			curve.fold(at.Add(curveBinSec * time.Second))
		}
	}
	rnd := rand.New(rand.NewPCG(seed, 7))
	burst := max(m.burst, 1)
	pending := make([]float64, ticks+m.lag+burst)
	var s ctlState
	var out simDay
	var settled, committed float64
	delivered := 0
	out.minP = 1
	for k := range ticks {
		now := day.Add(time.Duration(k) * tick)
		ms := now.UnixMilli()
		if k%burst == 0 {
			for ; delivered <= k; delivered++ {
				settled += pending[delivered]
			}
		}
		snap := curve.fold(now)
		in := ctlInput{mode: m.mode, day: "2026-11-02", nowMs: ms, budget: m.budget, spent: settled}
		snap.shares(&in, start, end, s.lastMs, tick.Milliseconds())
		p := s.step(&in, 0.01, 0.1)
		h := now.Hour()
		if h > 0 && h < 23 {
			out.minP = min(out.minP, p)
		}
		rate := m.traffic(h) / total / 720 // share of the day's traffic in this tick
		curve.counts[binIndex(floorDiv(now.Unix(), curveBinSec))].Add(int64(poisson(rnd, requests*rate)))
		for range poisson(rnd, p*m.potential*m.budget/m.price*rate) {
			if committed+m.price > m.budget {
				break
			}
			committed += m.price
			pending[k+m.lag] += m.price
			out.hourly[h] += m.price
		}
	}
	for _, v := range pending {
		out.spent += v
	}
	var cum float64
	for h := range 24 {
		f0 := cum / total
		cum += m.traffic(h)
		out.plan[h] = m.budget * (target(m.mode, cum/total) - target(m.mode, f0))
	}
	return out
}

// poisson draws from a Poisson distribution (normal above a mean of 50).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		if p *= r.Float64(); p <= l {
			return k
		}
		k++
	}
}

// dayCase is a simulated day and what is checked of it.
type dayCase struct {
	name  string
	m     market
	every int     // hours per checked stretch
	from  int     // first hour checked
	to    int     // hours checked: [from, to)
	tol   float64 // allowed deviation of a stretch from its plan
}

const price = 4000 // micros per win: 4.00 CPM

var dayCases = []dayCase{
	// 250 wins an hour, a third of a win a tick: the old controller
	// starved such campaigns.
	{"small budget, a win every three ticks", market{mode: "even", budget: 6000 * price, price: price,
		potential: 3, traffic: uniform, lag: 1}, 1, 0, 24, 0.10},
	{"small budget, barely enough traffic", market{mode: "even", budget: 6000 * price, price: price,
		potential: 1.3, traffic: uniform, lag: 1}, 1, 0, 24, 0.10},
	{"big budget, 70 wins a tick", market{mode: "even", budget: 1_200_000 * price, price: price,
		potential: 1.5, traffic: uniform, lag: 1}, 1, 0, 24, 0.10},
	{"big budget, plenty of traffic", market{mode: "even", budget: 1_200_000 * price, price: price,
		potential: 20, traffic: uniform, lag: 1}, 1, 0, 24, 0.10},
	{"bursty settlements, once a minute, 15 s late", market{mode: "even", budget: 20_000 * price, price: price,
		potential: 3, traffic: uniform, lag: 3, burst: 12}, 1, 0, 24, 0.10},
	{"settlements a minute late", market{mode: "even", budget: 20_000 * price, price: price,
		potential: 3, traffic: uniform, lag: 12}, 1, 0, 24, 0.10},
	{"traffic three times higher by day, learned", market{mode: "even", budget: 20_000 * price, price: price,
		potential: 3, traffic: dayTime, learned: true, lag: 1}, 1, 0, 24, 0.10},
	{"ahead: front-loaded", market{mode: "ahead", budget: 20_000 * price, price: price,
		potential: 4, traffic: uniform, lag: 1}, 1, 0, 16, 0.10},
	// 48 wins for the day, as when the total budget is nearly spent: two
	// an hour are too few for hourly figures, so quarters of the day are
	// checked.
	{"budget nearly exhausted", market{mode: "even", budget: 48 * price, price: price,
		potential: 20, traffic: uniform, lag: 1}, 6, 0, 24, 0.25},
}

// TestControllerDay: simulated days of ticks against markets of every kind,
// three seeds each. Each checked stretch of hours spends within tol of its
// plan, the day spends at least 98% of its budget (traffic suffices in every
// case) and never more, and participation does not collapse to its minimum.
// (Over 30 seeds the worst hour of a small budget deviates 6.8%, of a big
// one 0.5%.)
func TestControllerDay(t *testing.T) {
	for _, tc := range dayCases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				d := simulate(tc.m, seed)
				for h := tc.from; h < tc.to; h += tc.every {
					var got, plan float64
					for i := h; i < h+tc.every; i++ {
						got, plan = got+d.hourly[i], plan+d.plan[i]
					}
					if math.Abs(got-plan) > tc.tol*plan {
						t.Errorf("seed %d: hours %02d-%02d spent %.0f, plan %.0f (%+.1f%%, allowed ±%.0f%%)",
							seed, h, h+tc.every, got, plan, 100*(got-plan)/plan, 100*tc.tol)
					}
				}
				if d.spent > tc.m.budget || d.spent < 0.98*tc.m.budget {
					t.Errorf("seed %d: spent %.0f of %.0f (%.1f%%), want 98-100%%", seed, d.spent, tc.m.budget, 100*d.spent/tc.m.budget)
				}
				// A campaign of two wins an hour rightly waits at the minimum
				// after each win.
				if d.minP <= 0.01 && tc.m.mode == "even" && tc.every == 1 {
					t.Errorf("seed %d: participation fell to its minimum", seed)
				}
			}
		})
	}
}

// TestControllerFirstDay: without a learned curve (TestControllerDay has
// one), even pacing takes the hours not seen yet to be like those seen, so at
// night on its first day it spends by the clock, twice what the traffic plan
// gives the night hours: what the curve is for.
func TestControllerFirstDay(t *testing.T) {
	m := market{mode: "even", budget: 20_000 * 4000, price: 4000, potential: 6, traffic: dayTime, lag: 1}
	d := simulate(m, 1)
	if clock := m.budget / 24; math.Abs(d.hourly[3]-clock) > 0.1*clock {
		t.Errorf("03:00 spent %.0f, want the clock's share %.0f (traffic plan %.0f)", d.hourly[3], clock, d.plan[3])
	}
}

func TestControllerAsap(t *testing.T) {
	var s ctlState
	for i := 0; i < 3; i++ {
		in := ctlInput{mode: "asap", day: "d", nowMs: int64(i+1) * 5000, budget: 100, spent: float64(i * 40),
			fPrev: 0.1, fNow: 0.1, fNext: 0.2, fCorr: 0.3}
		if p := s.step(&in, 0.01, 0.1); p != 1 {
			t.Fatalf("asap participation %g", p)
		}
	}
}

func TestControllerStep(t *testing.T) {
	// A campaign at participation 0.2 that has spent 40 of 100 at half the
	// day; the next tick is 1% of the day's traffic, the correction horizon
	// 10%. Its memory says 2000 per unit of traffic share at full
	// participation. The plan asks for 1 over the next tick, plus a tenth of
	// the 10 it is behind: 2, hence participation 0.1.
	on := ctlState{day: "d", mode: "even", budget: 100, p: 0.2, lastMs: 5000, lastSpent: 40,
		aSpent: 0, aG: 0, sumS: 200, sumE: 0.1}
	in := ctlInput{mode: "even", day: "d", nowMs: 10000, budget: 100, spent: 40,
		fPrev: 0.5, fNow: 0.5, fNext: 0.51, fCorr: 0.6}
	f := func(name string, s ctlState, in ctlInput, want float64) {
		t.Helper()
		if got := s.step(&in, 0.01, 0.1); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: participation %g, want %g", name, got, want)
		}
	}
	with := func(s ctlState, change func(*ctlState, *ctlInput)) (ctlState, ctlInput) {
		in := in
		change(&s, &in)
		return s, in
	}
	f("behind the plan", on, in, 0.1)
	f("first tick starts at the initial rate and may double", ctlState{}, in, 0.2)
	s, i := with(on, func(s *ctlState, in *ctlInput) { s.sumS = 0 })
	f("nothing spent yet: doubling", s, i, 0.4)
	s, i = with(on, func(s *ctlState, in *ctlInput) { in.spent = 100 })
	f("budget spent: minimum", s, i, 0.01)
	s, i = with(on, func(s *ctlState, in *ctlInput) { s.sumS = 1 })
	f("at most doubling", s, i, 0.4)
	s, i = with(on, func(s *ctlState, in *ctlInput) { s.sumS = 1e9 })
	f("at most quartering", s, i, 0.05)
	s, i = with(on, func(s *ctlState, in *ctlInput) { s.p, s.sumS = 0.9, 1 })
	f("never above 1", s, i, 1)
	s, i = with(on, func(s *ctlState, in *ctlInput) { in.fNext = in.fNow })
	f("no traffic expected: unchanged", s, i, 0.2)
	// Zero-spend ticks count: 40 micros of spend remembered over more and
	// more exposure mean more participation, not less.
	s, i = with(on, func(s *ctlState, in *ctlInput) { in.fPrev, in.spent, s.lastSpent = 0.4, 40, 40 })
	f("a tick without spend", s, i, 2/(200/(0.1+0.2*0.1/math.Exp(-1.0/180))*0.01))
	s, i = with(on, func(s *ctlState, in *ctlInput) { in.spent, s.lastSpent = 60, 60 })
	f("ahead of the plan", s, i, 0.05)
	// Short of traffic at full participation: the plan starts again from
	// what is left, so the shortfall is not made up in a burst.
	s, i = with(on, func(s *ctlState, in *ctlInput) { s.p, s.sumS, in.spent, s.lastSpent = 1, 10, 30, 30 })
	s.step(&i, 0.01, 0.1)
	if s.aSpent != 30 || s.aG != 0.5 {
		t.Errorf("short of traffic: plan anchored at %g spent, share %g; want 30, 0.5", s.aSpent, s.aG)
	}
	s, i = with(on, func(s *ctlState, in *ctlInput) { s.p, s.sumS = 1, 10 })
	s.step(&i, 0.01, 0.1)
	if s.aSpent != 0 || s.aG != 0 {
		t.Errorf("behind by less than a correction: plan anchored anew at %g spent, share %g", s.aSpent, s.aG)
	}
}

func TestCurveShare(t *testing.T) {
	c := newTrafficCurve()
	snap := c.fold(t0)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	f := func(name string, s *curveSnap, start, at, end time.Time, want float64) {
		t.Helper()
		if got := s.share(start.UnixMilli(), at.UnixMilli(), end.UnixMilli()); math.Abs(got-want) > 1e-9 {
			t.Fatalf("%s: share %g, want %g", name, got, want)
		}
	}
	f("uniform noon", snap, day, day.Add(12*time.Hour), day.AddDate(0, 0, 1), 0.5)
	f("uniform mid-bin", snap, day, day.Add(150*time.Second), day.AddDate(0, 0, 1), 150.0/86400)
	ny, _ := time.LoadLocation("America/New_York")
	short := time.Date(2026, 3, 8, 0, 0, 0, 0, ny) // 23-hour day
	f("DST day end", snap, short, short.Add(23*time.Hour), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 1)
	f("DST day half", snap, short, short.Add(690*time.Minute), time.Date(2026, 3, 9, 0, 0, 0, 0, ny), 0.5)
	// A learned curve: all of a day's traffic in one UTC hour. Bins are
	// learned from the first requests on, but not the bin they came in:
	// it was watched only in part.
	c = newTrafficCurve()
	c.fold(day.Add(-time.Hour))
	c.fold(day.Add(-10 * time.Minute)) // no requests: nothing learned
	c.observe(day.Add(-time.Second))
	c.fold(day)
	for m := 0; m < 60; m += 5 {
		for i := 0; i < 10; i++ {
			c.observe(day.Add(time.Duration(600+m) * time.Minute))
		}
	}
	for m := 0; m < 24*60; m += 5 {
		c.observe(day.Add(time.Duration(m) * time.Minute)) // a trickle
	}
	snap = c.fold(day.AddDate(0, 0, 1))
	f("learned curve by 11:00", snap, day, day.Add(11*time.Hour), day.AddDate(0, 0, 1), 252.0/408)
	f("learned curve, next day", snap, day.AddDate(0, 0, 1), day.AddDate(0, 0, 1).Add(10*time.Hour), day.AddDate(0, 0, 2), 120.0/408)
}

func TestTickSetsParticipationAndState(t *testing.T) {
	rdb, keys := testRedis(t)
	clk := NewManualClock(t0)
	src := newIndex(t0, testCampaign("even", "UTC", "even", 24*money.Unit, 100*money.Unit),
		testCampaign("asap", "UTC", "asap", 24*money.Unit, 100*money.Unit))
	p := testPacer(t, rdb, keys, src, clk, Config{Instance: "i1"})
	ctx := context.Background()
	l := p.Ledger()
	// 10:00 UTC: the even plan is 10.00 of 24.00. Already 12.00 spent.
	if err := l.Restore(ctx, "even", "2026-11-02", 12*money.Unit, 12*money.Unit, t0); err != nil {
		t.Fatal(err)
	}
	p.Tick(ctx, t0)
	st, _ := p.State("even")
	if st.SpentToday != 12*money.Unit || st.PlannedToday != 10*money.Unit || st.Participation != 0.2 {
		t.Fatalf("even state %+v", st)
	}
	if st, _ := p.State("asap"); st.Participation != 1 || st.PlannedToday != 24*money.Unit {
		t.Fatalf("asap state %+v", st)
	}
	// Spend goes on at the full rate: the controller cuts participation.
	if err := l.Restore(ctx, "even", "2026-11-02", 13*money.Unit, 13*money.Unit, t0); err != nil {
		t.Fatal(err)
	}
	p.Tick(ctx, t0.Add(5*time.Second))
	st2, _ := p.State("even")
	if st2.Participation >= st.Participation {
		t.Fatalf("participation %g after overspending, was %g", st2.Participation, st.Participation)
	}
	c := src.get(t, "even")
	allowed := 0
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		if p.Allow(c, rnd.Uint64()) {
			allowed++
		}
	}
	if want := st2.Participation * 10000; math.Abs(float64(allowed)-want) > 0.1*want+50 {
		t.Fatalf("Allow let %d of 10000 through at participation %g", allowed, st2.Participation)
	}
}
