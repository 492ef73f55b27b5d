package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// AuctionMode is how the simulated exchange clears an auction.
type AuctionMode int

// Auction modes.
const (
	// AuctionNone runs no auction and fires no notices.
	AuctionNone AuctionMode = iota
	// FirstPrice charges the winner its own bid.
	FirstPrice
	// SecondPrice charges the winner the higher of the best competing bid and the
	// floor, plus the increment, never more than its own bid.
	SecondPrice
)

// String returns "none", "first" or "second".
func (m AuctionMode) String() string {
	switch m {
	case FirstPrice:
		return "first"
	case SecondPrice:
		return "second"
	}
	return "none"
}

// ParseAuctionMode parses "none", "first" or "second".
func ParseAuctionMode(s string) (AuctionMode, error) {
	switch s {
	case "", "none":
		return AuctionNone, nil
	case "first":
		return FirstPrice, nil
	case "second":
		return SecondPrice, nil
	}
	return AuctionNone, fmt.Errorf("auction mode %q: want none, first or second", s)
}

// OpenRTB loss reason codes (OpenRTB 2.6 §5.25) the simulator reports.
const (
	LossWon             = 0
	LossExpired         = 2 // impression opportunity expired: the answer came after tmax
	LossInvalidResponse = 3 // the bid names an imp the request did not have
	LossInvalidDeal     = 4
	LossMissingPrice    = 9
	LossBelowFloor      = 100
	LossBelowDealFloor  = 101
	LossHigherBid       = 102
)

// AuctionConfig configures the simulated competition. Zero values mean defaults.
type AuctionConfig struct {
	// Mode is the clearing rule.
	Mode AuctionMode
	// CompetitionMean is the mean CPM of the best competing bid; default 1.50.
	CompetitionMean float64
	// CompetitionSpread is the lognormal sigma of the best competing bid; default
	// 0.6. Larger means more very low and very high competing bids.
	CompetitionSpread float64
	// Floor is an exchange-wide reserve CPM applied on top of the imp's bidfloor.
	Floor float64
	// Increment is added to the second price; default 0.01.
	Increment float64
}

// Validate reports the first invalid setting.
func (c AuctionConfig) Validate() error {
	switch {
	case c.CompetitionMean < 0:
		return fmt.Errorf("auction: competition mean %v is negative", c.CompetitionMean)
	case c.CompetitionSpread < 0:
		return fmt.Errorf("auction: competition spread %v is negative", c.CompetitionSpread)
	case c.Floor < 0:
		return fmt.Errorf("auction: floor %v is negative", c.Floor)
	case c.Increment < 0:
		return fmt.Errorf("auction: increment %v is negative", c.Increment)
	}
	return nil
}

func (c AuctionConfig) withDefaults() AuctionConfig {
	if c.CompetitionMean == 0 {
		c.CompetitionMean = 1.50
	}
	if c.CompetitionSpread == 0 {
		c.CompetitionSpread = 0.6
	}
	if c.Increment == 0 {
		c.Increment = 0.01
	}
	return c
}

// DrawCompeting draws the best competing CPM from a lognormal distribution with
// mean CompetitionMean and sigma CompetitionSpread.
func (c AuctionConfig) DrawCompeting(rng *rand.Rand) float64 {
	c = c.withDefaults()
	s := c.CompetitionSpread
	mu := math.Log(c.CompetitionMean) - s*s/2
	return math.Exp(mu + s*rng.NormFloat64())
}

// Outcome is the result of one bid in one auction.
type Outcome struct {
	// Won reports whether the bid won.
	Won bool
	// Clearing is the CPM the winner pays, rounded to a millionth.
	Clearing float64
	// LossReason is the OpenRTB loss reason code; LossWon when Won.
	LossReason int
}

// Clear decides an auction between our bid price and the best competing bid
// under floor (the larger of the imp's or deal's floor and the exchange floor).
// belowReason is the loss reason when price is under the floor (LossBelowFloor,
// or LossBelowDealFloor for a deal). Ties go to the competitor.
func (c AuctionConfig) Clear(price, competing, floor float64, belowReason int) Outcome {
	c = c.withDefaults()
	floor = max(floor, c.Floor)
	switch {
	case price <= 0 || math.IsNaN(price):
		return Outcome{LossReason: LossMissingPrice}
	case price < floor:
		return Outcome{LossReason: belowReason}
	case competing >= price:
		return Outcome{LossReason: LossHigherBid}
	}
	clearing := price
	if c.Mode == SecondPrice {
		clearing = min(price, max(competing, floor)+c.Increment)
	}
	return Outcome{Won: true, Clearing: math.Round(clearing*1e6) / 1e6, LossReason: LossWon}
}

// CPMToMicros converts a clearing CPM into the cost of one impression in micros
// of the currency: a CPM of 1.00 is 1000 micros per impression.
func CPMToMicros(cpm float64) int64 {
	return int64(math.Round(cpm * 1000))
}
