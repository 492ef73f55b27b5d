package holdout

import "math"

// z95 is the standard normal quantile of a two-sided 95% interval.
const z95 = 1.959963984540054

// Counts are the totals of one campaign's study, by group.
type Counts struct {
	// Exposed and Ghost are the bid-for and the held-out group.
	Exposed, Ghost GroupCounts
}

// GroupCounts are one group's totals.
type GroupCounts struct {
	// Users entered the study in this group; Converters of them purchased
	// within the window.
	Users, Converters int64
	// Bids counts the group's eligible bids (ghost bids for the held-out
	// group) and BidCPM sums their prices (CPM, micros).
	Bids, BidCPM int64
}

// Lift is the lift report of one campaign.
type Lift struct {
	// Exposed and Ghost describe the two groups.
	Exposed GroupStats `json:"exposed"`
	Ghost   GroupStats `json:"ghost"`
	// AbsoluteLift is the exposed minus the held-out conversion rate, with its
	// 95% interval (Newcombe's hybrid score interval).
	AbsoluteLift Interval `json:"absolute_lift"`
	// RelativeLift is the exposed over the held-out conversion rate, minus 1,
	// with its 95% interval (MOVER-R); nil while the exposed group is empty or
	// the held-out group has no conversion.
	RelativeLift *Interval `json:"relative_lift"`
	// Method names the interval methods.
	Method string `json:"method"`
}

// GroupStats is one group of a lift report.
type GroupStats struct {
	Users      int64 `json:"users"`
	Converters int64 `json:"converters"`
	// ConversionRate is converters per user, with its 95% Wilson interval.
	ConversionRate Interval `json:"conversion_rate"`
	// Bids are the group's eligible bids (ghost bids for the held-out group)
	// and AvgBidCPM their average price in currency units.
	Bids      int64   `json:"bids"`
	AvgBidCPM float64 `json:"avg_bid_cpm"`
}

// Interval is an estimate with its 95% confidence interval.
type Interval struct {
	Value float64 `json:"value"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// Method describes the intervals of a Lift.
const Method = "95% intervals: Wilson score per group; Newcombe hybrid score (MOVER) for the difference; " +
	"MOVER-R (Donner & Zou 2012) from the Wilson limits for the ratio"

// Compute returns the lift report of c.
func Compute(c Counts) Lift {
	e, g := group(c.Exposed), group(c.Ghost)
	l := Lift{Exposed: e, Ghost: g, Method: Method}
	p1, l1, u1 := e.ConversionRate.Value, e.ConversionRate.Low, e.ConversionRate.High
	p2, l2, u2 := g.ConversionRate.Value, g.ConversionRate.Low, g.ConversionRate.High
	d := p1 - p2
	l.AbsoluteLift = Interval{Value: d,
		Low:  d - math.Hypot(p1-l1, u2-p2),
		High: d + math.Hypot(u1-p1, p2-l2)}
	if p2 > 0 && e.Users > 0 {
		lo, hi := moverRatio(p1, l1, u1, p2, l2, u2)
		l.RelativeLift = &Interval{Value: p1/p2 - 1, Low: lo - 1, High: hi - 1}
	}
	return l
}

func group(c GroupCounts) GroupStats {
	s := GroupStats{Users: c.Users, Converters: min(c.Converters, c.Users), Bids: c.Bids}
	s.ConversionRate = wilson(s.Converters, s.Users)
	if c.Bids > 0 {
		s.AvgBidCPM = float64(c.BidCPM) / float64(c.Bids) / 1e6
	}
	return s
}

// wilson returns the rate x/n with its Wilson score interval ([0, 1] for n = 0).
func wilson(x, n int64) Interval {
	if n <= 0 {
		return Interval{Low: 0, High: 1}
	}
	p, nf := float64(x)/float64(n), float64(n)
	z2 := z95 * z95
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return Interval{Value: p, Low: max(0, center-half), High: min(1, center+half)}
}

// moverRatio returns the interval of p1/p2 from the two rates' intervals
// (Donner & Zou's MOVER-R: the limits solve θ1 − r·θ2 = 0 at the MOVER
// limits of the difference). The roots are written in their rationalised
// form, which stays finite when a denominator of the textbook form vanishes.
func moverRatio(p1, l1, u1, p2, l2, u2 float64) (lo, hi float64) {
	b := p1 * p2
	c := l1 * (2*p1 - l1)
	a := u2 * (2*p2 - u2)
	if den := b + math.Sqrt(max(0, b*b-a*c)); den > 0 {
		lo = max(0, c/den)
	}
	a = l2 * (2*p2 - l2) // > 0: l2 > 0 once the held-out group has a conversion
	c = u1 * (2*p1 - u1)
	hi = (b + math.Sqrt(max(0, b*b-a*c))) / a
	return lo, hi
}
