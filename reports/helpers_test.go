package reports

import (
	"math"
	"math/rand/v2"
	"time"
	"unsafe"

	"github.com/kairos-rtb/kairos/money"
)

// auction is one simulated bid request and what the exchange made of it.
type auction struct {
	req      Dims // campaign empty
	bid      Dims // with campaign and variant
	noBid    string
	price    money.Micros
	win      bool
	clearing money.Micros
	loss     int
	billed   bool
	clicked  bool
}

// tally is what the simulated exchange sent and awarded.
type tally struct {
	requests, noBids, bids, wins, losses, imps, clicks int64
	clearCPM                                           int64 // Σ clearing CPM
	spend                                              money.Micros
}

func (t *tally) add(a *auction) {
	t.addRequest(a)
	t.addBid(a)
}

// addRequest counts what is filed without a campaign: the request, a no-bid.
func (t *tally) addRequest(a *auction) {
	t.requests++
	if a.noBid != "" {
		t.noBids++
	}
}

// addBid counts what is filed under the campaign: the bid and its notices.
func (t *tally) addBid(a *auction) {
	if a.noBid != "" {
		return
	}
	t.bids++
	if a.win {
		t.wins++
		t.clearCPM += int64(a.clearing)
		t.spend += money.CPMToImpression(a.clearing)
		if a.billed {
			t.imps++
		}
		if a.clicked {
			t.clicks++
		}
	} else {
		t.losses++
	}
}

var (
	simCampaigns  = []string{"trail-runner-autumn", "city-bike-winter", "acme-loyalty"}
	simExchanges  = []string{"openx/1001", "magnite/kairos", "pubmatic/77"}
	simPublishers = []string{"news.example", "sport.example", "com.example.game", "weather.example"}
	simCountries  = []string{"DEU", "AUT", "CHE"}
	simReasons    = []string{"no_campaign", "below_floor", "frequency_cap", "pacing", "targeting", "deadline"}
)

// simulate makes n auctions over the hours [h0, h0+hours) with a daily
// traffic curve; prices are whole cents, so spend × 1000 equals the sum of the
// clearing CPMs exactly. Win rate rises with price and with the phase.
func simulate(seed uint64, n int, h0 int64, hours int) []auction {
	rng := rand.New(rand.NewPCG(seed, 42))
	out := make([]auction, 0, n)
	for len(out) < n {
		h := h0 + int64(rng.IntN(hours))
		// Fewer requests at night (UTC hours 0-6).
		hod := float64(HourTime(h).Hour())
		if rng.Float64() > 0.35+0.65*math.Pow(math.Sin(math.Pi*hod/24), 2) {
			continue
		}
		a := auction{req: Dims{
			Exchange:  simExchanges[rng.IntN(len(simExchanges))],
			Publisher: simPublishers[rng.IntN(len(simPublishers))],
			Country:   simCountries[rng.IntN(len(simCountries))],
			Phase:     uint8(rng.IntN(5)),
			Device:    uint8(1 + rng.IntN(3)),
			Format:    uint8(1 + rng.IntN(3)),
			Hour:      h,
		}}
		if rng.Float64() < 0.55 {
			// Weighted towards the first reasons.
			a.noBid = simReasons[min(rng.IntN(len(simReasons)), rng.IntN(len(simReasons)))]
			out = append(out, a)
			continue
		}
		a.bid = a.req
		ci := rng.IntN(len(simCampaigns))
		a.bid.Campaign = simCampaigns[ci]
		a.bid.Variant = a.bid.Campaign[:4] + "-v" + string(rune('1'+rng.IntN(3)))
		mult := [...]float64{0.5, 0.6, 1.0, 1.8, 0.4}[a.bid.Phase]
		cents := int64(math.Max(10, (1.2+float64(ci)*0.8+rng.NormFloat64()*0.7)*mult*100))
		a.price = money.Micros(cents * 10_000)
		pWin := 1 - math.Exp(-float64(cents)/300)
		if rng.Float64() < pWin {
			a.win = true
			a.clearing = money.Micros(int64(float64(cents)*(0.55+0.4*rng.Float64())) * 10_000)
			a.billed = rng.Float64() < 0.97
			a.clicked = rng.Float64() < 0.04
		} else {
			a.loss = [...]int{102, 102, 102, 100, 1001}[rng.IntN(5)]
		}
		out = append(out, a)
	}
	return out
}

// count feeds one auction to counters: the request and bid to bidder, the
// notices to noticer (notices may reach any instance).
func count(bidder, noticer *Counter, a *auction) {
	bidder.Request(&a.req)
	if a.noBid != "" {
		bidder.NoBid(&a.req, a.noBid)
		return
	}
	bidder.Bid(&a.bid, a.price)
	if a.win {
		noticer.Win(&a.bid, a.price, a.clearing, false)
		if a.billed {
			noticer.Impression(&a.bid)
		}
		if a.clicked {
			noticer.Click(&a.bid)
		}
	} else {
		noticer.Loss(&a.bid, a.loss)
	}
}

// hourOf returns the unix hour of t.
func hourOf(t time.Time) int64 { return floorDiv(t.Unix(), 3600) }

// fixedClock always reads t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// unsafeString aliases b, as the bidder's strings alias the request body.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
