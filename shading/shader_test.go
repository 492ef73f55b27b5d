package shading

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
)

func TestGrid(t *testing.T) {
	if gridPrice[0] != money.Unit/100 || gridPrice[numCells] != 100*money.Unit || gridPrice[cellsPerDecade] != money.Unit/10 {
		t.Fatalf("grid ends %v, %v; 0.10 at %v", gridPrice[0], gridPrice[numCells], gridPrice[cellsPerDecade])
	}
	for k := range numCells {
		if cellOf(gridPrice[k]) != k || cellOf(gridPrice[k+1]-1) != k || firstAtOrAbove(gridPrice[k]) != k {
			t.Fatalf("cell %d [%v, %v): cellOf gives %d, %d", k, gridPrice[k], gridPrice[k+1], cellOf(gridPrice[k]), cellOf(gridPrice[k+1]-1))
		}
	}
	f := func(x money.Micros, cell, near int) {
		t.Helper()
		if c, n := cellOf(x), nearest(x); c != cell || n != near {
			t.Errorf("price %v: cell %d, nearest %d; want %d, %d", x, c, n, cell, near)
		}
	}
	f(0, 0, 0)
	f(gridPrice[0], 0, 0)
	f(gridPrice[50], 50, 50)
	f(gridPrice[50]+1, 50, 50)
	f(gridPrice[51]-1, 50, 51)
	f(1000*money.Unit, numCells-1, numCells-1)
}

// TestEstimateRecoversCompetition: from bids spread over prices, with only
// wins and losses, or with the minimum bid to win on losses, the estimated
// P(C < g) follows the true lognormal distribution of the best competing bid.
func TestEstimateRecoversCompetition(t *testing.T) {
	const mu, sigma = 0.2, 0.5 // median 1.22 CPM
	cdf := func(x float64) float64 { return 0.5 * math.Erfc(-(math.Log(x)-mu)/(sigma*math.Sqrt2)) }
	for _, mbw := range []bool{false, true} {
		r := rand.New(rand.NewPCG(5, 6))
		s, _ := New(Config{}, pacing.NewManualClock(t0))
		k := Key{Campaign: "c", Phase: segments.PhaseIntent}
		for range 40_000 {
			c := math.Exp(mu + sigma*r.NormFloat64())
			bid := money.FromFloat(0.5 + 2.5*r.Float64())
			switch {
			case bid.Float() > c:
				s.Win(k, bid, bid)
			case mbw:
				s.Loss(k, bid, money.FromFloat(c), LossHigherBid)
			default:
				s.Loss(k, bid, 0, -1)
			}
		}
		s.Refresh()
		cv := s.snap.Load().curves[k]
		if cv == nil {
			t.Fatal("no curve after 40,000 outcomes")
		}
		worst := 0.0
		for kk := firstAtOrAbove(money.FromFloat(0.6)); gridPrice[kk] < money.FromFloat(2.9); kk++ {
			worst = max(worst, math.Abs(float64(cv.win[kk])-cdf(gridPrice[kk].Float())))
		}
		t.Logf("minimum bid to win reported: %v; largest error of P(win) between 0.60 and 2.90 CPM: %.4f", mbw, worst)
		if worst > 0.025 {
			t.Errorf("minimum bid to win %v: P(win) off by %.3f", mbw, worst)
		}
		if cv.lo > cellOf(money.FromFloat(0.6)) {
			t.Errorf("lowest supported price %v, bids went down to 0.50", gridPrice[cv.lo])
		}
	}
}

// trainedShader returns a Shader that learnt a market where the best
// competing bid is 1.00 to 2.00 CPM, uniformly, from bids between 0.50 and 3.00.
func trainedShader(t testing.TB, cfg Config) (*Shader, Key) {
	s, err := New(cfg, pacing.NewManualClock(t0))
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Campaign: "c", Phase: segments.PhaseIntent, Publisher: "news.example"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		c := 1 + r.Float64()
		bid := money.FromFloat(0.5 + 2.5*r.Float64())
		if bid.Float() > c {
			s.Win(k, bid, bid)
		} else {
			s.Loss(k, bid, money.FromFloat(c), LossHigherBid)
		}
	}
	s.Refresh()
	return s, k
}

// TestPriceGuardRails: never above the value, never below the floor, the
// value itself for second-price auctions, thin data or a value at or under
// the floor; with data, the highest expected surplus that keeps 90% of the
// wins.
func TestPriceGuardRails(t *testing.T) {
	s, k := trainedShader(t, Config{Explore: -1})
	v := 3 * money.Unit
	f := func(name string, got, want money.Micros) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	f("second price", s.Price(k, v, 0, false, 0), v)
	f("value under the floor", s.Price(k, v, v+1, true, 0), v)
	f("value at the floor", s.Price(k, v, v, true, 0), v)
	f("no data", s.Price(Key{Campaign: "other"}, v, 0, true, 0), v)
	f("thin publisher, thin campaign", s.Price(Key{Campaign: "c", Phase: segments.PhaseAwareness, Publisher: "x"}, v, 0, true, 0), v)

	// C is uniform on [1, 2]: with a value of 3.00 the surplus (3 − p)(p − 1)
	// peaks at 2.00, where every auction is won. A value of 1.50 wins half;
	// keeping 90% of that needs P(win) ≥ 0.45, p ≥ 1.45, where the surplus
	// (1.5 − p)(p − 1) still rises: the guard decides.
	p := s.Price(k, v, 0, true, 0)
	if p < money.FromFloat(1.85) || p > money.FromFloat(2.15) {
		t.Errorf("value 3.00: price %v, want about 2.00", p)
	}
	p = s.Price(k, money.FromFloat(1.5), 0, true, 0)
	if p < money.FromFloat(1.40) || p >= money.FromFloat(1.5) {
		t.Errorf("value 1.50: price %v, want the lowest price keeping 90%% of the wins, about 1.45", p)
	}
	f("floor above the best price", s.Price(k, v, money.FromFloat(2.5), true, 0), money.FromFloat(2.5))
	f("an unknown publisher uses the campaign's curve", s.Price(Key{Campaign: "c", Phase: segments.PhaseIntent, Publisher: "new.example"}, v, 0, true, 0),
		s.Price(k, v, 0, true, 0))

	pure, _ := trainedShader(t, Config{Explore: -1, MaxWinLoss: 1})
	p = pure.Price(k, money.FromFloat(1.5), 0, true, 0)
	if p < money.FromFloat(1.2) || p > money.FromFloat(1.3) {
		t.Errorf("pure surplus, value 1.50: price %v, want about 1.25", p)
	}

	// Exploring never leaves [floor, value].
	ex, _ := trainedShader(t, Config{Explore: 0.5, Dither: 0.5})
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		floor := money.Micros(r.Int64N(int64(v)))
		for _, key := range []Key{k, {Campaign: "thin"}} {
			if p := ex.Price(key, v, floor, true, r.Uint64()); p > v || p < floor {
				t.Fatalf("%v: price %v outside [%v, %v]", key, p, floor, v)
			}
		}
	}
}

// TestLossesWithoutPriceInformation: losses for reasons other than a higher
// bid (floor, expiry, creative) do not count.
func TestLossesWithoutPriceInformation(t *testing.T) {
	s, _ := New(Config{MinObservations: 1}, pacing.NewManualClock(t0))
	k := Key{Campaign: "c"}
	for _, reason := range []int{0, 2, 100, 101, 200, 1001} {
		s.Loss(k, money.Unit, 0, reason)
	}
	s.Refresh()
	if n := len(s.snap.Load().curves); n != 0 {
		t.Errorf("%d curves from losses that say nothing about the competition", n)
	}
	s.Loss(k, money.Unit, 0, LossHigherBid)
	s.Refresh()
	if n := len(s.snap.Load().curves); n != 1 {
		t.Errorf("%d curves after a loss to a higher bid", n)
	}
}

// TestKeysBoundedAndFade: past MaxKeys publishers only the pooled curve
// learns, and tallies that faded are dropped.
func TestKeysBoundedAndFade(t *testing.T) {
	clock := pacing.NewManualClock(t0)
	s, _ := New(Config{MaxKeys: 3, MinObservations: 1, HalfLife: 1}, clock)
	for _, pub := range []string{"a", "b", "c", "d", "e"} {
		s.Win(Key{Campaign: "c", Publisher: pub}, money.Unit, money.Unit)
	}
	s.Refresh()
	if n := len(s.snap.Load().curves); n != 4 || s.keys.Load() != 3 {
		t.Errorf("%d curves, %d publisher keys; want 3 publishers and the pooled curve", n, s.keys.Load())
	}
	clock.Advance(10) // ten half-lives
	s.Refresh()
	if n := len(s.snap.Load().curves); n != 0 || s.keys.Load() != 0 {
		t.Errorf("after ten half-lives: %d curves, %d publisher keys", n, s.keys.Load())
	}
}
