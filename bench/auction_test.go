package bench

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClear(t *testing.T) {
	f := func(mode AuctionMode, price, competing, floor float64, want Outcome) {
		t.Helper()
		got := AuctionConfig{Mode: mode}.Clear(price, competing, floor, LossBelowFloor)
		if got != want {
			t.Errorf("%v price %v vs %v floor %v: got %+v, want %+v", mode, price, competing, floor, got, want)
		}
	}
	won := func(clearing float64) Outcome { return Outcome{Won: true, Clearing: clearing} }
	lost := func(reason int) Outcome { return Outcome{LossReason: reason} }

	f(FirstPrice, 2.00, 1.50, 1.00, won(2.00))
	f(FirstPrice, 2.00, 0.10, 0, won(2.00))
	f(SecondPrice, 2.00, 1.50, 1.00, won(1.51))
	f(SecondPrice, 2.00, 0.50, 1.00, won(1.01))  // the floor sets the price
	f(SecondPrice, 1.505, 1.50, 0, won(1.505))   // never more than our bid
	f(SecondPrice, 2.00, 1.999999, 0, won(2.00)) // capped at our bid
	f(FirstPrice, 0.90, 0.10, 1.00, lost(LossBelowFloor))
	f(SecondPrice, 1.00, 1.20, 0.50, lost(LossHigherBid))
	f(FirstPrice, 1.50, 1.50, 0, lost(LossHigherBid)) // ties go to the competitor
	f(FirstPrice, 0, 0.10, 0, lost(LossMissingPrice))

	// The exchange floor applies on top of the imp floor; deals report their own reason.
	c := AuctionConfig{Mode: SecondPrice, Floor: 1.00}
	if got := c.Clear(0.80, 0.10, 0.50, LossBelowFloor); got.LossReason != LossBelowFloor {
		t.Errorf("exchange floor: %+v", got)
	}
	if got := c.Clear(1.80, 0.10, 2.00, LossBelowDealFloor); got.LossReason != LossBelowDealFloor {
		t.Errorf("deal floor: %+v", got)
	}
	if got := c.Clear(1.80, 0.10, 0.50, LossBelowFloor); got != won(1.01) {
		t.Errorf("second price at exchange floor: %+v", got)
	}
}

func TestCPMToMicros(t *testing.T) {
	f := func(cpm float64, want int64) {
		t.Helper()
		if got := CPMToMicros(cpm); got != want {
			t.Errorf("CPMToMicros(%v) = %d, want %d", cpm, got, want)
		}
	}
	f(1, 1000)
	f(2.5, 2500)
	f(1.51, 1510)
	f(0.0001, 0)
}

func TestDrawCompetingMatchesConfig(t *testing.T) {
	c := AuctionConfig{CompetitionMean: 2.0, CompetitionSpread: 0.5}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	sum, logSum, logSq := 0.0, 0.0, 0.0
	for range n {
		v := c.DrawCompeting(rng)
		sum += v
		logSum += math.Log(v)
		logSq += math.Log(v) * math.Log(v)
	}
	mean := sum / n
	sigma := math.Sqrt(logSq/n - (logSum/n)*(logSum/n))
	if math.Abs(mean-2.0) > 0.03 {
		t.Errorf("mean competing bid %v, want 2.0", mean)
	}
	if math.Abs(sigma-0.5) > 0.01 {
		t.Errorf("log spread %v, want 0.5", sigma)
	}
	// Seeded draws repeat.
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	if c.DrawCompeting(a) != c.DrawCompeting(b) {
		t.Error("same seed gave different draws")
	}
}

func TestParseAuctionMode(t *testing.T) {
	f := func(in string, want AuctionMode, wantErr bool) {
		t.Helper()
		got, err := ParseAuctionMode(in)
		if got != want || (err != nil) != wantErr {
			t.Errorf("ParseAuctionMode(%q) = %v, %v", in, got, err)
		}
		if err == nil && in != "" && got.String() != in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), in)
		}
	}
	f("first", FirstPrice, false)
	f("second", SecondPrice, false)
	f("none", AuctionNone, false)
	f("", AuctionNone, false)
	f("vickrey", AuctionNone, true)
}
