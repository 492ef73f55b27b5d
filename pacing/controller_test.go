package pacing

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/money"
)

// simulateDay drives the controller through one day of 5-second ticks (the
// default interval). traffic
// gives the relative request rate at an hour of the day; at full participation
// the campaign could spend potential × the daily budget over the day. It
// returns the spend per hour and the final participation rates.
func simulateDay(t *testing.T, mode string, traffic func(hour int) float64, potential float64, learn bool) (hourly [24]float64, plan [24]float64) {
	t.Helper()
	const budget = 1_000_000.0
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	start, end := day.UnixMilli(), day.AddDate(0, 0, 1).UnixMilli()
	tick := 5 * time.Second
	curve := newTrafficCurve()
	var total float64
	for h := 0; h < 24; h++ {
		total += traffic(h)
	}
	if learn {
		// Learn the curve from a day of observed requests (100 per unit of traffic per bin).
		prev := day.AddDate(0, 0, -1)
		curve.fold(prev)
		for b := 0; b < curveBins; b++ {
			at := prev.Add(time.Duration(b) * curveBinSec * time.Second)
			for i := 0; i < int(100*traffic(at.Hour())); i++ {
				curve.observe(at)
			}
			curve.fold(at.Add(time.Second))
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var s ctlState
	spent := 0.0
	for now := day; now.Before(day.AddDate(0, 0, 1)); now = now.Add(tick) {
		snap := curve.fold(now)
		ms := now.UnixMilli()
		p := s.step(mode, budget, spent, snap.share(start, ms, end), snap.share(start, ms+tick.Milliseconds(), end),
			"2026-11-02", 0.01, 0.1)
		// Spend in the interval follows traffic and participation, ±10% noise.
		h := now.Hour()
		potTick := potential * budget * traffic(h) / total / 720
		x := min(potTick*p*(0.9+0.2*rnd.Float64()), budget-spent)
		spent += x
		hourly[h] += x
	}
	var cum float64
	for h := 0; h < 24; h++ {
		f0 := cum / total
		cum += traffic(h)
		plan[h] = budget * (target(mode, cum/total) - target(mode, f0))
	}
	return hourly, plan
}

func within(t *testing.T, name string, hourly, plan [24]float64, from, to int, tol float64) {
	t.Helper()
	for h := from; h < to; h++ {
		if math.Abs(hourly[h]-plan[h]) > tol*plan[h] {
			t.Errorf("%s: hour %d spent %.0f, plan %.0f (±%.0f%%)", name, h, hourly[h], plan[h], tol*100)
		}
	}
}

func TestControllerEvenUniform(t *testing.T) {
	uniform := func(int) float64 { return 1 }
	for _, pot := range []float64{1.5, 4, 20} {
		hourly, plan := simulateDay(t, "even", uniform, pot, false)
		within(t, "even", hourly, plan, 0, 24, 0.10)
	}
}

func TestControllerEvenFollowsLearnedTraffic(t *testing.T) {
	// Three times the traffic by day as by night.
	curve := func(h int) float64 {
		if h >= 8 && h < 20 {
			return 3
		}
		return 1
	}
	hourly, plan := simulateDay(t, "even", curve, 4, true)
	within(t, "even/learned", hourly, plan, 0, 24, 0.10)
	// Without the learned curve even pacing spends evenly by the clock and
	// misses the traffic plan, which is what the curve is for.
	hourly, _ = simulateDay(t, "even", curve, 4, false)
	if math.Abs(hourly[12]-plan[12]) < 0.2*plan[12] {
		t.Fatalf("clock-even spend at noon %.0f matches the traffic plan %.0f", hourly[12], plan[12])
	}
}

func TestControllerAhead(t *testing.T) {
	hourly, plan := simulateDay(t, "ahead", func(int) float64 { return 1 }, 4, false)
	within(t, "ahead", hourly, plan, 0, 16, 0.10)
	var first16, rest float64
	for h := 0; h < 24; h++ {
		if h < 16 {
			first16 += hourly[h]
		} else {
			rest += hourly[h]
		}
	}
	if first16 < 0.95e6 || rest > 0.05e6 {
		t.Fatalf("ahead: %.0f in the first 16 hours, %.0f after", first16, rest)
	}
}

func TestControllerAsap(t *testing.T) {
	var s ctlState
	for i := 0; i < 3; i++ {
		if p := s.step("asap", 100, float64(i*40), 0.1, 0.2, "d", 0.01, 0.1); p != 1 {
			t.Fatalf("asap participation %g", p)
		}
	}
}

func TestControllerBounds(t *testing.T) {
	f := func(name string, s ctlState, spent, fNow, fNext, want float64) {
		t.Helper()
		if got := s.step("even", 100, spent, fNow, fNext, "d", 0.01, 0.1); math.Abs(got-want) > 1e-9 {
			t.Fatalf("%s: participation %g, want %g", name, got, want)
		}
	}
	f("first tick starts at the initial rate and may double", ctlState{}, 0, 0, 0.01, 0.2)
	f("budget spent: minimum", ctlState{day: "d", p: 0.5}, 100, 0.5, 0.51, 0.01)
	f("at most doubling", ctlState{day: "d", p: 0.2, pot: 1, lastF: 0.4, lastSpent: 40}, 40, 0.5, 0.51, 0.4)
	f("at most quartering", ctlState{day: "d", p: 0.8, pot: 1e9, lastF: 0.49, lastSpent: 40}, 40, 0.5, 0.51, 0.2)
	f("never above 1", ctlState{day: "d", p: 0.9, pot: 1, lastF: 0.49, lastSpent: 40}, 40, 0.5, 0.51, 1)
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
	// A learned curve: all of a day's traffic in one UTC hour.
	c = newTrafficCurve()
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
