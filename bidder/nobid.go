package bidder

// Reason says why a request got no bid. A no-bid is a result, not an error:
// each reason is counted and, when the request asks with the debug header,
// returned in the X-Kairos-Nobid-Reason response header.
type Reason uint8

// The no-bid reasons, in increasing order of how far the request got; when the
// impressions of one request fail for different reasons the furthest one is
// reported.
const (
	ReasonNone Reason = iota
	// ReasonNoImps: no impression had a format Kairos can serve.
	ReasonNoImps
	// ReasonSeat: wseat/bseat exclude Kairos's seat.
	ReasonSeat
	// ReasonInvalidTraffic: the traffic-quality screen refused the request
	// (blocked IP or user agent, missing IP or UA, blocked site, app or
	// publisher); the screen counts the detailed reason.
	ReasonInvalidTraffic
	// ReasonCurrency: no currency of the request or floor is known.
	ReasonCurrency
	// ReasonNoCampaign: no campaign's format, size, country, device, phase or
	// deal targeting matched.
	ReasonNoCampaign
	// ReasonTargeting: campaigns matched the index but flight, domain,
	// category, exchange or advertiser rules excluded them.
	ReasonTargeting
	// ReasonConsent: regulation or consent allows no bid at all, or every
	// matching campaign requires personal data that may not be used.
	ReasonConsent
	// ReasonSupplyChain: the matching campaigns require a complete or
	// allow-listed supply chain the request lacks.
	ReasonSupplyChain
	// ReasonCreative: no creative fits the impression (secure, attributes,
	// native assets, video constraints) or the user bought the product.
	ReasonCreative
	// ReasonFrequency: the user reached the campaigns' frequency caps.
	ReasonFrequency
	// ReasonPacing: pacing or budget held the campaigns back.
	ReasonPacing
	// ReasonFloor: every price was below the floor.
	ReasonFloor
	// ReasonHoldout: the user is in the holdout group of every campaign that
	// would have bid; the ghost bids are recorded for the lift report.
	ReasonHoldout
	// ReasonDeadline: the deadline passed before the answer was ready.
	ReasonDeadline
	// ReasonOverload: Kairos was answering more requests than it could decide
	// in time and shed this one before reading it (see ShedConfig).
	ReasonOverload
	numReasons
)

var reasonNames = [numReasons]string{"none", "no_imps", "seat", "invalid_traffic", "currency",
	"no_campaign", "targeting", "consent", "supply_chain", "creative", "frequency_cap", "pacing", "below_floor", "holdout", "deadline", "overload"}

// String returns the reason's name as used in metrics and the debug header.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason name, for reports and dashboards.
func Reasons() []string { return reasonNames[1:] }
