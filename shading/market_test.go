package shading

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kairos-rtb/kairos/bench"
	"github.com/kairos-rtb/kairos/money"
	"github.com/kairos-rtb/kairos/pacing"
	"github.com/kairos-rtb/kairos/segments"
)

// publisher is one simulated seller: its competition (the bench exchange's
// lognormal best competing bid), its floor, and whether its loss notices
// carry the minimum bid to win.
type publisher struct {
	name    string
	auction bench.AuctionConfig
	floor   float64
	mbw     bool
}

// market is a first-price exchange with several publishers, and a campaign
// whose value (unshaded price) depends on the user's phase.
type market struct {
	pubs   []publisher
	values map[segments.Phase]float64
}

func defaultMarket() market {
	fp := func(mean, spread float64) bench.AuctionConfig {
		return bench.AuctionConfig{Mode: bench.FirstPrice, CompetitionMean: mean, CompetitionSpread: spread}
	}
	return market{
		pubs: []publisher{
			{"news.example", fp(1.5, 0.6), 0.50, true},
			{"sport.example", fp(1.1, 0.4), 0.30, false},
			{"weather.example", fp(0.8, 0.5), 0.20, true},
			{"video.example", fp(2.4, 0.5), 1.00, false},
			{"blog.example", fp(1.3, 0.7), 0.25, true},
			{"shop.example", fp(1.9, 0.45), 0.60, false},
		},
		values: map[segments.Phase]float64{
			segments.PhaseAwareness:     2.40,
			segments.PhaseConsideration: 3.20,
			segments.PhaseIntent:        4.50,
		},
	}
}

// result is what one bidder won and paid.
type result struct {
	wins  int
	spent float64 // CPM sum: price paid per won impression × wins
}

func (r result) avg() float64 { return r.spent / float64(r.wins) }

// run clears n auctions twice against the same competing bids: once bid
// unshaded, once shaded by s, which learns from its outcomes as the notice
// handlers will feed it. It refreshes s every 1,000 auctions (the background
// loop's 10 seconds at 100 auctions a second). The second return is the last
// quarter's shaded result, the first the whole run's.
func (m market) run(s *Shader, clock *pacing.ManualClock, seed uint64, n int) (unshaded, shaded, lastShaded, lastUnshaded result) {
	world := rand.New(rand.NewPCG(seed, 1))
	draws := rand.New(rand.NewPCG(seed, 2))
	phases := []segments.Phase{segments.PhaseAwareness, segments.PhaseConsideration, segments.PhaseIntent}
	for i := range n {
		if i%1000 == 0 {
			clock.Advance(10 * time.Second)
			s.Refresh()
		}
		pub := &m.pubs[world.IntN(len(m.pubs))]
		ph := phases[world.IntN(len(phases))]
		value := m.values[ph]
		competing := pub.auction.DrawCompeting(world)
		last := i >= n*3/4

		if o := pub.auction.Clear(value, competing, pub.floor, bench.LossBelowFloor); o.Won {
			unshaded.wins++
			unshaded.spent += o.Clearing
			if last {
				lastUnshaded.wins++
				lastUnshaded.spent += o.Clearing
			}
		}

		k := Key{Campaign: "trail-runner", Phase: ph, Publisher: pub.name}
		price := s.Price(k, money.FromFloat(value), money.FromFloat(pub.floor), true, draws.Uint64())
		o := pub.auction.Clear(price.Float(), competing, pub.floor, bench.LossBelowFloor)
		if o.Won {
			shaded.wins++
			shaded.spent += o.Clearing
			if last {
				lastShaded.wins++
				lastShaded.spent += o.Clearing
			}
			s.Win(k, price, money.FromFloat(o.Clearing))
			continue
		}
		var mbw money.Micros
		if o.LossReason == bench.LossHigherBid && pub.mbw {
			mbw = money.FromFloat(math.Round(competing*100) / 100) // as the bench exchange reports it
		}
		s.Loss(k, price, mbw, o.LossReason)
	}
	return unshaded, shaded, lastShaded, lastUnshaded
}

// TestShadingInFirstPriceMarket is the check: in a simulated
// first-price market, shading lowers the average price paid per won
// impression by at least 20% while winning at least 90% as many impressions
// as unshaded bidding, over the whole run, learning from no data included.
func TestShadingInFirstPriceMarket(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		clock := pacing.NewManualClock(t0)
		s, err := New(Config{}, clock)
		if err != nil {
			t.Fatal(err)
		}
		un, sh, lastSh, lastUn := defaultMarket().run(s, clock, seed, 150_000)
		saving := 1 - sh.avg()/un.avg()
		wins := float64(sh.wins) / float64(un.wins)
		t.Logf("seed %d: unshaded %d wins at %.3f CPM; shaded %d wins (%.1f%%) at %.3f CPM (%.1f%% less); last quarter: %.1f%% of the wins at %.1f%% less",
			seed, un.wins, un.avg(), sh.wins, 100*wins, sh.avg(), 100*saving,
			100*float64(lastSh.wins)/float64(lastUn.wins), 100*(1-lastSh.avg()/lastUn.avg()))
		if saving < 0.20 {
			t.Errorf("seed %d: shading saved %.1f%% per won impression, want at least 20%%", seed, 100*saving)
		}
		if wins < 0.90 {
			t.Errorf("seed %d: shading won %.1f%% of the unshaded wins, want at least 90%%", seed, 100*wins)
		}
	}
}
