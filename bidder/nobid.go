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
	// ReasonCurrency: no currency of the request or floor is known.
	ReasonCurrency
	// ReasonNoCampaign: no campaign's format, size, country, device, phase or
	// deal targeting matched.
	ReasonNoCampaign
	// ReasonTargeting: campaigns matched the index but flight, domain,
	// category, exchange or advertiser rules excluded them.
	ReasonTargeting
	// ReasonCreative: no creative fits the impression (secure, attributes,
	// native assets, video constraints) or the user bought the product.
	ReasonCreative
	// ReasonFrequency: the user reached the campaigns' frequency caps.
	ReasonFrequency
	// ReasonPacing: pacing or budget held the campaigns back.
	ReasonPacing
	// ReasonFloor: every price was below the floor.
	ReasonFloor
	// ReasonDeadline: the deadline passed before the answer was ready.
	ReasonDeadline
	numReasons
)

var reasonNames = [numReasons]string{"none", "no_imps", "seat", "currency", "no_campaign",
	"targeting", "creative", "frequency_cap", "pacing", "below_floor", "deadline"}

// String returns the reason's name as used in metrics and the debug header.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason name, for reports and dashboards.
func Reasons() []string { return reasonNames[1:] }
